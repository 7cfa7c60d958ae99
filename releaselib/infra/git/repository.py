"""The git side of a release: read-only checks, and the commit, tag and push actions.

Local reads and writes go through GitPython's ``repo.git`` (the git command
line, so hooks, config and identity behave exactly as for the maintainer).
Every call that can touch the network (fetch, ls-remote, push) goes through
:func:`_run_network` instead, which always has a timeout and never prompts;
see there for why that does not use GitPython.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union, cast

from releaselib.core.errors import GitError, RepoStateError
from releaselib.infra import processes

if TYPE_CHECKING:
    import git as gitpython
    from git.exc import GitCommandError

# GitPython is imported where a repository is opened, not with this module: commands that
# only read a record (verify, review) reach this module and never open a repository.

#: A repository as callers hold it: a path (the usual case) or an open GitPython repo.
RepoLike = Union[str, "os.PathLike[str]", "gitpython.Repo"]

#: Seconds a network call may take when the caller does not say.
DEFAULT_TIMEOUT = 60.0

#: How many paths a "not clean" message lists before saying "and N more".
_MAX_LISTED_PATHS = 10

SHORT_SHA = 7


# --------------------------------------------------------------------------
# opening and small reads


def open_repo(path: str | os.PathLike[str]) -> gitpython.Repo:
    """Open the git repository whose top level is ``path``.

    Raises :class:`RepoStateError` (a :class:`ReleaseError`) when ``path`` does
    not exist or is not a git repository.
    """
    import git as gitpython
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    try:
        return gitpython.Repo(Path(path))
    except NoSuchPathError as exc:
        raise RepoStateError(
            f"The repository folder {path} does not exist.",
            hint="Pass the project's folder with `--repo PATH` (or `repo=` in the notebook).",
        ) from exc
    except InvalidGitRepositoryError as exc:
        raise RepoStateError(
            f"{path} is not a git repository.",
            hint="Run `git init` there (and commit the project), or pass the right folder with `--repo PATH`.",
        ) from exc


@contextlib.contextmanager
def _opened(repo: RepoLike) -> Iterator[gitpython.Repo]:
    # A Repo we open ourselves is closed again, so its cat-file helpers do not
    # outlive the call in a long-running kernel.
    if _is_repo(repo):
        yield cast("gitpython.Repo", repo)
        return
    handle = open_repo(cast("str | os.PathLike[str]", repo))
    try:
        yield handle
    finally:
        handle.close()


def _is_repo(repo: RepoLike) -> bool:
    """Whether ``repo`` is an open GitPython repository (none can exist before GitPython is imported)."""
    loaded = sys.modules.get("git")
    return loaded is not None and isinstance(repo, loaded.Repo)


def _workdir(repo: RepoLike) -> Path:
    if _is_repo(repo):
        opened = cast("gitpython.Repo", repo)
        if opened.working_tree_dir is None:
            raise RepoStateError(
                f"{opened.git_dir} is a bare repository; a release needs a working tree.",
                hint="Pass the project's checkout with `--repo PATH`.",
            )
        return Path(opened.working_tree_dir)
    return Path(cast("str | os.PathLike[str]", repo))


def _git(repo: RepoLike, *args: str, hint: str | None = None) -> str:
    """Run a local (non-network) git command; its stdout, stripped. GitError on failure."""
    from git.exc import GitCommandError

    with _opened(repo) as handle:
        try:
            return str(handle.git.execute(["git", *args]))
        except GitCommandError as exc:
            detail = _stderr_text(exc) or str(exc)
            raise GitError(
                f"`git {' '.join(args)}` failed: {detail}",
                hint=hint
                or "Run the same git command in the repository to see the full output.",
            ) from exc


def _git_ok(repo: RepoLike, *args: str) -> str | None:
    """Like :func:`_git`, but None when git exits non-zero (for "does it exist?" questions)."""
    from git.exc import GitCommandError

    with _opened(repo) as handle:
        try:
            return str(handle.git.execute(["git", *args]))
        except GitCommandError:
            return None


def _stderr_text(exc: GitCommandError) -> str:
    text = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    text = text.strip()
    if text.startswith("stderr:"):
        text = text[len("stderr:") :].strip()
    return text.strip("'").strip()


def short(sha: str) -> str:
    """The abbreviated form of a sha shown in messages."""
    return sha[:SHORT_SHA]


def head_commit(repo: RepoLike) -> str:
    """The full sha of HEAD's commit. GitError when the repository has no commit yet."""
    sha = _git_ok(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if not sha:
        raise GitError(
            "The repository has no commit yet (HEAD does not point at a commit).",
            hint="Commit the project first: `git add . && git commit`.",
        )
    return sha


def commit_of(repo: RepoLike, ref: str) -> str:
    """The full sha of the commit ``ref`` names (a tag is peeled). GitError when unknown."""
    sha = _git_ok(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if not sha:
        raise GitError(
            f"{ref} does not name a commit in this repository.",
            hint=f"Check the name with `git rev-parse {ref}` (or `git tag --list` for tags).",
        )
    return sha


def _ref_sha(repo: RepoLike, full_ref: str) -> str | None:
    """The sha ``full_ref`` points at, unpeeled (a tag object's sha for annotated tags)."""
    return _git_ok(repo, "rev-parse", "--verify", "--quiet", full_ref) or None


def tag_message(repo: RepoLike, tag: str) -> str | None:
    """The message of annotated tag ``tag``, None for a lightweight tag. GitError when missing."""
    kind = _git_ok(repo, "cat-file", "-t", f"refs/tags/{tag}")
    if kind is None:
        raise GitError(
            f"There is no tag {tag} in this repository.",
            hint="List the tags with `git tag --list`.",
        )
    if kind != "tag":
        return None
    return _git(
        repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}"
    ).rstrip("\n")


def commit_with_message(repo: RepoLike, message: str, ref: str = "HEAD", limit: int = 500) -> str | None:
    """The newest commit reachable from ``ref`` whose whole message is ``message``, None when none is.

    Looks at the last ``limit`` commits only: a release's own commits are recent.
    """
    raw = _git_ok(repo, "log", "-n", str(limit), "--format=%H%x00%B%x01", ref)
    if not raw:
        return None
    wanted = message.strip()
    for item in raw.split("\x01"):
        sha, _, body = item.strip("\n").partition("\x00")
        if sha and body.strip() == wanted:
            return sha
    return None


def remote_url(repo: RepoLike, remote: str) -> str | None:
    """The URL git uses for ``remote`` (``insteadOf`` applied), None when there is no such remote."""
    folder = None if _is_repo(repo) else Path(cast("str | os.PathLike[str]", repo))
    if folder is not None and (folder / ".git").exists():
        # Two plain git calls: `verify` asks this of a released repository and opens it for nothing else.
        for args in (["config", "--get", f"remote.{remote}.url"], ["remote", "get-url", remote]):
            proc = processes.run(["git", *args], cwd=folder, timeout=DEFAULT_TIMEOUT, merge_stderr=False)
            if not proc.ok:
                return None
        return proc.stdout.strip()
    if _git_ok(repo, "config", "--get", f"remote.{remote}.url") is None:
        return None
    return _git_ok(repo, "remote", "get-url", remote)


def user_identity(repo: RepoLike) -> tuple[str, str]:
    """The (name, email) git would write into a commit here.

    Only configured identities count (config or GIT_AUTHOR_* variables): a
    guessed ``root@host.(none)`` must never end up in a release commit.
    Raises GitError with the `git config` commands to run when none is set.
    """
    ident = _git_ok(repo, "-c", "user.useConfigOnly=true", "var", "GIT_AUTHOR_IDENT")
    if not ident or "<" not in ident:
        raise GitError(
            "No git identity is configured, so the release commit and tag would have no author.",
            hint='Run `git config user.name "Your Name"` and `git config user.email you@example.com` '
            "in the repository (or with --global), then run the phase again.",
        )
    name, _, rest = ident.partition("<")
    email = rest.split(">", 1)[0]
    return name.strip(), email.strip()


# --------------------------------------------------------------------------
# network calls


@dataclass(frozen=True)
class NetworkResult:
    returncode: int
    stdout: str
    stderr: str


def network_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git call that may talk to a remote: it can never prompt.

    A headless kernel has no terminal: a password prompt would wait forever.
    """
    # processes.child_env never prompts (no askpass, ssh in batch mode unless the
    # maintainer set their own ssh command); credential helpers still answer.
    # git's reasons ("fetch first", "non-fast-forward") are parsed and mapped: C locale.
    return processes.child_env({"LC_ALL": "C", "LANGUAGE": "C"}, base=base)


def _run_network(
    repo: RepoLike, args: list[str], *, remote: str, timeout: float
) -> NetworkResult:
    """Run ``git <args>`` that talks to ``remote``; kill it and all its children on timeout.

    Why not GitPython's ``kill_after_timeout``: it SIGKILLs git and its direct
    children only (GitPython issue #895), so ``git-remote-http``/``ssh`` or a
    transport helper's own children survive, keep the pipes open and keep
    running in the kernel. Here git starts in its own session and a timeout
    kills the whole process group, then collects the (now closed) pipes.
    Raises GitError naming the timeout.
    """
    cwd = _workdir(repo)
    try:
        proc = processes.run(["git", *args], cwd=cwd, env=network_env(), timeout=timeout, merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise GitError(
            f"{remote} did not answer within {timeout:g} s (`git {' '.join(args)}` was stopped).",
            hint=f"Check the network and the remote (`git ls-remote {remote}`), then run the phase again "
            "to resume; nothing after this step was done.",
        ) from exc
    # KeyboardInterrupt (a notebook's "interrupt kernel") has killed git's whole group already.
    return NetworkResult(proc.returncode, proc.stdout, proc.stderr)


def _network_failure(action: str, remote: str, result: NetworkResult) -> GitError:
    detail = (
        result.stderr.strip()
        or result.stdout.strip()
        or f"exit status {result.returncode}"
    )
    return GitError(
        f"{action} {remote} failed: {detail}",
        hint=f"Check that `git ls-remote {remote}` works here without a prompt (credentials in a "
        "credential helper or an ssh agent), then run the phase again.",
    )


def _ls_remote(
    repo: RepoLike, remote: str, patterns: list[str], timeout: float
) -> dict[str, str]:
    """``{refname: sha}`` for the refs on ``remote`` matching ``patterns`` exactly."""
    _require_remote(repo, remote)
    result = _run_network(
        repo, ["ls-remote", remote, *patterns], remote=remote, timeout=timeout
    )
    if result.returncode != 0:
        raise _network_failure("Listing the refs of", remote, result)
    refs: dict[str, str] = {}
    for line in result.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name in patterns:
            refs[name] = sha
    return refs


def _require_remote(repo: RepoLike, remote: str) -> None:
    if remote_url(repo, remote) is None:
        raise RepoStateError(
            f"The repository has no remote named {remote}.",
            hint=f"Add it with `git remote add {remote} URL`, or configure the release to use another remote.",
        )


def remote_tag_commit(
    repo: RepoLike, remote: str, tag: str, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """The commit tag ``tag`` points at on ``remote`` (annotated tags peeled), None when absent.

    Raises GitError when the remote cannot be reached within ``timeout``.
    """
    name = f"refs/tags/{tag}"
    refs = _ls_remote(repo, remote, [name, name + "^{}"], timeout)
    return refs.get(name + "^{}") or refs.get(name)


def remote_tag_object(
    repo: RepoLike, remote: str, tag: str, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """The sha ``refs/tags/<tag>`` has on ``remote`` (the tag object for annotated tags), None when absent."""
    return _ls_remote(repo, remote, [f"refs/tags/{tag}"], timeout).get(
        f"refs/tags/{tag}"
    )


def remote_branch_commit(
    repo: RepoLike, remote: str, branch: str, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """The commit branch ``branch`` points at on ``remote``, None when the remote has no such branch.

    Raises GitError when the remote cannot be reached within ``timeout``.
    """
    name = f"refs/heads/{branch}"
    return _ls_remote(repo, remote, [name], timeout).get(name)


# --------------------------------------------------------------------------
# read-only checks


def _status_entries(repo: RepoLike) -> list[tuple[str, str]]:
    """(path, what) for each changed path: what is 'staged', 'modified', 'staged, modified' or 'untracked'."""
    raw = _git(
        repo,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=normal",
        "--ignore-submodules=none",
    )
    entries: list[tuple[str, str]] = []
    fields = raw.split("\0")
    i = 0
    while i < len(fields):
        item = fields[i]
        i += 1
        if len(item) < 4:
            continue
        index_state, tree_state, path = item[0], item[1], item[3:]
        if index_state in "RC":
            i += 1  # a rename/copy is followed by its source path
        if index_state == "?":
            entries.append((path, "untracked"))
            continue
        kinds = []
        if index_state not in " ?":
            kinds.append("staged")
        if tree_state not in " ?":
            kinds.append("modified")
        entries.append((path, ", ".join(kinds)))
    return entries


def check_clean(repo: RepoLike, *, ignore: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Pass when there are no modified, staged or untracked (non-ignored) files.

    Paths under ``ignore`` (such as a records folder inside the repository)
    do not count. Raises one RepoStateError listing up to ten offending paths.
    """
    entries = _status_entries(repo)
    if ignore:
        root = _workdir(repo).resolve()
        skipped = [Path(item).resolve() for item in ignore]
        entries = [
            (path, what)
            for path, what in entries
            if not any(_within(root / path.rstrip("/"), folder) for folder in skipped)
        ]
    if not entries:
        return
    listed = [f"{path} ({what})" for path, what in entries[:_MAX_LISTED_PATHS]]
    more = len(entries) - len(listed)
    if more:
        listed.append(f"and {more} more")
    counts: dict[str, int] = {}
    for _, what in entries:
        for kind in what.split(", "):
            counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    raise RepoStateError(
        f"The working tree is not clean ({summary}): " + "; ".join(listed) + ".",
        hint="Commit or stash these changes (`git stash --include-untracked`), or add the files to "
        ".gitignore, so the release is made from exactly what is committed.",
    )


def _within(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or inside it."""
    path = path.resolve()
    return path == folder or folder in path.parents


def _remote_fetch_url(repo: RepoLike, remote: str) -> str:
    """The remote's fetch URL, a relative local path made absolute (the scratch repo is elsewhere)."""
    url = _git(repo, "remote", "get-url", remote)
    if "://" not in url and ":" not in url.split("/")[0]:
        candidate = (_workdir(repo) / url).resolve()
        if candidate.exists():
            return str(candidate)
    return url


def current_branch(repo: RepoLike) -> str | None:
    """The checked-out branch's name, None when HEAD is detached."""
    name = _git_ok(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    return name or None


def check_branch(repo: RepoLike, branch: str) -> None:
    """Pass when ``branch`` is checked out. RepoStateError on a detached HEAD or another branch."""
    current = current_branch(repo)
    if current is None:
        at = _git_ok(repo, "rev-parse", "--short", "HEAD") or "an unknown commit"
        raise RepoStateError(
            f"HEAD is detached (at {at}, not on any branch); releases are made from {branch}.",
            hint=f"Run `git switch {branch}`.",
        )
    if current != branch:
        raise RepoStateError(
            f"The checked-out branch is {current}, but releases are made from {branch}.",
            hint=f"Run `git switch {branch}` (or set `branch` in [tool.releaselib] if {current} is right).",
        )


def _commits(n: int) -> str:
    return f"{n} commit" if n == 1 else f"{n} commits"


def check_in_sync(
    repo: RepoLike, remote: str, branch: str, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Fetch ``branch`` from ``remote`` and compare it with the local branch.

    Returns a short status: in sync, or ahead (tolerated: the release pushes
    those commits; the string says so, for the caller to show as a warning).
    Raises RepoStateError when the remote has no such branch, or the local
    branch is behind or has diverged; GitError when the fetch fails or times out.
    """
    if _ref_sha(repo, f"refs/heads/{branch}") is None:
        raise RepoStateError(
            f"There is no local branch {branch}.",
            hint=f"Create it from the remote with `git switch {branch}`, or configure the release branch.",
        )
    if remote_branch_commit(repo, remote, branch, timeout) is None:
        raise RepoStateError(
            f"{remote} has no branch {branch}, so there is nothing to compare {branch} with.",
            hint=f"Push it first (`git push -u {remote} {branch}`), or configure the release branch/remote.",
        )
    # Read-only on purpose: preflight must leave the repository byte-for-byte
    # unchanged, so the remote's commits are fetched into a scratch bare
    # repository that borrows this clone's objects (alternates), never here.
    local_sha = _ref_sha(repo, f"refs/heads/{branch}")
    with tempfile.TemporaryDirectory(prefix="releaselib-sync-") as scratch:
        _git(repo, "init", "--quiet", "--bare", scratch)
        objects = Path(_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")) / "objects"
        (Path(scratch) / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        url = _remote_fetch_url(repo, remote)
        result = _run_network(
            scratch,
            ["fetch", "--quiet", "--no-tags", url, f"+refs/heads/{branch}:refs/heads/theirs"],
            remote=remote,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise _network_failure("Fetching from", remote, result)
        counts = _git(scratch, "rev-list", "--left-right", "--count", f"{local_sha}...refs/heads/theirs").split()
    ahead, behind = int(counts[0]), int(counts[1])
    theirs = f"{remote}/{branch}"
    if ahead and behind:
        raise RepoStateError(
            f"{branch} has diverged from {theirs}: {_commits(ahead)} ahead and {_commits(behind)} behind.",
            hint=f"Bring in the other work with `git rebase {theirs}` (or `git merge {theirs}`), "
            "check the result, then run the phase again.",
        )
    if behind:
        raise RepoStateError(
            f"{branch} is {_commits(behind)} behind {theirs}.",
            hint="Run `git pull --ff-only`, then run the phase again.",
        )
    if ahead:
        return f"{branch} is {_commits(ahead)} ahead of {theirs}; the release will push them."
    return f"{branch} is in sync with {theirs}."


def check_tag_free(
    repo: RepoLike,
    tag: str,
    remote: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    version: str | None = None,
) -> None:
    """Pass when ``tag`` exists neither locally nor on ``remote``.

    ``version`` (default: the tag) is the version the resume hint names.
    Raises RepoStateError naming where the tag is and the commit it points at;
    GitError when the remote cannot be reached.
    """
    resume = f"Choose another version, or resume the release with `releaselib run {version or tag} --resume`."
    local = _git_ok(
        repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"
    )
    if local:
        raise RepoStateError(
            f"Tag {tag} already exists locally (at {short(local)}).", hint=resume
        )
    on_remote = remote_tag_commit(repo, remote, tag, timeout)
    if on_remote:
        raise RepoStateError(
            f"Tag {tag} already exists on {remote} (at {short(on_remote)}).",
            hint=resume,
        )
