"""The test matrix: every configured Python, with and without the C extension.

Each cell of the matrix gets its own fresh virtual environment, installs the
project from the release commit (a ``git archive`` export, so stray files in
the working tree never reach a test), checks that the C extension is loaded,
or absent, as the cell claims, then runs the test command and the doctests.
A cell whose extension silently fell back to pure Python is a failure.

Speed without sharing state between cells: one seed environment per
interpreter holds the test tools and the build requirements; each cell gets a
copy of it. pip's cache serves third-party packages; the project itself is
always installed with ``--no-cache-dir`` (pip would otherwise reuse a wheel
built with the extension for a cell that asked for none).
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import Interpreter, InterpreterSet, find_interpreters

if TYPE_CHECKING:
    from releaselib.engine.context import Release

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
TIMEOUT = "timeout"

#: Reason given when a "with extension" cell ran on the pure-Python fallback.
EXTENSION_NOT_LOADED = "the C extension did not load (fell back to pure Python)"

#: Reason given when a "with extension" cell could not even build the extension.
EXTENSION_BUILD_FAILED = "the C extension did not load: its build failed"

# What setuptools prints when a compiler step of build_ext fails.
_C_BUILD_FAILED = re.compile(r"error: command .*(gcc|cc|clang|cl\.exe|x86_64-linux-gnu-gcc).* failed|building '[\w.]+' extension")

# Build requirements assumed by pip for a project without [build-system].
_LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")

# Variables that would let the caller's environment leak into a cell.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYENV_VERSION", "__PYVENV_LAUNCHER__")


@dataclass(frozen=True)
class MatrixCell:
    """One interpreter, with the extension (True), without it (False), or a pure project (None)."""

    interpreter: Interpreter
    extension: bool | None

    @property
    def name(self) -> str:
        """``py3.12-ext``, ``py3.12-noext``, or ``py3.12`` for a project without an extension."""
        if self.extension is None:
            return self.interpreter.label
        return f"{self.interpreter.label}-{'ext' if self.extension else 'noext'}"

    @property
    def log_name(self) -> str:
        return f"test-{self.name}.log"

    def describe(self) -> str:
        state = {True: "with the C extension", False: "without the C extension", None: ""}[self.extension]
        return f"Python {self.interpreter.requested} ({self.interpreter.version}) {state}".strip()


@dataclass(frozen=True)
class CellResult:
    """What one cell did. ``log`` is relative to the record folder (``logs/test-py3.12-ext.log``)."""

    python: str
    version: str
    extension: bool | None
    result: str  # "passed" | "failed" | "error" | "timeout"
    tests_passed: int | None
    tests_failed: int | None
    duration: float
    log: str
    reason: str = ""
    doctests_passed: int | None = None
    doctests_failed: int | None = None
    executable: str = ""

    @property
    def ok(self) -> bool:
        return self.result == PASSED

    @property
    def extension_label(self) -> str:
        return {True: "with extension", False: "without extension", None: "pure Python"}[self.extension]

    def counts(self) -> str:
        """``12 passed / 0 failed`` (``-`` when the test command never reported)."""
        if self.tests_passed is None and self.tests_failed is None:
            text = "-"
        else:
            text = f"{self.tests_passed or 0} passed / {self.tests_failed or 0} failed"
        if self.doctests_passed is not None or self.doctests_failed is not None:
            text += f"; doctests {self.doctests_passed or 0}/{self.doctests_failed or 0}"
        return text


@dataclass
class MatrixResult:
    """Every cell's result, plus the configured versions that were skipped."""

    cells: list[CellResult]
    skipped: list[str] = field(default_factory=list)
    commit: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True when there was at least one cell and every cell passed."""
        return bool(self.cells) and all(cell.ok for cell in self.cells)

    def failures(self) -> list[CellResult]:
        return [cell for cell in self.cells if not cell.ok]

    def as_record(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per cell, in matrix order."""
        return [asdict(cell) for cell in self.cells]

    def raise_for_failures(self) -> None:
        """Raise :class:`MatrixError` naming every failed cell, its reason and its log file."""
        failed = self.failures()
        if not failed:
            if not self.cells:
                raise MatrixError("The test matrix ran no cell.", hint="Configure at least one Python that is installed.")
            return
        lines = [f"{len(failed)} of {len(self.cells)} test matrix cell(s) failed:"]
        for cell in failed:
            lines.append(
                f"  - Python {cell.python} ({cell.version}) {cell.extension_label}: {cell.result}"
                f" - {cell.reason} (log: {cell.log})"
            )
        raise MatrixError(
            "\n".join(lines),
            hint="Read the log, fix the problem and commit, then resume with `releaselib run VERSION --resume`.",
        )

    # -- display ---------------------------------------------------------
    def _grid(self) -> tuple[list[str], list[bool | None], dict[tuple[str, bool | None], CellResult]]:
        pythons = list(dict.fromkeys(cell.python for cell in self.cells))
        states = [s for s in (True, False, None) if any(cell.extension is s for cell in self.cells)]
        return pythons, states, {(cell.python, cell.extension): cell for cell in self.cells}

    def __str__(self) -> str:
        pythons, states, by_key = self._grid()
        header = ["python"] + [_STATE_TITLES[s] for s in states]
        rows = [header]
        for python in pythons:
            row = [f"{python} ({_version_of(by_key, python)})"]
            for state in states:
                cell = by_key.get((python, state))
                row.append(
                    "" if cell is None else f"{cell.result.upper()} {cell.counts()} {cell.duration:.1f}s {cell.log}"
                )
            rows.append(row)
        for version in self.skipped:
            rows.append([version] + ["skipped (not found, allowed to be missing)"] + [""] * (len(states) - 1))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [f"Test matrix at {self.commit[:12] or '?'}: {'PASSED' if self.ok else 'FAILED'}"]
        lines += ["  ".join(text.ljust(widths[i]) for i, text in enumerate(r)).rstrip() for r in rows]
        for cell in self.failures():
            lines.append(f"  {cell.python} {cell.extension_label}: {cell.reason}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        pythons, states, by_key = self._grid()
        head = "".join(f"<th>{_STATE_TITLES[s]}</th>" for s in states)
        body = []
        for python in pythons:
            tds = []
            for state in states:
                cell = by_key.get((python, state))
                if cell is None:
                    tds.append("<td></td>")
                    continue
                colour = "#d4edda" if cell.ok else "#f8d7da"
                reason = f"<br><small>{html.escape(cell.reason)}</small>" if cell.reason else ""
                tds.append(
                    f'<td style="background:{colour}"><strong>{cell.result}</strong> '
                    f"{html.escape(cell.counts())} &middot; {cell.duration:.1f}s &middot; "
                    f'<a href="{html.escape(cell.log)}">log</a>{reason}</td>'
                )
            version = html.escape(_version_of(by_key, python))
            body.append(f"<tr><th>{html.escape(python)} <small>({version})</small></th>{''.join(tds)}</tr>")
        for version in self.skipped:
            body.append(
                f"<tr><th>{html.escape(version)}</th><td colspan={max(len(states), 1)}>"
                "<em>skipped: not found, allowed to be missing</em></td></tr>"
            )
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"<p><strong>Test matrix</strong> at <code>{html.escape(self.commit[:12])}</code>: {verdict}"
            f" ({len(self.cells)} cells, {self.duration:.1f}s)</p>"
            f"<table><thead><tr><th>Python</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


_STATE_TITLES = {True: "with extension", False: "without extension", None: "tests"}


def _version_of(by_key: dict[tuple[str, bool | None], CellResult], python: str) -> str:
    return next((cell.version for (p, _), cell in by_key.items() if p == python), "")


# -- summary parsing ---------------------------------------------------------
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")
_PYTEST_SUMMARY = re.compile(r"\b\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b.* in [\d.]+s")
_DOCTEST_TOTAL = re.compile(r"^(\d+) tests? in \d+ items?\.$", re.MULTILINE)
_DOCTEST_FAILED = re.compile(r"\*\*\*Test Failed\*\*\* (\d+) failures?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def parse_pytest_summary(output: str) -> tuple[int, int] | None:
    """(passed, failed) from pytest's last summary line (``5 passed, 1 failed in 0.12s``).

    Errors count as failures. Returns None when no summary line is found.
    """
    lines = [line for line in _ANSI.sub("", output).splitlines() if _PYTEST_SUMMARY.search(line)]
    if not lines:
        if re.search(r"\bno tests ran\b", output):
            return (0, 0)
        return None
    passed = failed = 0
    for number, kind in _PYTEST_COUNT.findall(lines[-1]):
        if kind == "passed":
            passed += int(number)
        else:
            failed += int(number)
    return passed, failed


def parse_doctest_summary(output: str) -> tuple[int, int] | None:
    """(passed, failed) examples from ``python -m doctest -v`` output, or None.

    Reads the "N tests in M items." total and the "***Test Failed*** K
    failures" line, whose wording is the same from 3.6 to 3.13 (the
    "passed and failed" line is not).
    """
    output = _ANSI.sub("", output)
    failures = _DOCTEST_FAILED.findall(output)
    failed = int(failures[-1]) if failures else 0
    totals = _DOCTEST_TOTAL.findall(output)
    if totals:
        return int(totals[-1]) - failed, failed
    if failures:
        return 0, failed
    return None


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
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
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


def _cells(interpreters: InterpreterSet, with_extension_toggle: bool) -> list[MatrixCell]:
    # Extension cells first: the first N cells use N different interpreters,
    # so parallel workers make different seeds instead of waiting on one.
    states: tuple[bool | None, ...] = (True, False) if with_extension_toggle else (None,)
    return [MatrixCell(i, state) for state in states for i in interpreters]


def _run_cell(
    cell: MatrixCell,
    *,
    archive: bytes,
    commit: str,
    matrix: Any,
    seeds: _Seeds,
    workdir: Path,
    logs_dir: Path,
    record_dir: Path,
) -> CellResult:
    clock = {"start": time.monotonic()}  # restarted once the seed is ready
    log_path = logs_dir / cell.log_name
    cell_dir = workdir / cell.name
    shutil.rmtree(cell_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True)
    venv, src = cell_dir / "venv", cell_dir / "src"
    env = _clean_env(venv)
    if matrix.no_extension_env:
        if cell.extension is False:
            env[matrix.no_extension_env] = "1"
        else:
            env.pop(matrix.no_extension_env, None)  # the caller's shell must not disable the build
    run = _CellRun(log_path, clock["start"] + matrix.timeout, env, seeds.running)
    interp = cell.interpreter
    counts: dict[str, int | None] = {"tp": None, "tf": None, "dp": None, "df": None}
    result, reason = PASSED, ""

    def finish() -> CellResult:
        duration = time.monotonic() - clock["start"]
        run.note(f"\n===== result: {result}{' - ' + reason if reason else ''} ({duration:.1f}s)")
        run.close()
        return CellResult(
            python=interp.requested,
            version=interp.version,
            extension=cell.extension,
            result=result,
            tests_passed=counts["tp"],
            tests_failed=counts["tf"],
            duration=round(duration, 2),
            log=os.path.relpath(log_path, record_dir),
            reason=reason,
            doctests_passed=counts["dp"],
            doctests_failed=counts["df"],
            executable=str(interp.executable),
        )

    run.note(f"releaselib test matrix cell {cell.name}: {cell.describe()}")
    run.note(f"interpreter: {interp.executable} ({interp.version}, {interp.cache_tag}, {interp.platform})")
    run.note(f"commit: {commit}")
    if matrix.no_extension_env:
        state = env.get(matrix.no_extension_env, "<unset>")
        run.note(f"{matrix.no_extension_env}={state}")
    python = str(venv / "bin" / "python")
    try:
        try:
            seed = seeds.get(interp)
        except MatrixError as exc:
            result, reason = ERROR, exc.message.splitlines()[0]
            run.note(str(exc))
            seed_log = seeds.log_path(interp)
            if seed_log.is_file():
                run.note(f"\n===== log of the seed environment\n{seed_log.read_text(errors='replace')}")
            return finish()
        # Duration and timeout are the cell's own work; making or waiting for
        # the shared seed does not count (it shows in the matrix's total).
        run.note(f"seed environment ready after {time.monotonic() - clock['start']:.1f}s: {seed}")
        clock["start"] = time.monotonic()
        run.deadline = clock["start"] + matrix.timeout
        _copy_venv(seed, venv)
        _extract(archive, src)
        install = run.run(
            "install",
            [python, "-m", "pip", "install", "--no-cache-dir", "--no-build-isolation", "--progress-bar", "off", "."],
            src,
        )
        if install.returncode != 0:
            # A project that cannot be installed is the project's failure, not the harness's.
            result = FAILED
            if cell.extension and _C_BUILD_FAILED.search(install.output):
                reason = f"{EXTENSION_BUILD_FAILED} (pip exit {install.returncode})"
            else:
                reason = f"installing the project failed (pip exit {install.returncode})"
            return finish()
        if cell.extension is not None and not matrix.extension_check:
            run.note("no extension-check configured: whether the extension loaded is not verified")
        if matrix.extension_check and cell.extension is not None:
            check = run.run("extension check", [python, "-c", matrix.extension_check], src)
            said = check.output.strip().splitlines()[-1].strip() if check.output.strip() else ""
            if check.returncode != 0:
                result, reason = FAILED, f"the extension check failed (exit {check.returncode})"
            elif said not in ("True", "False"):
                result, reason = FAILED, f"the extension check printed {said!r}, expected True or False"
            elif cell.extension and said == "False":
                result, reason = FAILED, EXTENSION_NOT_LOADED
            elif not cell.extension and said == "True":
                result, reason = FAILED, (
                    f"the C extension loaded although {matrix.no_extension_env}=1 asked for pure Python"
                )
        # Tests run even after a failed extension check: their counts tell whether
        # the fallback itself works, which helps whoever reads the log.
        tests = run.run("tests", matrix.test_command, src, shell=True)
        parsed = parse_pytest_summary(tests.output)
        if parsed is not None:
            counts["tp"], counts["tf"] = parsed
        if tests.returncode != 0 and result == PASSED:
            result = FAILED
            if counts["tf"]:
                reason = f"{counts['tf']} test(s) failed"
            else:
                reason = f"the test command exited with code {tests.returncode}"
        if matrix.doctest_command:
            doctests = run.run("doctests", matrix.doctest_command, src, shell=True)
            parsed = parse_doctest_summary(doctests.output)
            if parsed is not None:
                counts["dp"], counts["df"] = parsed
            if doctests.returncode != 0 and result == PASSED:
                result = FAILED
                reason = f"the doctests failed (exit {doctests.returncode})"
    except _CellTimeout as exc:
        result, reason = TIMEOUT, f"exceeded the {matrix.timeout:g} s timeout during {exc.step}"
    except _Stopped:
        result, reason = ERROR, "interrupted before it finished"
    except Exception as exc:  # noqa: BLE001 - one broken cell must not lose the others' results
        result, reason = ERROR, f"{type(exc).__name__}: {exc}"
        run.note(traceback.format_exc())
    finally:
        shutil.rmtree(cell_dir, ignore_errors=True)
    return finish()


def run_matrix(
    release: Release,
    *,
    jobs: int | None = None,
    interpreters: InterpreterSet | None = None,
    commit: str | None = None,
    seed_dir: str | os.PathLike[str] | None = None,
    record: bool = True,
) -> MatrixResult:
    """Run the project's tests on every interpreter, with and without the C extension.

    ``release`` is a :class:`releaselib.engine.context.Release`; its
    ``config.matrix`` says what to run. The cells run in parallel, up to
    ``jobs`` at once (default: the number of cores), on the tree of
    ``commit`` (default: HEAD of ``release.repo``, the release commit when
    the phase runs). Each cell's full output goes to
    ``release.logs_dir / "test-py3.X-ext.log"`` (or ``-noext``).

    ``seed_dir`` keeps the per-interpreter seed environments between runs
    (default: a temporary folder removed at the end). With ``record`` (the
    default) the results are recorded under ``matrix`` and the skipped
    versions under ``matrix_skipped``.

    Returns a :class:`MatrixResult` whatever the cells did; call
    :meth:`MatrixResult.raise_for_failures` to fail on a failed cell. Raises
    :class:`MatrixError` when no Python is configured or found, when a
    configured Python is missing and not allowed to be, or when the commit
    cannot be exported.
    """
    matrix = release.config.matrix
    if not matrix.python:
        raise MatrixError(
            "No Python version is configured for the test matrix.",
            hint='Add python = ["3.12", ...] to [tool.releaselib.matrix] in pyproject.toml.',
        )
    if interpreters is None:
        interpreters = find_interpreters(matrix.python, allow_missing=matrix.allow_missing)
    if not len(interpreters):
        raise MatrixError(
            f"None of the configured Pythons ({', '.join(matrix.python)}) is installed; nothing can be tested.",
            hint="Install at least one of them, e.g. `pyenv install " + matrix.python[-1] + "`.",
        )
    repo = Path(release.repo)
    commit = commit or _head_commit(repo)
    archive = export_commit(repo, commit)
    logs_dir = Path(release.logs_dir)
    record_dir = Path(release.record_dir)
    started = time.monotonic()
    cells = _cells(interpreters, bool(matrix.no_extension_env))
    workers = max(1, min(jobs or os.cpu_count() or 1, len(cells)))

    with tempfile.TemporaryDirectory(prefix="releaselib-matrix-") as tmp:
        workdir = Path(tmp)
        export = workdir / "export"
        _extract(archive, export)
        requirements = tuple(dict.fromkeys([*matrix.test_requires, *build_requires(export)]))
        seeds_root = Path(seed_dir) if seed_dir is not None else workdir / "seeds"
        seeds_root.mkdir(parents=True, exist_ok=True)
        running = _Running()
        seeds = _Seeds(seeds_root, requirements, matrix.timeout, running)
        kwargs: dict[str, Any] = {
            "archive": archive, "commit": commit, "matrix": matrix, "seeds": seeds,
            "workdir": workdir, "logs_dir": logs_dir, "record_dir": record_dir,
        }
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matrix")
        futures = [pool.submit(_run_cell, cell, **kwargs) for cell in cells]
        try:
            results = [future.result() for future in futures]
        except BaseException:
            # An interrupted kernel (KeyboardInterrupt) must not leave tests running
            # in sessions of their own, nor wait for the queued cells.
            for future in futures:
                future.cancel()
            running.stop()
            raise
        finally:
            pool.shutdown(wait=True)

    # Present row by row (interpreter), with-extension first, whatever order they ran in.
    order = {(c.interpreter.requested, c.extension): n for n, c in enumerate(sorted(
        cells, key=lambda c: (list(interpreters).index(c.interpreter), c.extension is not True)))}
    results.sort(key=lambda r: order[(r.python, r.extension)])
    outcome = MatrixResult(
        cells=results, skipped=list(interpreters.skipped), commit=commit, duration=round(time.monotonic() - started, 2)
    )
    if record and hasattr(release, "record"):
        release.record("matrix", outcome.as_record())
        release.record("matrix_skipped", outcome.skipped)
    return outcome
