"""The git side of a release: read-only checks (``repository``), and the commit, tag and push
actions (``actions``).

Local reads and writes go through GitPython's ``repo.git`` (the git command
line, so hooks, config and identity behave exactly as for the maintainer).
Every call that can touch the network (fetch, ls-remote, push) goes through
the process layer instead, which always has a timeout and never prompts.
"""

from releaselib.infra.git.actions import CommitAction, PushAction, TagAction
from releaselib.infra.git.repository import (
    DEFAULT_TIMEOUT,
    SHORT_SHA,
    NetworkResult,
    RepoLike,
    check_branch,
    check_clean,
    check_in_sync,
    check_tag_free,
    commit_of,
    commit_with_message,
    current_branch,
    head_commit,
    network_env,
    open_repo,
    remote_branch_commit,
    remote_tag_commit,
    remote_tag_object,
    remote_url,
    short,
    tag_message,
    user_identity,
)

__all__ = [
    "CommitAction",
    "DEFAULT_TIMEOUT",
    "NetworkResult",
    "PushAction",
    "RepoLike",
    "SHORT_SHA",
    "TagAction",
    "check_branch",
    "check_clean",
    "check_in_sync",
    "check_tag_free",
    "commit_of",
    "commit_with_message",
    "current_branch",
    "head_commit",
    "network_env",
    "open_repo",
    "remote_branch_commit",
    "remote_tag_commit",
    "remote_tag_object",
    "remote_url",
    "short",
    "tag_message",
    "user_identity",
]
