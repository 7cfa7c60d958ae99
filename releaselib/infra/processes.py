"""Find and end the processes a dead run left behind.

A runner killed with SIGKILL cannot stop what it started. Its kernel notices
(ipykernel polls its parent and exits within a second), but whatever the
kernel started keeps running: a ``python -m build``, a ``twine upload``, a
``git push`` started in a session of its own. A resumed run racing such a
leftover could upload or push the same thing twice at once.

Every process of a run inherits :data:`RUN_ID_ENV` from the runner; a run
that takes over a dead run's lock ends every process still carrying that
run's id. Reading other processes' environments needs ``/proc`` (Linux); on
other systems :func:`processes_of_run` finds nothing and the takeover only
removes the lock.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["RUN_ID_ENV", "end_processes_of_run", "processes_of_run"]

#: Set by the runner for the duration of a run; kernels and their children inherit it.
RUN_ID_ENV = "RELEASELIB_RUN_ID"


def processes_of_run(run_id: str) -> list[int]:
    """Pids of live processes (of this user) whose environment carries ``run_id``; never this process."""
    if not run_id:
        return []
    needle = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def end_processes_of_run(run_id: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process of ``run_id`` and wait until none is left; return the pids ended.

    Processes still alive after ``timeout`` seconds are left (and not listed
    as ended): zombies of a reaped parent vanish on their own.
    """
    ended: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in processes_of_run(run_id) if not _zombie(pid)]
        if not pids or time.monotonic() > deadline:
            return ended
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            except PermissionError:
                continue
            if pid not in ended:
                ended.append(pid)
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
