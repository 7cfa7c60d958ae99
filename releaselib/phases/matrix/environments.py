"""How the matrix runs commands and makes environments: logs, deadlines, seeds, the export."""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import Interpreter

# Build requirements assumed by pip for a project without [build-system].
_LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")

# Variables that would let the caller's environment leak into a cell.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYENV_VERSION", "__PYVENV_LAUNCHER__")


# -- running -----------------------------------------------------------------
class _CellTimeout(Exception):
    def __init__(self, step: str) -> None:
        self.step = step


class _Stopped(Exception):
    """The whole matrix is being stopped (an interrupted kernel, a failure in the caller)."""


class _Running:
    """Every subprocess the matrix has running, so an interrupt can end them all.

    Cells run in sessions of their own (so a timeout can kill a test run's
    children too), which also means an interrupted kernel would not take them
    down: :meth:`stop` does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[Any]] = set()
        self.stopped = False

    def start(self, argv: Sequence[str] | str, **kwargs: Any) -> subprocess.Popen[Any]:
        with self._lock:
            if self.stopped:
                raise _Stopped()
            proc = subprocess.Popen(argv, **kwargs)
            self._procs.add(proc)
            return proc

    def done(self, proc: subprocess.Popen[Any]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            procs = list(self._procs)
        for proc in procs:
            _kill_group(proc)


@dataclass
class _Step:
    returncode: int
    output: str


class _CellRun:
    """The log of one cell and the subprocesses it runs, all under one deadline."""

    def __init__(self, log_path: Path, deadline: float, env: dict[str, str], running: _Running) -> None:
        self.log_path = log_path
        self.deadline = deadline
        self.env = env
        self.running = running
        self.log = log_path.open("w", encoding="utf-8")

    def note(self, text: str) -> None:
        self.log.write(text.rstrip("\n") + "\n")
        self.log.flush()

    def run(self, step: str, argv: Sequence[str] | str, cwd: Path, *, shell: bool = False) -> _Step:
        """Run one command, its output appended to the log; raise _CellTimeout past the deadline."""
        shown = argv if isinstance(argv, str) else shlex.join(argv)
        self.note(f"\n===== {step}: $ {shown}\n      (cwd {cwd})")
        self.log.flush()
        start_offset = self.log.tell()
        started = time.monotonic()
        remaining = self.deadline - started
        if remaining <= 0:
            raise _CellTimeout(step)
        # A session of its own, so a timeout kills pytest's children too.
        proc = self.running.start(
            argv,
            cwd=cwd,
            env=self.env,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            self.note(f"===== {step}: killed after the cell's deadline")
            raise _CellTimeout(step) from None
        finally:
            self.running.done(proc)
        if self.running.stopped:
            self.note(f"===== {step}: stopped (the matrix was interrupted)")
            raise _Stopped()
        self.log.flush()
        with self.log_path.open("r", encoding="utf-8", errors="replace") as reader:
            reader.seek(start_offset)
            output = reader.read()
        self.note(f"===== {step}: exit {returncode} in {time.monotonic() - started:.1f}s")
        return _Step(returncode, output)

    def close(self) -> None:
        self.log.close()


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    proc.wait()


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.pop("VIRTUAL_ENV", None)
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _head_commit(repo: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "HEAD^{commit}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MatrixError(f"Cannot run git in {repo}: {exc}", hint="Install git and check the repository path.") from exc
    if proc.returncode != 0:
        raise MatrixError(
            f"{repo} has no commit to test: {proc.stderr.strip()}",
            hint="Run the test phase in the project's git repository, after the release commit is made.",
        )
    return proc.stdout.strip()


def export_commit(repo: Path, commit: str) -> bytes:
    """The tree of ``commit`` as a tar archive (``git archive``): tracked files only."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit], check=False, capture_output=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MatrixError(f"git archive of {commit} failed: {exc}", hint="Check the repository with `git fsck`.") from exc
    if proc.returncode != 0:
        raise MatrixError(
            f"git archive of {commit} failed: {proc.stderr.decode(errors='replace').strip()}",
            hint="Check that the commit exists in the repository.",
        )
    return proc.stdout


def _extract(archive: bytes, dest: Path) -> None:
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12, and backported to 3.10.12 / 3.11.4
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - depends on the running Python
            tar.extractall(dest)  # our own git archive


def build_requires(project: Path) -> tuple[str, ...]:
    """The project's ``[build-system] requires``, or pip's legacy default without one."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return _LEGACY_BUILD_REQUIRES
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MatrixError(
            f"Cannot read {pyproject.name} of the release commit: {exc}", hint="Fix pyproject.toml and commit."
        ) from exc
    requires = data.get("build-system", {}).get("requires")
    return tuple(requires) if requires else _LEGACY_BUILD_REQUIRES


class _Seeds:
    """One seed environment per interpreter, made once and copied for every cell."""

    def __init__(self, root: Path, requirements: Sequence[str], timeout: float, running: _Running) -> None:
        self.root = root
        self.running = running
        self.requirements = tuple(requirements)
        self.timeout = timeout
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _key(self, interpreter: Interpreter) -> str:
        text = "\n".join([str(interpreter.executable), interpreter.version, *self.requirements])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def log_path(self, interpreter: Interpreter) -> Path:
        return self.root / f"seed-{interpreter.label}-{self._key(interpreter)}.log"

    def get(self, interpreter: Interpreter) -> Path:
        """The seed venv of ``interpreter``, made on first use; raises MatrixError if it cannot be made."""
        key = self._key(interpreter)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            seed = self.root / f"seed-{interpreter.label}-{key}"
            if (seed / ".releaselib-seed-complete").is_file():
                return seed
            shutil.rmtree(seed, ignore_errors=True)
            self._create(interpreter, seed, self.log_path(interpreter))
            (seed / ".releaselib-seed-complete").write_text(key)
            return seed

    def _create(self, interpreter: Interpreter, seed: Path, log_path: Path) -> None:
        env = _clean_env()
        deadline = time.monotonic() + self.timeout
        run = _CellRun(log_path, deadline, env, self.running)
        try:
            try:
                # virtualenv seeds pip from its app-data in a fraction of a second;
                # the stdlib venv (ensurepip) is the fallback.
                made = False
                if _has_virtualenv():
                    step = run.run(
                        "virtualenv",
                        [sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update",
                         "-p", str(interpreter.executable), str(seed)],
                        self.root,
                    )
                    made = step.returncode == 0
                if not made:
                    shutil.rmtree(seed, ignore_errors=True)
                    step = run.run("venv", [str(interpreter.executable), "-m", "venv", str(seed)], self.root)
                    if step.returncode != 0:
                        raise MatrixError(
                            f"Cannot create a virtual environment with {interpreter.executable}.",
                            hint=f"Check that this Python can run `-m venv` (log: {log_path}).",
                        )
                step = run.run(
                    "seed",
                    [str(seed / "bin" / "python"), "-m", "pip", "install", "-q", *self.requirements],
                    self.root,
                )
            except _CellTimeout as exc:
                raise MatrixError(
                    f"Preparing the test environment for Python {interpreter.requested} timed out.",
                    hint="Check the network access to the package index, or raise matrix timeout.",
                ) from exc
        finally:
            run.close()
        if step.returncode != 0:
            tail = "\n".join(step.output.strip().splitlines()[-5:])
            raise MatrixError(
                f"Cannot install the test tools ({', '.join(self.requirements)}) for Python "
                f"{interpreter.requested}:\n{tail}",
                hint="Check test-requires in [tool.releaselib.matrix] and the access to the package index.",
            )


_virtualenv_available: bool | None = None


def _has_virtualenv() -> bool:
    global _virtualenv_available
    if _virtualenv_available is None:
        try:
            import virtualenv  # noqa: F401
        except ImportError:
            _virtualenv_available = False
        else:
            _virtualenv_available = True
    return _virtualenv_available


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dst)


def _copy_venv(seed: Path, dest: Path) -> None:
    """A private copy of the seed environment at ``dest``.

    Files are hard-linked, not copied: ten cells copying a 40 MB environment
    cost more than the tests on a small machine, and the cost is disk time
    that parallel jobs do not divide. Sharing is safe because nothing in a cell
    writes an existing file in place: pip and Python's bytecode cache write
    new files and rename them over old ones, which breaks the link. The few
    files that hold the seed's own path are rewritten as new files.
    """
    shutil.copytree(seed, dest, symlinks=True, copy_function=_link_or_copy)
    # Scripts and activate files carry the seed's absolute path; point them at the copy,
    # or a `pytest` script would run in the seed environment, without the project.
    old, new = str(seed).encode(), str(dest).encode()
    for path in [*(dest / "bin").iterdir(), dest / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        mode = path.stat().st_mode
        path.unlink()  # never write through the hard link into the seed
        path.write_bytes(data.replace(old, new))
        path.chmod(mode)


