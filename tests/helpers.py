"""Shared helpers for tests: git snapshots and named outcomes."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from releaselib.local.sandbox import THROWAWAY_GIT_CONFIG

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Someone Else",
    "GIT_AUTHOR_EMAIL": "someone@example.org",
    "GIT_COMMITTER_NAME": "Someone Else",
    "GIT_COMMITTER_EMAIL": "someone@example.org",
    # The tests' repositories are thrown away, as releaselib's sandboxes are: the same settings (about
    # 500 fewer `git maintenance run --auto` processes a run), as git's GIT_CONFIG_* variables.
    "GIT_CONFIG_COUNT": str(len(THROWAWAY_GIT_CONFIG)),
    **{f"GIT_CONFIG_{part}_{index}": text for index, item in enumerate(THROWAWAY_GIT_CONFIG.items())
       for part, text in zip(("KEY", "VALUE"), item)},
}


def git(cwd: Path, *args: str, identity: bool = True) -> str:
    """Run git in ``cwd`` and return its stripped stdout; fail the test on error.

    With ``identity=False`` commits take the repository's own ``user.name`` and ``user.email``
    (for tests of how releaselib reads them).
    """
    env = GIT_ENV if identity else {k: v for k, v in GIT_ENV.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout.strip()


def tree_digest(root: Path) -> str:
    """A digest of every file under ``root`` (names and bytes), .git's objects and refs included."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        # git rewrites these on read-only commands (fetch timestamps, index stat cache).
        if rel in {".git/FETCH_HEAD", ".git/index"} or rel.startswith(".git/logs/"):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def repo_state(repo: Path, origin: Path) -> dict[str, str]:
    """Everything a failed or dry run must leave unchanged: files, refs, HEAD, index, both sides."""
    return {
        "worktree": tree_digest(repo),
        "status": git(repo, "status", "--porcelain", "--ignored"),
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "symbolic-ref", "-q", "HEAD") if _attached(repo) else "detached",
        "origin": tree_digest(origin),
        "origin_refs": git(origin, "for-each-ref", "--format=%(refname) %(objectname)"),
    }


def _attached(repo: Path) -> bool:
    return subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, env=GIT_ENV,
                          capture_output=True).returncode == 0


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def with_accepted_draft(args: list[str]) -> list[str]:
    """``run`` arguments plus ``-p accept_draft=true`` when the run includes the changelog phase.

    The sample's changelog has no section for the release, so 02_changelog
    drafts one from the git log; a headless run stops at an unread draft
    unless told to accept it.
    """
    if "--phases" in args:
        phases = args[args.index("--phases") + 1].split(",")
        if not {"changelog", "02_changelog", "2", "02"} & set(phases):
            return list(args)
    return [*args, "-p", "accept_draft=true"]


#: The Pythons of a release whose test is about something else than the breadth of the
#: matrix (resuming, faults, gates): two, so "one wheel per Python" still means several.
#: The full release (test_release_full's ``released``) and `make demo` keep all five.
FEW_PYTHONS = ("3.11", "3.12")

