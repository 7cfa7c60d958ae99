"""Environments of third-party tools kept between runs: the matrix's seeds and the install tests' tools.

Making one costs a virtual environment, an install and the bytecode of what
every use imports: about a second and a half of CPU per Python, and a release
makes two per Python (the matrix's seed and the install tests' environment),
again at every rehearsal a maintainer runs after a fix.

An entry is keyed by exactly what a fresh install would hold now. The
requirements are resolved first, by the resolver and the index settings of
the install itself (``uv pip compile``), and the key is the interpreter, the
pinned versions, the modules warmed and the uv that made it: a new release of
pytest or setuptools is a new key, so a kept environment never holds a
version a fresh one would not. It never holds the project under release: only
third-party requirements go in, and every use is a private copy
(:func:`releaselib.infra.venv.copy`). Requirements that do not resolve to
``name==version`` from an index (a path, a URL) are never kept, nor is
anything when uv is not in use. Entries unused for :data:`KEEP_DAYS` days are
removed when a new one is made.

``RELEASELIB_CACHE_DIR`` moves the cache, and ``off`` turns it off; by
default it is ``$XDG_CACHE_HOME/releaselib``, else ``~/.cache/releaselib``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from releaselib.infra import processes, venv

__all__ = ["CACHE_ENV", "KEEP_DAYS", "cache_root", "environment"]

CACHE_ENV = "RELEASELIB_CACHE_DIR"
KEEP_DAYS = 30
#: Bumped when what an entry holds changes shape, so older entries are never reused.
_FORMAT = "1"
_COMPLETE = "complete.json"
# One pinned requirement from an index: ``name==version``, extras allowed, nothing else.
_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9.+!_-]+$")


def cache_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where kept environments live, or None when :data:`CACHE_ENV` is ``off``."""
    environ = os.environ if environ is None else environ
    value = environ.get(CACHE_ENV)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "0", "off", "no", "false") else Path(value).expanduser()
    base = environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "releaselib"


def _pins(interpreter: str | os.PathLike[str], requirements: Sequence[str], *, cwd: Path, timeout: float,
          scope: processes.Scope | None) -> list[str] | None:  # fmt: skip
    """The versions a fresh install of ``requirements`` on ``interpreter`` would get now; None if not all pin."""
    uv = venv.uv_binary()
    if uv is None or not requirements:
        return None
    try:
        proc = processes.run(
            [uv, "pip", "compile", "-", "--python", os.fspath(interpreter), "--no-header", "--no-annotate",
             "--quiet"],
            input="\n".join(requirements) + "\n", timeout=timeout, merge_stderr=False, scope=scope, cwd=cwd,
            env=venv.uv_env(processes.child_env()),
        )  # fmt: skip
    except processes.CommandTimeout:
        return None
    if not proc.ok:
        return None  # the install itself will say what is wrong
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines or not all(_PIN.match(line) for line in lines):
        return None
    return sorted(lines, key=str.lower)


def _key(interpreter: str | os.PathLike[str], pins: Sequence[str], warm: Sequence[str]) -> str:
    executable = Path(interpreter).resolve()
    uv = Path(venv.uv_binary() or "")
    stamp = {
        "format": _FORMAT,
        "interpreter": [str(executable), _mtime(executable)],
        "uv": [str(uv), _mtime(uv)],
        "pins": list(pins),
        "warm": list(warm),
    }
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:20]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@contextlib.contextmanager
def _locked(lock: Path, *, deadline: float, timeout: float, scope: processes.Scope | None) -> Iterator[None]:
    """An exclusive lock on ``lock`` (another run may be making the same entry), waited for in steps
    so that a stopped scope or the deadline ends the wait."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if scope is not None and scope.stopped:
                    raise processes.Stopped() from None
                if time.monotonic() > deadline:
                    raise processes.CommandTimeout(["flock", os.fspath(lock)], timeout, "") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def environment(
    interpreter: str | os.PathLike[str],
    requirements: Sequence[str],
    *,
    warm: Sequence[str],
    make: Callable[[Path, Sequence[str], Path], None],
    log: Path,
    timeout: float,
    scope: processes.Scope | None = None,
) -> Path | None:
    """The kept environment holding ``requirements`` on ``interpreter``, made on first use; None when not kept.

    ``make(dest, pins, make_log)`` makes the environment at ``dest`` holding
    exactly ``pins``, its commands logged to ``make_log``, and raises if it
    cannot; nothing is kept then. ``log`` (the run's log of this environment)
    gets the pins, whether the entry was made now or reused, and the log of
    its making. None when nothing may be kept (no cache, no uv, requirements
    that do not pin): the caller makes its own, as without a cache.
    """
    root = cache_root()
    if root is None:
        return None
    deadline = time.monotonic() + timeout
    (root / "envs").mkdir(parents=True, exist_ok=True)
    # Resolved from the cache's folder: no project's own uv settings in the working directory apply.
    pins = _pins(interpreter, requirements, cwd=root / "envs", timeout=timeout, scope=scope)
    if pins is None:
        return None
    key = _key(interpreter, pins, warm)
    entry = root / "envs" / key
    with _locked(root / "envs" / f"{key}.lock", deadline=deadline, timeout=timeout, scope=scope):
        complete = entry / _COMPLETE
        reused = complete.is_file()
        if reused:
            os.utime(complete)  # used now: kept another KEEP_DAYS days
        else:
            shutil.rmtree(entry, ignore_errors=True)  # an entry whose making was cut short
            entry.mkdir(parents=True)
            try:
                make(entry / "env", pins, entry / "make.log")
            except BaseException:
                _append(log, entry / "make.log")  # what failed, where the caller shows its log
                raise
            complete.write_text(json.dumps({"interpreter": os.fspath(interpreter), "pins": pins, "warm": list(warm)}),
                                encoding="utf-8")  # fmt: skip
    made = (entry / "make.log").read_text(encoding="utf-8", errors="replace") if (entry / "make.log").is_file() else ""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        how = "reused, made by an earlier run" if reused else "made now, kept for later runs"
        out.write(f"## environment {entry / 'env'} ({how}; {CACHE_ENV}=off makes a fresh one each run)\n"
                  f"pinned by `uv pip compile` of {', '.join(requirements)}: {', '.join(pins)}\n"
                  f"## its making:\n{made.rstrip()}\n")  # fmt: skip
    if not reused:
        _prune(root / "envs", keep=entry)
    return entry / "env"


def _append(log: Path, part: Path) -> None:
    if part.is_file():
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out:
            out.write(part.read_text(encoding="utf-8", errors="replace"))


def _prune(envs: Path, *, keep: Path) -> None:
    """Remove the entries unused for :data:`KEEP_DAYS` days, and unfinished ones nobody is making."""
    limit = time.time() - KEEP_DAYS * 86400
    for entry in envs.iterdir():
        if not entry.is_dir() or entry == keep:
            continue
        complete = entry / _COMPLETE
        lock = envs / f"{entry.name}.lock"
        try:
            stale = complete.stat().st_mtime < limit if complete.is_file() else entry.stat().st_mtime < limit
        except OSError:
            continue
        if not stale:
            continue
        with open(lock, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            shutil.rmtree(entry, ignore_errors=True)
