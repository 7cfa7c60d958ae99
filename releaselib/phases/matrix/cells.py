"""The cells of the matrix and :func:`run_matrix`, which runs them in parallel."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import InterpreterSet, find_interpreters
from releaselib.infra.venv import VirtualEnv, uv_binary
from releaselib.infra.venv import copy as copy_venv
from releaselib.phases.installed import installed_distribution, probe_argv, read_probe, shell_argv, tests_copy
from releaselib.phases.matrix.environments import (
    _CellRun,
    _CellTimeout,
    _clean_env,
    _extract,
    _head_commit,
    _Running,
    _Seeds,
    _Stopped,
    build_requires,
    dynamic_build_requires,
    export_commit,
    warm_modules,
)
from releaselib.phases.matrix.results import (
    ERROR,
    EXTENSION_BUILD_FAILED,
    EXTENSION_NOT_LOADED,
    FAILED,
    PASSED,
    TIMEOUT,
    CellResult,
    MatrixCell,
    MatrixResult,
    parse_doctest_summary,
    parse_pytest_summary,
)

if TYPE_CHECKING:
    from releaselib.engine.context import Release

# What setuptools prints when a compiler step of build_ext fails.
_C_BUILD_FAILED = re.compile(r"error: command .*(gcc|cc|clang|cl\.exe|x86_64-linux-gnu-gcc).* failed|building '[\w.]+' extension")


def _cells(interpreters: InterpreterSet, with_extension_toggle: bool, self_tested: bool = False) -> list[MatrixCell]:
    # Extension cells first: the first N cells use N different interpreters,
    # so parallel workers make different seeds instead of waiting on one.
    states: tuple[bool | None, ...] = (True, False) if with_extension_toggle else (True,) if self_tested else (None,)
    return [MatrixCell(i, state) for state in states for i in interpreters]


def _has_switch(matrix: Any) -> bool:
    """Whether the matrix has "with" and "without" cells (a switch the build reads)."""
    return bool(matrix.no_extension_env or matrix.no_extension_config_settings or matrix.no_extension_global_option)


def _without_settings(matrix: Any) -> list[str]:
    """The PEP 517 config settings of a "without" cell.

    A setup.py global option travels as the config setting ``--global-option``:
    uv has no ``--global-option`` and pip dropped it (25.3), and setuptools'
    backend puts these values before the setup.py command, as pip's option did.
    """
    return [*matrix.no_extension_config_settings,
            *(f"--global-option={option}" for option in matrix.no_extension_global_option)]


def _settings_mapping(settings: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` settings as a PEP 517 hook takes them; a repeated key's values joined by spaces
    (setuptools splits ``--global-option`` and ``--build-option`` values like a shell)."""
    mapping: dict[str, str] = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        mapping[key] = f"{mapping[key]} {value}" if key in mapping else value
    return mapping


def _switch_text(matrix: Any) -> str:
    """How the "without" cells switch the extension off, as configured."""
    if matrix.no_extension_variable:
        return "=".join(matrix.no_extension_variable)
    if matrix.no_extension_global_option:
        return "--global-option " + " ".join(matrix.no_extension_global_option)
    return "--config-settings " + " ".join(matrix.no_extension_config_settings)


def _switch_note(matrix: Any) -> str:
    """How a switch that is not an environment variable reached the build, for the matrix table."""
    if not (matrix.no_extension_global_option or matrix.no_extension_config_settings):
        return ""
    installer = "pip (with --use-pep517)" if uv_binary() is None else "uv"
    settings = " ".join(_without_settings(matrix))
    if matrix.no_extension_global_option:
        return (f"given to {installer} as the config setting {settings}, which setuptools puts before the "
                "setup.py command as pip's --global-option did; uv has no --global-option and pip 25.3 dropped it")
    return f"given to {installer} as " + " ".join(f"-C{setting}" for setting in _without_settings(matrix))


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
    package: str = "",
) -> CellResult:
    clock = {"start": time.monotonic()}  # restarted once the seed is ready
    log_path = logs_dir / cell.log_name
    cell_dir = workdir / cell.name
    shutil.rmtree(cell_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True)
    venv, src = cell_dir / "venv", cell_dir / "src"
    env = _clean_env(venv)
    switch = matrix.no_extension_variable
    if switch:
        if cell.extension is False:
            env[switch[0]] = switch[1]
        else:
            env.pop(switch[0], None)  # the caller's shell must not disable the build
    run = _CellRun(log_path, clock["start"] + matrix.timeout, env, seeds.running)
    interp = cell.interpreter
    counts: dict[str, int | None] = {"tp": None, "tf": None, "dp": None, "df": None}
    result, reason = PASSED, ""
    imported: dict[str, str] = {}

    def finish() -> CellResult:
        duration = time.monotonic() - clock["start"]
        run.note(f"\n## result: {result}{' - ' + reason if reason else ''} ({duration:.1f}s)")
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
            imported=imported,
        )

    run.note(f"releaselib test matrix cell {cell.name}: {cell.describe()}")
    run.note(f"interpreter: {interp.executable} ({interp.version}, {interp.cache_tag}, {interp.platform})")
    run.note(f"commit: {commit}")
    if switch:
        run.note(f"{switch[0]}={env.get(switch[0], '<unset>')}")
    python = str(venv / "bin" / "python")
    try:
        try:
            seed = seeds.get(interp)
        except MatrixError as exc:
            result, reason = ERROR, exc.message.splitlines()[0]
            run.note(str(exc))
            seed_log = seeds.log_path(interp)
            if seed_log.is_file():
                run.note(f"\n## log of the seed environment\n{seed_log.read_text(errors='replace')}")
            return finish()
        # Duration and timeout are the cell's own work; making or waiting for
        # the shared seed does not count (it shows in the matrix's total).
        run.note(f"seed environment ready after {time.monotonic() - clock['start']:.1f}s: {seed}")
        clock["start"] = time.monotonic()
        run.deadline = clock["start"] + matrix.timeout
        copy_venv(seed, venv)
        _extract(archive, src)
        if matrix.pre_build:
            # The seed holds the build requirements and pre-build-requires (Cython...): the same step 05_build runs.
            pre = run.run("pre-build", shell_argv(matrix.pre_build), src)
            if pre.returncode != 0:
                result, reason = FAILED, f"the pre-build step failed (exit {pre.returncode})"
                return finish()
        settings = _without_settings(matrix) if cell.extension is False else []
        if settings:
            run.note(f"config settings for the build: {' '.join(settings)}")
        # Without isolation, what the backend asks for on top of the seed's static requirements (Cython...).
        asked = dynamic_build_requires(run, python, src, _settings_mapping(settings))
        if asked:
            extra = run.install("dynamic build requirements", VirtualEnv(venv), asked, src)
            if extra.returncode != 0:
                result, reason = ERROR, f"installing the build requirements {', '.join(asked)} failed"
                return finish()
        # The project never comes from a cache (a wheel built with the extension for a cell without it).
        install = run.install_project("install", VirtualEnv(venv), settings, src)
        if install.returncode != 0:
            # A project that cannot be installed is the project's failure, not the harness's.
            result = FAILED
            installer = "uv" if uv_binary() else "pip"
            if cell.extension and _C_BUILD_FAILED.search(install.output):
                reason = f"{EXTENSION_BUILD_FAILED} ({installer} exit {install.returncode})"
            else:
                reason = f"installing the project failed ({installer} exit {install.returncode})"
            return finish()
        # From here on nothing may come from the checkout: the tests run beside a copy without the
        # distribution's top-level packages, and the export itself is gone.
        installed = installed_distribution(venv, package) if package else None
        tests_dir = tests_copy(src, cell_dir / "project", installed)
        shutil.rmtree(src, ignore_errors=True)
        if installed is None:
            result, reason = FAILED, f"the installer reported success but no distribution {package!r} is installed"
            return finish()
        run.note(f"installed {installed.dist_info.name}: top-level {', '.join(installed.top_level) or '-'}; "
                 f"compiled {', '.join(installed.compiled) or '-'}")
        probe = run.run("import check", probe_argv(python, installed, compiled=cell.extension is True), tests_dir)
        proof = read_probe(probe.output, venv, installed)
        imported.update(proof.modules)
        if not proof.ok:
            more = f" (and {len(proof.problems) - 1} more; see the log)" if len(proof.problems) > 1 else ""
            result, reason = FAILED, proof.problems[0] + more
        elif cell.extension is True and not installed.compiled:
            run.note("no compiled module was installed: the extension was not built")
            result, reason = FAILED, EXTENSION_NOT_LOADED
        elif cell.extension is False and installed.compiled and not matrix.extension_check:
            result, reason = FAILED, (
                f"compiled module(s) {', '.join(installed.compiled)} installed although the cell asked for pure Python"
            )
        if cell.extension is not None and not matrix.extension_check:
            run.note("no extension-check configured: the extension state is judged by the compiled modules installed")
        if matrix.extension_check and cell.extension is not None and result == PASSED:
            check = run.run("extension check", [python, "-c", matrix.extension_check], tests_dir)
            said = check.output.strip().splitlines()[-1].strip() if check.output.strip() else ""
            if check.returncode != 0:
                result, reason = FAILED, f"the extension check failed (exit {check.returncode})"
            elif said not in ("True", "False"):
                result, reason = FAILED, f"the extension check printed {said!r}, expected True or False"
            elif cell.extension and said == "False":
                result, reason = FAILED, EXTENSION_NOT_LOADED
            elif not cell.extension and said == "True":
                result, reason = FAILED, (
                    f"the C extension loaded although {_switch_text(matrix)} asked for pure Python"
                )
        # Tests run even after a failed extension check: their counts tell whether
        # the fallback itself works, which helps whoever reads the log.
        tests = run.run("tests", shell_argv(matrix.test_command), tests_dir)
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
            doctests = run.run("doctests", shell_argv(matrix.doctest_command), tests_dir)
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

    ``seed_dir`` keeps the per-interpreter seed environments between runs.
    By default they are kept in releaselib's cache, keyed by the versions a
    fresh install would get (:mod:`releaselib.infra.envcache`), or made in a
    temporary folder removed at the end where nothing may be kept. With ``record`` (the
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
    cells = _cells(interpreters, _has_switch(matrix), matrix.tests_both_implementations)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(cells)))

    with tempfile.TemporaryDirectory(prefix="releaselib-matrix-") as tmp:
        workdir = Path(tmp)
        export = workdir / "export"
        _extract(archive, export)
        requirements = tuple(dict.fromkeys([*matrix.test_requires, *build_requires(export),
                                            *matrix.pre_build_requires]))
        seeds_root = Path(seed_dir) if seed_dir is not None else workdir / "seeds"
        seeds_root.mkdir(parents=True, exist_ok=True)
        running = _Running()
        seeds = _Seeds(seeds_root, requirements, matrix.timeout, running,
                       warm=warm_modules(export, matrix.test_requires), cache=seed_dir is None)
        kwargs: dict[str, Any] = {
            "archive": archive, "commit": commit, "matrix": matrix, "seeds": seeds,
            "workdir": workdir, "logs_dir": logs_dir, "record_dir": record_dir, "package": release.config.package,
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
        cells=results, skipped=list(interpreters.skipped), commit=commit, duration=round(time.monotonic() - started, 2),
        self_tested=bool(matrix.tests_both_implementations),
        switch=_switch_text(matrix) if _has_switch(matrix) else "",
        switch_note=_switch_note(matrix),
    )
    if record and hasattr(release, "record"):
        release.record("matrix", outcome.as_record())
        release.record("matrix_skipped", outcome.skipped)
    return outcome
