"""Ctrl-C and SIGTERM: end everything the phase started before saying "stopped".

A kernel runs in a session of its own, and so do the ``git push``, ``twine
upload`` and build processes it starts, so a terminal's SIGINT reaches only
the runner, and a SIGTERM sent to the runner reaches nothing else. Killing
the kernel alone leaves a push running that lands after the tool has said it
stopped. So on either signal the runner:

1. turns SIGTERM into the same :class:`Interrupted` a Ctrl-C raises, so both
   take one path (:func:`signals_interrupt`);
2. ends every process of the run: each process carrying the run's id in its
   environment, and every process group one of them leads
   (:func:`end_phase_processes`), and waits until they are gone;
3. records the attempt as ``interrupted``, with the cell that was running
   (:func:`interrupted_reason`);
4. only then releases the lock.

Further signals while this cleanup runs are ignored (:func:`signals_ignored`):
a second Ctrl-C must not leave the cleanup half done.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from releaselib.infra.processes import RUN_ID_ENV, end_processes_of_run, processes_of_run

__all__ = [
    "Interrupted", "end_phase_processes", "interrupted_reason", "remove_tree", "signals_ignored", "signals_interrupt",
]

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``signal_name`` says which (SIGINT, SIGTERM)."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM both raise :class:`Interrupted` (main thread only; elsewhere a no-op)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in _HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM are ignored, so the cleanup after an interruption finishes."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def end_phase_processes(run_id: str | None = None, timeout: float = 15.0) -> list[int]:
    """End every process of the run and every process group they lead; wait for them; return the pids.

    The run's processes carry its id (:data:`RUN_ID_ENV`) in their environment;
    a process group led by one of them (a ``git push`` started in its own
    session) is ended as a whole, so a child that cleared its environment goes too.
    """
    from releaselib.infra.processes import terminate_all

    # The groups this process started itself (through the process layer) first, then the run's.
    ended = list(terminate_all(grace=0.0))
    run_id = run_id if run_id is not None else os.environ.get(RUN_ID_ENV, "")
    if not run_id:
        return ended
    own_group = os.getpgrp()
    for pid in processes_of_run(run_id):
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if group == pid and group != own_group:
            try:
                os.killpg(group, signal.SIGKILL)
                ended.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
    ended += [pid for pid in end_processes_of_run(run_id, timeout=timeout) if pid not in ended]
    return ended


def interrupted_reason(exc: BaseException, nb: Any, ended: list[int]) -> str:
    """``interrupted by SIGTERM during cell 7 (publish.push(...)); 3 processes ended``."""
    name = getattr(exc, "signal_name", "SIGINT")
    running = ""
    if nb is not None:
        # The cell papermill marked running; else (papermill may mark it completed on its way out)
        # the last cell that started.
        code = [(index, cell) for index, cell in enumerate(nb.cells) if cell.get("cell_type") == "code"]
        started = [(index, cell) for index, cell in code if cell.get("execution_count") is not None
                   or cell.get("metadata", {}).get("papermill", {}).get("status") == "running"]
        flagged = [(index, cell) for index, cell in code
                   if cell.get("metadata", {}).get("papermill", {}).get("status") == "running"]
        candidates = flagged or started[-1:]
        if candidates:
            index, cell = candidates[0]
            first = next((line for line in cell.get("source", "").splitlines() if line.strip()), "")
            running = f" during cell {index} ({first.strip()[:80]})"
    processes = f"; {len(ended)} process(es) of the phase ended" if ended else ""
    return f"interrupted by {name}{running}{processes}"


def remove_tree(path: Path | None) -> None:
    """Remove a temporary folder of the run, whatever is in it."""
    import shutil

    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
