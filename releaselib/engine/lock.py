"""One release at a time: a lock in the outputs folder (per package) and one inside the
repository's git folder (per repository), each naming its holder; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from releaselib.core.errors import LockHeld
from releaselib.record.store import (
    now_iso,
)

if TYPE_CHECKING:
    pass

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire(path: Path, holder: dict[str, Any], what: str) -> None:
    """Create the lock file ``path`` for ``holder``; take over a dead holder's; LockHeld for a live one."""
    from releaselib.infra.processes import end_processes_of_run

    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                current = json.loads(path.read_text())
            except (OSError, ValueError):
                current = {}
            stale = current.get("host") == holder["host"] and not _pid_alive(int(current.get("pid", 0)))
            if stale:
                # What the dead run started (a build, an upload) must not race this one.
                end_processes_of_run(str(current.get("run_id") or ""))
                path.unlink(missing_ok=True)
                continue
            raise LockHeld(
                f"Another release of {what} is running: version {current.get('version')} "
                f"by {current.get('user')} on {current.get('host')} (pid {current.get('pid')}, "
                f"since {current.get('started')}).",
                hint=f"Wait for it to finish. If that process is gone, remove {path}.",
            ) from None
        with os.fdopen(fd, "w") as handle:
            json.dump(holder, handle)
        return


def _repo_lock_path(repo: Path) -> Path | None:
    """``<git dir>/releaselib.lock`` (the common dir, shared by worktrees); None outside a git repository."""
    from releaselib.infra import processes

    try:
        result = processes.run(["git", "rev-parse", "--git-common-dir"], cwd=repo, merge_stderr=False, timeout=60)
    except (OSError, processes.CommandTimeout):
        return None
    common = str(result.stdout).strip()
    if result.returncode != 0 or not common:
        return None
    return (Path(repo) / common).resolve() / "releaselib.lock"


@contextmanager
def release_lock(package_dir: Path, version: str, repo: Path | None = None,
                 run_id: str | None = None) -> Iterator[Path]:
    """One release per package at a time, and one per repository; the lock files name their holder.

    The lock is held in the outputs folder (``<package>/release.lock``) and,
    given ``repo``, inside the repository's git folder too (``releaselib.lock``),
    so two runs of one repository with different ``--outputs`` cannot both
    commit. A lock left by a process that died on this host is taken over; a
    live holder raises :class:`LockHeld` naming it.
    """
    package_dir.mkdir(parents=True, exist_ok=True)
    path = package_dir / "release.lock"
    import uuid

    holder = {
        "run_id": run_id or uuid.uuid4().hex,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "version": version,
        "started": now_iso(),
        "user": os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown",
    }
    _acquire(path, holder, package_dir.name)
    repo_path = _repo_lock_path(repo) if repo is not None else None
    if repo_path is not None:
        try:
            _acquire(repo_path, holder, f"the repository {repo}")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    from releaselib.infra.processes import RUN_ID_ENV

    previous_run_id = os.environ.get(RUN_ID_ENV)
    os.environ[RUN_ID_ENV] = str(holder["run_id"])  # inherited by kernels and their children
    try:
        yield path
    finally:
        if previous_run_id is None:
            os.environ.pop(RUN_ID_ENV, None)
        else:
            os.environ[RUN_ID_ENV] = previous_run_id
        if repo_path is not None:
            repo_path.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
