"""The Python interpreters a project is tested and built on.

The project's configuration lists versions (``python = ["3.9", ..., "3.13"]``).
:func:`find_interpreters` looks each one up on ``PATH`` (``python3.X``) and
among pyenv's installed versions, asks every candidate what it really is, and
keeps the first one that matches. pyenv's shims are never used: a shim runs
whatever ``pyenv version`` selects, which may not be the version its name
promises.

The test matrix (:mod:`releaselib.phases.matrix`) and the build phase (one wheel per
interpreter) both start from the :class:`InterpreterSet` returned here.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from releaselib.core.errors import MatrixError
from releaselib.infra import processes

# Runs on every interpreter we may meet (3.6+): no f-strings with "=", no walrus.
_PROBE = r"""
import json, os, platform, sys, sysconfig
try:
    import ensurepip, venv
    has_venv = True
except ImportError:
    has_venv = False
include = sysconfig.get_paths().get("include") or ""
print(json.dumps({
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "cache_tag": sys.implementation.cache_tag,
    "platform": sysconfig.get_platform(),
    "soabi": sysconfig.get_config_var("SOABI"),
    "has_venv": has_venv,
    "has_headers": os.path.exists(os.path.join(include, "Python.h")),
}))
"""

_PROBE_TIMEOUT = 30.0
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")

# executable path -> probe answer (None when the candidate could not be run).
_probe_cache: dict[str, dict[str, object] | None] = {}
_probe_lock = threading.Lock()


@dataclass(frozen=True)
class Interpreter:
    """One Python found on this machine, and what it said about itself.

    ``requested`` is the configured version ("3.12"), ``version`` the exact one
    ("3.12.1"), ``cache_tag`` e.g. ``cpython-312``, ``platform`` the value of
    ``sysconfig.get_platform()`` (``linux-x86_64``).
    """

    requested: str
    executable: Path
    version: str
    cache_tag: str
    platform: str
    implementation: str = "cpython"
    soabi: str | None = None
    has_headers: bool = True

    @property
    def python_tag(self) -> str:
        """The wheel tag of this interpreter: ``cp312`` for CPython 3.12, ``pp310`` for PyPy."""
        major, minor = self.version.split(".")[:2]
        prefix = {"cpython": "cp", "pypy": "pp"}.get(self.implementation, self.implementation[:2])
        return f"{prefix}{major}{minor}"

    @property
    def label(self) -> str:
        """Short name for tables and file names: ``py3.12``."""
        return f"py{self.requested}"

    def as_record(self) -> dict[str, object]:
        """A JSON-ready description, as kept in the release record."""
        return {
            "requested": self.requested,
            "executable": str(self.executable),
            "version": self.version,
            "implementation": self.implementation,
            "cache_tag": self.cache_tag,
            "python_tag": self.python_tag,
            "platform": self.platform,
            "soabi": self.soabi,
        }


@dataclass(frozen=True)
class InterpreterSet:
    """The interpreters found for a configured list, and the versions allowed to be missing."""

    found: tuple[Interpreter, ...]
    skipped: tuple[str, ...] = ()
    searched: tuple[str, ...] = field(default=(), compare=False)  # places looked in, for messages

    def __iter__(self) -> Iterator[Interpreter]:
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)

    def __getitem__(self, requested: str) -> Interpreter:
        for interpreter in self.found:
            if interpreter.requested == requested:
                return interpreter
        raise KeyError(requested)

    def as_record(self) -> dict[str, object]:
        """A JSON-ready description: every interpreter found, and the versions skipped."""
        return {"found": [i.as_record() for i in self.found], "skipped": list(self.skipped)}

    def __str__(self) -> str:
        lines = [f"{len(self.found)} interpreter(s) found"]
        for i in self.found:
            lines.append(f"  {i.requested:<6} {i.version:<9} {i.python_tag:<6} {i.platform:<16} {i.executable}")
        for version in self.skipped:
            lines.append(f"  {version:<6} skipped (not found; allowed to be missing)")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(i.requested)}</td><td>{html.escape(i.version)}</td>"
            f"<td>{html.escape(i.python_tag)}</td><td>{html.escape(i.platform)}</td>"
            f"<td><code>{html.escape(str(i.executable))}</code></td></tr>"
            for i in self.found
        )
        rows += "".join(
            f"<tr><td>{html.escape(v)}</td><td colspan=4><em>skipped: not found, allowed to be missing</em></td></tr>"
            for v in self.skipped
        )
        return (
            "<table><thead><tr><th>requested</th><th>version</th><th>tag</th><th>platform</th>"
            f"<th>executable</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def probe(executable: str | os.PathLike[str]) -> dict[str, object] | None:
    """What the interpreter at ``executable`` says it is, or None if it cannot run.

    Answers are cached per executable for the life of the process (asking
    costs a process start, and the matrix and build phases ask again).
    """
    key = str(executable)
    with _probe_lock:
        if key in _probe_cache:
            return _probe_cache[key]
    answer: dict[str, object] | None
    try:
        # -I: neither PYTHONPATH nor the user's site-packages may change the answer.
        proc = processes.run([key, "-I", "-c", _PROBE], timeout=_PROBE_TIMEOUT, merge_stderr=False)
        answer = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, processes.CommandTimeout, ValueError):
        answer = None
    with _probe_lock:
        _probe_cache[key] = answer
    return answer


def _is_shim(path: Path) -> bool:
    if path.parent.name == "shims":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return True
    return head.startswith(b"#!") and b"pyenv" in head


def pyenv_root() -> Path:
    """``$PYENV_ROOT``, else ``~/.pyenv``."""
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _parse_requested(version: str) -> tuple[int, ...]:
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise MatrixError(
            f"Cannot read the configured Python version {version!r}.",
            hint='Write versions as "3.12" (or an exact "3.12.1") in [tool.releaselib.matrix] python.',
        )
    return tuple(int(part) for part in match.groups() if part is not None)


def _path_candidates(major_minor: str) -> list[Path]:
    found: list[Path] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        candidate = Path(directory) / f"python{major_minor}"
        if candidate.is_file() and os.access(candidate, os.X_OK) and not _is_shim(candidate):
            found.append(candidate)
    return found


def _pyenv_candidates(major_minor: str, root: Path) -> list[Path]:
    versions = root / "versions"
    if not versions.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(major_minor)}\.(\d+)$")  # no -dev, no t, no virtualenvs
    ranked: list[tuple[int, Path]] = []
    for entry in versions.iterdir():
        match = pattern.match(entry.name)
        executable = entry / "bin" / f"python{major_minor}"
        if match and executable.is_file():
            ranked.append((int(match.group(1)), executable))
    return [path for _, path in sorted(ranked, reverse=True)]


def _matches(answer: dict[str, object], wanted: tuple[int, ...]) -> bool:
    parts = tuple(int(p) for p in str(answer.get("version", "")).split(".")[: len(wanted)] if p.isdigit())
    return parts == wanted and bool(answer.get("has_venv"))


def find_interpreter(version: str) -> Interpreter | None:
    """The interpreter for one configured version ("3.12"), or None when none is installed.

    Looks on PATH first (``python3.12``, shims skipped), then among pyenv's
    versions (highest patch first). A candidate is kept only if it reports the
    requested version and can create virtual environments (``venv`` and
    ``ensurepip`` present). Raises :class:`MatrixError` when ``version`` is not
    of the form ``X.Y`` or ``X.Y.Z``.
    """
    wanted = _parse_requested(version)
    major_minor = f"{wanted[0]}.{wanted[1]}"
    for candidate in _path_candidates(major_minor) + _pyenv_candidates(major_minor, pyenv_root()):
        answer = probe(candidate)
        if answer is None or not _matches(answer, wanted):
            continue
        return Interpreter(
            requested=version,
            executable=candidate,
            version=str(answer["version"]),
            cache_tag=str(answer["cache_tag"]),
            platform=str(answer["platform"]),
            implementation=str(answer["implementation"]),
            soabi=answer.get("soabi") and str(answer["soabi"]),  # type: ignore[arg-type]
            has_headers=bool(answer.get("has_headers")),
        )
    return None


def find_interpreters(versions: Sequence[str], *, allow_missing: Sequence[str] = ()) -> InterpreterSet:
    """Find an interpreter for every configured version.

    Returns an :class:`InterpreterSet` with the interpreters found, in the
    configured order, and the versions that were missing but allowed to be
    (``skipped``). Raises :class:`MatrixError` naming every version that is
    missing and not in ``allow_missing``, and the places looked in.
    """
    found: list[Interpreter] = []
    skipped: list[str] = []
    missing: list[str] = []
    allowed = {v.strip() for v in allow_missing}
    wanted = list(dict.fromkeys(v.strip() for v in versions))
    # Each lookup mostly waits for candidates to start and answer: ask for every version at once.
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(wanted))), thread_name_prefix="interpreters") as pool:
        answers = list(pool.map(find_interpreter, wanted))
    for version, interpreter in zip(wanted, answers):
        if interpreter is not None:
            found.append(interpreter)
        elif version in allowed:
            skipped.append(version)
        else:
            missing.append(version)
    searched = ("python3.X on PATH (pyenv shims skipped)", f"{pyenv_root() / 'versions'}/3.X.*/bin/python3.X")
    if missing:
        names = ", ".join(missing)
        first = missing[0]
        raise MatrixError(
            f"Python {names} not found on this machine. Looked for "
            + " and ".join(s.replace("3.X", "<version>") for s in searched)
            + ".",
            hint=(
                f"Install it (e.g. `pyenv install {first}`), or, if the release may go without it, "
                f'add it to allow-missing in [tool.releaselib.matrix] (allow-missing = ["{first}"]).'
            ),
        )
    return InterpreterSet(found=tuple(found), skipped=tuple(skipped), searched=searched)
