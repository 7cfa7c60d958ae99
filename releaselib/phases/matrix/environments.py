"""How the matrix runs commands and makes environments: logs, deadlines, seeds, the export.

Every command goes through :mod:`releaselib.infra.processes` (a session of its
own, the cell's deadline as its timeout, the whole group killed on timeout or
interrupt) and every environment through :mod:`releaselib.infra.venv` (uv,
else venv + pip).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.core.errors import GitError, MatrixError
from releaselib.infra import envcache, export, processes, venv
from releaselib.infra.interpreters import Interpreter

# Build requirements assumed by pip for a project without [build-system].
_LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")

#: Every command of the matrix runs in this scope: an interrupt stops them all (and no new one starts).
_Running = processes.Scope
_Stopped = processes.Stopped


# -- running -----------------------------------------------------------------
class _CellTimeout(Exception):
    def __init__(self, step: str) -> None:
        self.step = step


@dataclass
class _Step:
    returncode: int
    output: str


class _CellRun:
    """The log of one cell and the commands it runs, all under one deadline."""

    def __init__(self, log_path: Path, deadline: float, env: dict[str, str], running: processes.Scope) -> None:
        self.log_path = log_path
        self.deadline = deadline
        self.env = env
        self.running = running
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("", encoding="utf-8")

    def note(self, text: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(text.rstrip("\n") + "\n")

    def run(
        self, step: str, argv: Sequence[str] | str, cwd: Path, *, shell: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> _Step:  # fmt: skip
        """Run one command, its output appended to the log; raise _CellTimeout past the deadline."""
        env = {**self.env, **extra_env} if extra_env else self.env
        return self._finish(step, lambda remaining: processes.run(
            argv, cwd=cwd, env=env, shell=shell, timeout=remaining, log=self.log_path, title=step,
            scope=self.running))  # fmt: skip

    def install(self, step: str, environment: venv.VirtualEnv, args: Sequence[str], cwd: Path,
                **options: Any) -> _Step:
        """``pip install ARGS`` into ``environment`` through the one installer (uv, else pip), under the deadline."""
        return self._finish(step, lambda remaining: venv.install(
            environment, args, cwd=cwd, env=self.env, timeout=remaining, log=self.log_path, title=step,
            scope=self.running, **options))  # fmt: skip

    def install_project(self, step: str, environment: venv.VirtualEnv, settings: Sequence[str], cwd: Path) -> _Step:
        """The project in ``cwd`` installed into ``environment``, no isolation, no cache (:func:`venv.install_project`)."""
        return self._finish(step, lambda remaining: venv.install_project(
            environment, cwd, settings=settings, env=self.env, timeout=remaining, log=self.log_path, title=step,
            scope=self.running))  # fmt: skip

    def _finish(self, step: str, start: object) -> _Step:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _CellTimeout(step)
        try:
            done = start(remaining)  # type: ignore[operator]
        except processes.CommandTimeout:
            self.note(f"## {step}: killed at the cell's deadline")
            raise _CellTimeout(step) from None
        except processes.Stopped:
            self.note(f"## {step}: stopped (the matrix was interrupted)")
            raise
        return _Step(done.returncode, done.stdout)

    def close(self) -> None:
        """Nothing to release: the log is opened for each write."""


def _clean_env(venv_dir: Path | None = None) -> dict[str, str]:
    return processes.child_env(venv=venv_dir)


def _head_commit(repo: Path) -> str:
    try:
        commit = export.resolve_commit(repo, "HEAD")
    except GitError as exc:
        raise MatrixError(exc.message, hint=exc.hint) from exc
    if commit is None:
        raise MatrixError(
            f"{repo} has no commit to test.",
            hint="Run the test phase in the project's git repository, after the release commit is made.",
        )
    return commit


def export_commit(repo: Path, commit: str) -> bytes:
    """The tree of ``commit`` as a tar archive (``git archive``): tracked files only."""
    try:
        return export.archive_of(repo, commit)
    except GitError as exc:
        raise MatrixError(exc.message, hint="Check that the commit exists in the repository.") from exc


def _extract(archive: bytes, dest: Path) -> None:
    dest.mkdir(parents=True)
    export.extract(archive, dest)


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


def dynamic_build_requires(run: _CellRun, python: str, project: Path, config_settings: Mapping[str, str]) -> list[str]:
    """What the project's PEP 517 backend asks for beyond ``[build-system] requires``, for a wheel.

    The matrix builds without isolation from a seed holding the static
    requirements; a backend may add more in ``get_requires_for_build_wheel``
    (frozenlist's in-tree backend asks for Cython only when it builds the
    extension). The hook runs in the cell's interpreter, with the cell's
    environment and config settings. A hook that fails is logged and yields
    nothing: the build that follows fails with the project's own error.
    """
    from pyproject_hooks import BuildBackendHookCaller

    system = _build_system(project)
    backend = system.get("build-backend")
    if not isinstance(backend, str) or not backend:
        return []  # the legacy setup.py build: the seed holds its requirements

    def runner(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        step = run.run("build requirements (get_requires_for_build_wheel)", list(cmd), Path(cwd or project),
                       extra_env=extra_environ)  # fmt: skip
        if step.returncode != 0:
            raise _HookFailed(step.returncode)

    paths = system.get("backend-path")
    caller = BuildBackendHookCaller(str(project), backend, backend_path=paths if isinstance(paths, list) else None,
                                    runner=runner, python_executable=python)  # fmt: skip
    try:
        asked = caller.get_requires_for_build_wheel(dict(config_settings) or None)
    except _HookFailed:
        return []
    static = set(build_requires(project))
    return [str(requirement) for requirement in asked if str(requirement) not in static]


class _HookFailed(Exception):
    """The build backend's hook exited non-zero (its output is in the cell's log)."""


def _build_system(project: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    system = data.get("build-system")
    return system if isinstance(system, dict) else {}


# What a setuptools build imports beyond setuptools.build_meta: it loads every command it has
# (an entry point each), validates pyproject.toml with a generated validator of 370 kB, and
# compiles with distutils. Warmed wherever setuptools is in the seed: an in-tree backend
# (backend-path) that wraps it cannot itself be imported from the seed.
_SETUPTOOLS_BUILD = (
    "setuptools.build_meta", "setuptools.command.*", "setuptools.config.*",
    "setuptools.config._validate_pyproject.*", "distutils.*", "distutils.command.*", "distutils.compilers.C.*",
)


def warm_modules(project: Path, test_requires: Sequence[str]) -> tuple[str, ...]:
    """The modules every cell imports from its seed: the build backend (the cell asks it for its
    requirements and builds the project without isolation, each in a process of its own), and
    pytest when it is a test requirement."""
    backend = "setuptools.build_meta"
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        try:
            declared = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {}).get("build-backend")
        except (OSError, ValueError):
            declared = None
        if isinstance(declared, str) and declared.strip():
            backend = declared.split(":")[0].strip()
    return (backend, *(name for name in _SETUPTOOLS_BUILD if name != backend), *tool_modules(test_requires))


def tool_modules(test_requires: Sequence[str]) -> tuple[str, ...]:
    """The test tool every use of an environment holding ``test_requires`` imports: pytest, when it is one."""
    return ("pytest",) if any(re.match(r"pytest\b(?![-_])", r.strip()) for r in test_requires) else ()


class _Seeds:
    """One seed environment per interpreter, made once and copied for every cell."""

    def __init__(self, root: Path, requirements: Sequence[str], timeout: float, running: _Running,
                 warm: Sequence[str] = (), cache: bool = False) -> None:
        self.root = root
        self.cache = cache
        self._kept: dict[str, Path] = {}
        self.running = running
        self.requirements = tuple(requirements)
        self.warm = tuple(warm)
        self.timeout = timeout
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _key(self, interpreter: Interpreter) -> str:
        text = "\n".join([str(interpreter.executable), interpreter.version, *self.requirements, "warm:", *self.warm])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def log_path(self, interpreter: Interpreter) -> Path:
        return self.root / f"seed-{interpreter.label}-{self._key(interpreter)}.log"

    def get(self, interpreter: Interpreter) -> Path:
        """The seed venv of ``interpreter``, made on first use; raises MatrixError if it cannot be made.

        With a cache (:mod:`releaselib.infra.envcache`), a seed an earlier run
        made with the same pinned versions is used, or the one made here is kept.
        """
        key = self._key(interpreter)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._kept:
                return self._kept[key]
            seed = self.root / f"seed-{interpreter.label}-{key}"
            if (seed / ".releaselib-seed-complete").is_file():
                return seed
            if self.cache:
                kept = self._from_cache(interpreter)
                if kept is not None:
                    self._kept[key] = kept
                    return kept
            shutil.rmtree(seed, ignore_errors=True)
            self._create(interpreter, seed, self.log_path(interpreter))
            (seed / ".releaselib-seed-complete").write_text(key)
            return seed

    def _from_cache(self, interpreter: Interpreter) -> Path | None:
        try:
            return envcache.environment(
                interpreter.executable, self.requirements, warm=self.warm, log=self.log_path(interpreter),
                make=lambda dest, pins, log: self._create(interpreter, dest, log, pins), timeout=self.timeout,
                scope=self.running,
            )  # fmt: skip
        except processes.CommandTimeout as exc:
            raise MatrixError(
                f"Preparing the test environment for Python {interpreter.requested} timed out.",
                hint="Another run was making the same environment; wait for it, or raise matrix timeout.",
            ) from exc

    def _create(self, interpreter: Interpreter, seed: Path, log_path: Path,
                requirements: Sequence[str] | None = None) -> None:
        requirements = self.requirements if requirements is None else tuple(requirements)
        deadline = time.monotonic() + self.timeout
        run = _CellRun(log_path, deadline, _clean_env(), self.running)
        try:
            try:
                environment = venv.create(interpreter.executable, seed, log=log_path, timeout=self.timeout)
            except venv.VenvError as exc:
                raise MatrixError(
                    f"Cannot create a virtual environment with {interpreter.executable}.",
                    hint=f"Check that this Python can run `-m venv` (log: {log_path}).",
                ) from exc
            except processes.CommandTimeout as exc:
                raise _CellTimeout("venv") from exc
            run.env = environment.env()
            # Bytecode compiled once here serves every cell (their copies share the files). With
            # modules to warm, only what the cells import is compiled, by importing it (compiling
            # every file of every tool costs seconds per Python for modules nothing imports).
            step = run.install("seed", environment, list(requirements), self.root,
                               compile_bytecode=not self.warm)  # fmt: skip
            if step.returncode == 0 and self.warm:
                try:
                    venv.warm(environment, self.warm, log=log_path, timeout=max(1.0, deadline - time.monotonic()),
                              scope=self.running)  # fmt: skip
                except processes.CommandTimeout as exc:
                    raise _CellTimeout("seed bytecode") from exc
        except _CellTimeout as exc:
            raise MatrixError(
                f"Preparing the test environment for Python {interpreter.requested} timed out.",
                hint="Check the network access to the package index, or raise matrix timeout.",
            ) from exc
        if step.returncode != 0:
            tail = "\n".join(step.output.strip().splitlines()[-5:])
            raise MatrixError(
                f"Cannot install the test tools ({', '.join(requirements)}) for Python "
                f"{interpreter.requested}:\n{tail}",
                hint="Check test-requires in [tool.releaselib.matrix] and the access to the package index.",
            )


