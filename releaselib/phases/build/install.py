"""Install each built file into a fresh environment and run the project's tests against it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releaselib.core.errors import BuildError
from releaselib.infra import envcache, processes, venv
from releaselib.phases.build.artifacts import RESUME_HINT, Artifact, InterpreterLike
from releaselib.phases.build.steps import _run, _tail
from releaselib.phases.installed import installed_distribution, probe_argv, read_probe, shell_argv, tests_copy
from releaselib.phases.matrix.environments import tool_modules

# --------------------------------------------------------------------------- install tests


@dataclass(frozen=True)
class InstallTest:
    """The outcome of installing one file on one interpreter and running the tests against it."""

    filename: str
    python: str  # exact version
    passed: bool
    duration: float
    log: Path
    detail: str = ""
    imported: dict[str, str] = field(default_factory=dict)  # module -> file it was imported from

    def as_record(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "python": self.python,
            "passed": self.passed,
            "duration": round(self.duration, 2),
            "log": str(self.log),
            "detail": self.detail,
            "imported": dict(self.imported),
        }


def create_venv(
    interpreter: InterpreterLike, dest: Path, *, log: Path | None = None, timeout: float = 300.0, with_pip: bool = True
) -> Path:
    """A fresh virtual environment at ``dest`` on ``interpreter`` (pip inside unless ``with_pip`` is false).

    Made by :func:`releaselib.infra.venv.create` (uv, else ``-m venv``);
    returns its python. Raises :class:`BuildError` when it cannot be made.
    """
    what = f"Creating a virtual environment on Python {interpreter.version}"
    try:
        return venv.create(interpreter.executable, dest, log=log, timeout=timeout, with_pip=with_pip).python
    except venv.VenvError as exc:
        raise BuildError(exc.message, hint=exc.hint) from exc
    except processes.CommandTimeout as exc:
        raise BuildError(f"{what} did not finish within {timeout:.0f} s.", hint="Check the disk and the load.") from exc


class TestEnvironments:
    """One environment per interpreter holding the test requirements, made in the background
    while the files build, and copied (:func:`releaselib.infra.venv.copy`) for each install test.

    The floor of the work: made once per Python rather than once per file, and
    on the core the sdist build and the checks leave idle. Its bytecode is
    compiled for the test tools every install test imports. It never holds
    the project: each install test installs its file into its own copy. An
    environment that cannot be made is not an error here: that install test
    makes its own, as before, and reports what fails. Where it may be, it is
    kept between runs (:mod:`releaselib.infra.envcache`), keyed by the
    versions a fresh install would get.
    """

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, root: Path, test_requires: Sequence[str], *, timeout: float) -> None:
        self.root = root
        self.test_requires = tuple(test_requires)
        self.timeout = timeout
        self._scope = processes.Scope()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="install-test-envs")
        self._made: dict[str, Future[tuple[Path, Path] | None]] = {}

    def start(self, interpreters: Sequence[InterpreterLike]) -> None:
        """Begin making the environment of each interpreter, in order, one at a time."""
        for interpreter in interpreters:
            key = os.fspath(interpreter.executable)
            if key not in self._made:
                self._made[key] = self._pool.submit(self._make, interpreter, self.root / f"env-{len(self._made)}")

    def _make(self, interpreter: InterpreterLike, dest: Path) -> tuple[Path, Path] | None:
        """The environment (kept between runs where it may be, :mod:`releaselib.infra.envcache`) and its log."""
        log = dest.with_suffix(".log")
        modules = tool_modules(self.test_requires)
        try:
            if self.test_requires:
                kept = envcache.environment(
                    interpreter.executable, self.test_requires, warm=modules, log=log, timeout=self.timeout,
                    make=lambda at, pins, made_log: self._make_at(interpreter, at, pins, modules, made_log),
                    scope=self._scope,
                )  # fmt: skip
                if kept is not None:
                    return kept, log
            self._make_at(interpreter, dest, self.test_requires, modules, log)
        except Exception:  # noqa: BLE001 - whatever it was, the install test makes its own and reports it
            return None
        return dest, log

    def _make_at(self, interpreter: InterpreterLike, dest: Path, requirements: Sequence[str],
                 modules: Sequence[str], log: Path) -> None:  # fmt: skip
        environment = venv.create(interpreter.executable, dest, log=log, timeout=self.timeout, scope=self._scope)
        env = environment.env()
        if requirements:
            done = venv.install(environment, list(requirements), log=log, timeout=self.timeout,
                                title="test requirements install", env=env, scope=self._scope)  # fmt: skip
            if done.returncode != 0:
                raise venv.VenvError(f"installing {', '.join(requirements)} failed; see {log}")
        if modules:
            venv.warm(environment, modules, log=log, timeout=self.timeout, scope=self._scope)

    def copy_for(self, interpreter: InterpreterLike, dest: Path, log: Path) -> bool:
        """A copy of ``interpreter``'s environment at ``dest``, its making noted in ``log``; False without one."""
        future = self._made.get(os.fspath(interpreter.executable))
        made = future.result() if future is not None else None
        if made is None:
            return False
        environment, made_log = made
        venv.copy(environment, dest)
        with log.open("a", encoding="utf-8") as out:
            out.write(f"## test environment: a copy of {environment}, made for Python {interpreter.version} while "
                      "the files were built; its log:\n")
            if made_log.is_file():
                out.write(made_log.read_text(encoding="utf-8", errors="replace").rstrip("\n") + "\n")
        return True

    def close(self) -> None:
        """End whatever is still being made (a command running is killed), and wait for it."""
        self._scope.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _tests_copy(repo_export: Path, dest: Path, import_name: str | None) -> Path:
    """A copy of the export without the sources, so only the installed package can be imported."""
    shadows = {"src", "build", "dist"}
    if import_name:
        shadows.add(import_name.split(".")[0])

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory).resolve() == repo_export.resolve():
            return {n for n in names if n in shadows or n.endswith(".egg-info")}
        return {n for n in names if n == "__pycache__"}

    shutil.copytree(repo_export, dest, ignore=ignore)
    return dest


def install_test(
    artifact: Artifact,
    interpreter: InterpreterLike,
    repo_export: Path,
    test_command: str,
    *,
    logs_dir: Path,
    test_requires: Sequence[str] = ("pytest",),
    import_name: str | None = None,
    extension_check: str | None = None,
    drop_env: Sequence[str] = (),
    timeout: float = 900.0,
    workdir: Path | None = None,
    distribution: str | None = None,
    environments: TestEnvironments | None = None,
) -> InstallTest:
    """Install ``artifact`` into a fresh venv on ``interpreter`` and run ``test_command`` against it.

    The wheel is installed from its file, the sdist through pip's isolated
    build (its build requirements from the configured indexes); test
    requirements come from anywhere, pip's cache allowed, but the project's
    own file never goes through the cache (``--no-cache-dir``). The tests run
    from a copy of ``repo_export`` without ``src/`` (nor a top-level package
    folder), so they can only import what was installed; the function then
    checks that ``import_name`` really resolves inside the venv and, for
    compiled files, that ``extension_check`` prints ``True``. With
    ``distribution`` (the project's name on the index) the copy leaves out
    every top-level package and module the installed distribution holds, and
    each of them, and each compiled module of a binary file, must import from
    inside the venv (see :mod:`releaselib.phases.installed`). The test
    command runs through ``/bin/sh -c``, as in the test matrix. With
    ``environments``, the venv is a copy of the interpreter's environment
    made there (the test requirements already in), where there is one. Returns an
    :class:`InstallTest`; raises :class:`BuildError` naming the file, the
    Python version and the log when installing or testing fails.
    """
    slug = f"{artifact.filename}-py{interpreter.version}"
    log = logs_dir / f"install-test-{slug}.log"
    if log.exists():
        log.unlink()
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="install-test-", dir=workdir))
    what = f"the {artifact.kind} {artifact.filename}"
    imported: dict[str, str] = {}
    try:
        copied = environments is not None and environments.copy_for(interpreter, base / "venv", log)
        if not copied:
            create_venv(interpreter, base / "venv", log=log, timeout=timeout, with_pip=False)
        env_dir = venv.VirtualEnv(base / "venv")
        python = env_dir.python
        # The environment of a matrix cell: the venv activated on the maintainer's PATH, never releaselib's
        # own bin (a project's tests that run `mypy` when it is on PATH must see the same tools in 01 and 05).
        env = processes.child_env(drop=drop_env, venv=env_dir.root)

        def step(
            command: Sequence[str | os.PathLike[str]], label: str, cwd: Path | None = None, *,
            install: bool = False, no_cache: bool = False,
        ) -> str:  # fmt: skip
            title = f"{label} ({what}, Python {interpreter.version})"
            if install:  # through the one installer: uv where available, else the venv's pip
                try:
                    proc = venv.install(env_dir, command, log=log, timeout=timeout, title=title, env=env,
                                        no_cache=no_cache)  # fmt: skip
                except processes.CommandTimeout as exc:
                    raise BuildError(f"{title} did not finish within {timeout:.0f} s; see {log}.",
                                     hint="Check the index and the load, then resume.") from exc  # fmt: skip
            else:
                proc = _run(command, log=log, what=title, cwd=cwd, env=env, timeout=timeout)
            if proc.returncode != 0:
                raise BuildError(
                    f"{what[0].upper()}{what[1:]} failed its {label} on Python {interpreter.version}; see {log}.\n"
                    f"{_tail(proc.stdout, 1200)}",
                    hint="Fix the project at the tagged commit (move the tag with a new commit_tag run), then "
                    f"`releaselib run VERSION --resume` ({RESUME_HINT}).",
                )
            return proc.stdout

        if test_requires and not copied:
            step(list(test_requires), "test requirements install", install=True)
        # The project never comes from a cache: it is the file just built, built again here for an sdist.
        step([artifact.path], "installation", install=True, no_cache=True)
        installed = installed_distribution(base / "venv", distribution) if distribution else None
        if distribution and installed is None:
            raise BuildError(
                f"Installing {what} on Python {interpreter.version} left no distribution {distribution!r} in the "
                f"environment; see {log}.",
                hint="Check [project].name against `package` in [tool.releaselib].",
            )
        tests_dir = (
            tests_copy(repo_export, base / "project", installed)
            if installed else _tests_copy(repo_export, base / "project", import_name)
        )
        if installed is not None:
            compiled = artifact.kind == "sdist" or not artifact.is_pure
            proof = read_probe(
                step(probe_argv(python, installed, compiled=compiled), "import check", cwd=tests_dir),
                base / "venv", installed,
            )
            imported.update(proof.modules)
            if not proof.ok:
                raise BuildError(
                    f"{what} was not the code under test on Python {interpreter.version}: "
                    + "; ".join(proof.problems) + f"; see {log}.",
                    hint="Something on the path shadows the installed package (PYTHONPATH, a .pth file, a "
                    "conftest that edits sys.path); the tests must import what was installed.",
                )
            if proof.dunder_version and proof.version and proof.dunder_version != proof.version:
                raise BuildError(
                    f"{what} installed on Python {interpreter.version} says __version__ {proof.dunder_version!r} "
                    f"but its metadata says {proof.version!r}; see {log}.",
                    hint="The version files disagree; fix `version-files` in [tool.releaselib] so the bump sets both.",
                )
            if artifact.kind == "wheel" and not artifact.is_pure and not installed.compiled:
                raise BuildError(
                    f"{what} installed on Python {interpreter.version} without any compiled module; see {log}.",
                    hint="The wheel is tagged for a platform but holds only pure Python; look for the compiler "
                    "error in the build log.",
                )
        elif import_name:
            where = step(
                [python, "-c", f"import {import_name} as m, os; print(os.path.realpath(m.__file__))"],
                "import check",
                cwd=tests_dir,
            ).strip().splitlines()[-1]
            site = os.path.realpath(base / "venv")
            if not where.startswith(site):
                raise BuildError(
                    f"{what} was not the code under test on Python {interpreter.version}: {import_name} was "
                    f"imported from {where}, outside the test environment; see {log}.",
                    hint="Something on the path shadows the installed package (a flat layout or PYTHONPATH); "
                    "use a src layout or remove the shadowing folder.",
                )
        if extension_check and not artifact.is_pure:
            answer = step([python, "-c", extension_check], "extension check", cwd=tests_dir).strip()
            if not answer.endswith("True"):
                raise BuildError(
                    f"{what} installed on Python {interpreter.version} without its C extension (the extension "
                    f"check printed {answer[-200:]!r}); see {log}.",
                    hint="The compiled module did not load; look for the compiler or import error in the log.",
                )
        # The venv's bin is first on PATH: `python` and `pytest` are the venv's own.
        step(shell_argv(test_command), "tests", cwd=tests_dir)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return InstallTest(
        artifact.filename, interpreter.version, True, time.monotonic() - started, log, imported=imported
    )


