"""The one git export: the tree of a commit, never the working tree.

The test matrix and the build phase both work on an export of the release
commit (``git archive``), so a stray file in the maintainer's checkout can
never reach a test or an sdist, and every file's mtime is the commit's time.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from releaselib.core.errors import GitError
from releaselib.infra import processes

__all__ = ["archive_of", "commit_time", "extract", "resolve_commit"]

_TIMEOUT = 300.0


def _git(repo: str | os.PathLike[str], *args: str, text: bool = True) -> processes.Completed:
    try:
        return processes.run(
            ["git", "-C", os.fspath(repo), *args], merge_stderr=False, text=text, timeout=_TIMEOUT,
            env=processes.child_env({"LC_ALL": "C"}),
        )  # fmt: skip
    except processes.CommandTimeout as exc:
        raise GitError(
            f"`git {' '.join(args)}` did not finish within {_TIMEOUT:g} s in {repo}.",
            hint="Check that no other git process holds the repository, then run the phase again.",
        ) from exc
    except OSError as exc:
        raise GitError(f"Cannot run git: {exc}", hint="Install git and make sure it is on PATH.") from exc


def resolve_commit(repo: str | os.PathLike[str], ref: str) -> str | None:
    """The full sha of the commit ``ref`` names in ``repo`` (a tag is peeled), or None when it names none."""
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    sha = proc.stdout.strip()
    return sha if proc.ok and sha else None


def archive_of(repo: str | os.PathLike[str], commit: str) -> bytes:
    """The tree of ``commit`` as a tar archive: tracked files only. Raises :class:`GitError` when git fails."""
    proc = _git(repo, "archive", "--format=tar", commit, text=False)
    if not proc.ok:
        raise GitError(
            f"git archive of {commit} failed in {repo}: {proc.stderr.strip()}",
            hint="Check that the commit exists and the repository is intact (`git fsck`).",
        )
    return proc.data


def extract(archive: bytes, dest: str | os.PathLike[str]) -> Path:
    """Unpack a :func:`archive_of` archive into ``dest`` (created); returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12, and backported to 3.10.12 / 3.11.4
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - depends on the running Python
            tar.extractall(dest)  # our own git archive
    return dest


def commit_time(repo: str | os.PathLike[str], ref: str) -> str | None:
    """The commit time of ``ref`` in seconds since the epoch (for ``SOURCE_DATE_EPOCH``), or None."""
    proc = _git(repo, "log", "-1", "--format=%ct", f"{ref}^{{commit}}")
    value = proc.stdout.strip()
    return value if proc.ok and value.isdigit() else None
