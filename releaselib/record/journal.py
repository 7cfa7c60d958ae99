"""A durable journal of irreversible steps: ``<record_dir>/journal.jsonl``.

The runner copies a phase's recorded values into ``record.json`` only after
the phase's notebook has finished. A runner killed in the middle of a phase
loses that attempt's values, which is harmless for every step that can ask the
world whether it is done (the tag on the remote, the file hash on the index),
but not for a mail: nothing on our side can ask a mailing list whether it got
a message. So the kernel itself writes, and flushes to disk, one line right
*before* such a step ("sending <key>") and one right *after* it ("sent
<key>"). On a re-run:

- ``sent`` last: the step is done, whatever the record says;
- ``not sent`` last (the step failed in a way that proves nothing left, e.g.
  the server refused the sender): it may be done again;
- ``sending`` (or ``uncertain``) last: an earlier attempt was interrupted
  while doing it. Whether it happened cannot be known here; a human must look
  (the list archive) and say so, rather than have the tool guess and mail the
  list twice, or never.

Each line is one JSON object; the file is only ever appended to, with
``O_APPEND`` and an ``fsync``, so a crash leaves at most a torn last line,
which :func:`read_journal` skips.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from releaselib.record.store import now_iso

__all__ = [
    "JOURNAL_NAME",
    "NOT_SENT",
    "SENDING",
    "SENT",
    "UNCERTAIN",
    "append_event",
    "irreversible_step",
    "read_journal",
    "step_state",
]

JOURNAL_NAME = "journal.jsonl"

SENDING = "sending"
SENT = "sent"
NOT_SENT = "not sent"
UNCERTAIN = "uncertain"
_STATES = (SENDING, SENT, NOT_SENT, UNCERTAIN)


def journal_path(record_dir: str | os.PathLike[str]) -> Path:
    """Where the journal of the release recorded in ``record_dir`` lives."""
    return Path(record_dir) / JOURNAL_NAME


def append_event(
    record_dir: str | os.PathLike[str],
    event: str,
    key: str,
    *,
    phase: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Append one event to the journal and make it durable before returning.

    Returns the entry written. Raises :class:`OSError` when the record folder
    cannot be written: the caller must not go on with the irreversible step
    it was about to journal.
    """
    entry = {
        "time": now_iso(),
        "event": event,
        "key": key,
        "phase": phase,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    if detail:
        entry["detail"] = detail
    path = journal_path(record_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        # The new file's directory entry must survive a crash as well.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return entry


def read_journal(record_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete entry of the journal, oldest first; ``[]`` when there is none.

    A torn last line (a crash in the middle of a write) is skipped: the event
    it would have recorded never became durable.
    """
    path = journal_path(record_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    entries: list[dict[str, Any]] = []
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def step_state(record_dir: str | os.PathLike[str], key: str) -> dict[str, Any] | None:
    """The latest journal entry about ``key`` (its ``event`` is the state), None when never tried."""
    latest = None
    for entry in read_journal(record_dir):
        if entry.get("key") == key and entry.get("event") in _STATES:
            latest = entry
    return latest


@contextmanager
def irreversible_step(
    record_dir: str | os.PathLike[str],
    key: str,
    *,
    phase: str | None = None,
    nothing_done: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Bracket an irreversible step with durable ``sending`` / ``sent`` entries.

    An exception of a type in ``nothing_done`` (one that proves the step had
    no effect) is journalled as ``not sent``; any other exception as
    ``uncertain`` (the step may or may not have happened); both propagate.
    A process killed inside the block leaves ``sending`` as the last word.
    Raises :class:`OSError` (before the step) when the journal cannot be written.
    """
    append_event(record_dir, SENDING, key, phase=phase)
    try:
        yield
    except nothing_done as exc:
        _best_effort(record_dir, NOT_SENT, key, phase, f"{type(exc).__name__}: {exc}")
        raise
    except BaseException as exc:
        _best_effort(record_dir, UNCERTAIN, key, phase, f"{type(exc).__name__}: {exc}")
        raise
    append_event(record_dir, SENT, key, phase=phase)


def _best_effort(record_dir: str | os.PathLike[str], event: str, key: str, phase: str | None, detail: str) -> None:
    # The original exception matters more than a journal line about it.
    try:
        append_event(record_dir, event, key, phase=phase, detail=detail[:500])
    except OSError:
        pass
