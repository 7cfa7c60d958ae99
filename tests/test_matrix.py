"""The test matrix on a tiny real project with an optional C extension.

Every matrix here really creates virtual environments, compiles C and runs
pytest and doctest, on two interpreters found on this machine. The seed
environments are shared by the whole module to keep it fast.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import InterpreterSet, find_interpreters
from releaselib.infra.venv import uv_binary
from releaselib.phases.matrix import (
    EXTENSION_BUILD_FAILED,
    EXTENSION_NOT_LOADED,
    CellResult,
    MatrixResult,
    parse_doctest_summary,
    parse_pytest_summary,
    run_matrix,
)

from .fixtures_matrix import make_tinyext, tinyext_release

CANDIDATES = ("3.13", "3.12", "3.11", "3.10", "3.9")


@pytest.fixture(scope="module")
def two_pythons() -> InterpreterSet:
    found = find_interpreters(CANDIDATES, allow_missing=CANDIDATES)
    if len(found) < 2:
        pytest.skip("needs two Python versions among " + ", ".join(CANDIDATES))
    return InterpreterSet(found=tuple(found)[:2])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seeds")


def _versions(interpreters: InterpreterSet) -> tuple[str, ...]:
    return tuple(i.requested for i in interpreters)


def _by_cell(result: MatrixResult) -> dict[tuple[str, bool | None], CellResult]:
    return {(cell.python, cell.extension): cell for cell in result.cells}


# -- summaries -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("5 passed in 0.12s", (5, 0)),
        ("==== 5 passed, 1 failed in 0.12s ====", (5, 1)),
        ("3 failed, 2 passed, 1 skipped, 1 error in 1.50s", (2, 4)),
        ("\x1b[32m4 passed\x1b[0m\x1b[32m in 0.01s\x1b[0m", (4, 0)),
        ("no tests ran in 0.01s", (0, 0)),
        ("ImportError: no module named tinyext", None),
    ],
)
def test_pytest_summary(line: str, expected: tuple[int, int] | None) -> None:
    assert parse_pytest_summary("collected\n" + line + "\n") == expected


def test_doctest_summaries_of_old_and_new_pythons() -> None:
    up_to_312 = "1 items passed all tests:\n   2 tests in usage.rst\n2 tests in 1 items.\n2 passed and 0 failed.\nTest passed.\n"
    from_313 = "1 item passed all tests:\n   2 tests in usage.rst\n2 tests in 1 item.\n2 passed.\nTest passed.\n"
    failing = "1 items had failures:\n   1 of   3 in usage.rst\n3 tests in 1 items.\n2 passed and 1 failed.\n***Test Failed*** 1 failures.\n"
    assert parse_doctest_summary(up_to_312) == (2, 0)
    assert parse_doctest_summary(from_313) == (2, 0)
    assert parse_doctest_summary(failing) == (2, 1)
    assert parse_doctest_summary("") is None


# -- real matrices ---------------------------------------------------------------
def test_all_cells_pass_with_the_extension_state_they_claim(
    tmp_path: Path, two_pythons: InterpreterSet, seeds: Path
) -> None:
    repo = make_tinyext(tmp_path / "tinyext")
    # Stray and uncommitted changes must not reach the cells: only the commit is tested.
    (repo / "tests" / "test_stray.py").write_text("def test_stray():\n    assert False\n")
    (repo / "src" / "tinyext" / "__init__.py").write_text("raise ImportError('uncommitted edit')\n")
    # A `pytest` script (not `python -m pytest`) only finds the project if the
    # copied environment's scripts point at the copy, not at the seed.
    release = tinyext_release(
        repo, tmp_path / "record", _versions(two_pythons), test_command="pytest -q -p no:cacheprovider tests"
    )

    result = run_matrix(release, jobs=2, interpreters=two_pythons, seed_dir=seeds)

    assert result.ok, str(result)
    assert len(result.cells) == 4
    assert {(c.python, c.extension) for c in result.cells} == {
        (v, ext) for v in _versions(two_pythons) for ext in (True, False)
    }
    for cell in result.cells:
        assert cell.result == "passed" and cell.reason == ""
        assert (cell.tests_passed, cell.tests_failed) == (3, 0)
        assert (cell.doctests_passed, cell.doctests_failed) == (2, 0)
        log = (tmp_path / "record" / cell.log).read_text()
        assert cell.log == f"logs/test-py{cell.python}-{'ext' if cell.extension else 'noext'}.log"
        # The extension check's own answer, in the log, matches the cell's claim.
        check_output = log.split("## extension check")[1].split("\n# exit")[0]
        assert check_output.strip().splitlines()[-1] == str(cell.extension)
        assert f"TINYEXT_NO_EXT={'<unset>' if cell.extension else '1'}" in log
        assert "test_stray" not in log
    result.raise_for_failures()  # does not raise
    # Cells share the seed's files through hard links: none may have written through them.
    for seed in (p for p in seeds.iterdir() if p.is_dir()):
        assert str(seed) in (seed / "bin" / "pytest").read_text()
        assert "releaselib-matrix-" not in (seed / "pyvenv.cfg").read_text()
    assert release.values["matrix"] == json.loads(json.dumps(result.as_record()))
    assert release.values["matrix_skipped"] == []
    page = result._repr_html_()
    assert page.count('<a href="logs/test-py') == 4
    assert all(v in str(result) for v in _versions(two_pythons))


def test_silent_fallback_to_pure_python_fails_the_extension_cells(
    tmp_path: Path, two_pythons: InterpreterSet, seeds: Path
) -> None:
    repo = make_tinyext(tmp_path / "tinyext", broken_c=True)
    release = tinyext_release(repo, tmp_path / "record", _versions(two_pythons))

    result = run_matrix(release, interpreters=two_pythons, seed_dir=seeds)

    assert not result.ok
    for cell in result.cells:
        if cell.extension:
            assert cell.result == "failed"
            assert cell.reason == EXTENSION_NOT_LOADED
            assert (cell.tests_passed, cell.tests_failed) == (3, 0)  # the fallback itself works
        else:
            assert cell.result == "passed", cell
    with pytest.raises(MatrixError) as info:
        result.raise_for_failures()
    message = str(info.value)
    assert message.count("did not load") == 2
    assert "with extension" in message and "without extension" not in message


def test_an_extension_that_fails_to_build_fails_the_extension_cells(
    tmp_path: Path, two_pythons: InterpreterSet, seeds: Path
) -> None:
    one = InterpreterSet(found=tuple(two_pythons)[:1])
    repo = make_tinyext(tmp_path / "tinyext", broken_c=True, required_ext=True)
    release = tinyext_release(repo, tmp_path / "record", _versions(one))

    result = run_matrix(release, interpreters=one, seed_dir=seeds)

    cells = _by_cell(result)
    ext, noext = cells[(one.found[0].requested, True)], cells[(one.found[0].requested, False)]
    assert ext.result == "failed"
    assert ext.reason.startswith(EXTENSION_BUILD_FAILED)
    # The reason names the installer that built: uv here (pip is the fallback without it).
    assert f"({'uv' if uv_binary() else 'pip'} exit " in ext.reason, ext.reason
    assert noext.result == "passed"
    assert "this is not C" in (tmp_path / "record" / ext.log).read_text()
    with pytest.raises(MatrixError, match="did not load"):
        result.raise_for_failures()


def test_a_failure_under_one_python_fails_exactly_that_row(
    tmp_path: Path, two_pythons: InterpreterSet, seeds: Path
) -> None:
    broken, healthy = list(two_pythons)
    major, minor = (int(p) for p in broken.requested.split("."))
    repo = make_tinyext(tmp_path / "tinyext", fail_on=(major, minor))
    release = tinyext_release(repo, tmp_path / "record", _versions(two_pythons))

    result = run_matrix(release, interpreters=two_pythons, seed_dir=seeds)

    failed = {(c.python, c.extension) for c in result.failures()}
    assert failed == {(broken.requested, True), (broken.requested, False)}
    for cell in result.failures():
        assert (cell.tests_passed, cell.tests_failed) == (2, 1)
        assert cell.reason == "1 test(s) failed"
    assert all(c.ok for c in result.cells if c.python == healthy.requested)
    with pytest.raises(MatrixError) as info:
        result.raise_for_failures()
    message = info.value.message
    assert f"Python {broken.requested} ({broken.version})" in message
    assert f"logs/test-py{broken.requested}-ext.log" in message
    assert f"logs/test-py{broken.requested}-noext.log" in message
    assert healthy.requested not in message.replace(broken.version, "")
    assert "--resume" in (info.value.hint or "")
    assert "broken on purpose" in (tmp_path / "record" / f"logs/test-py{broken.requested}-ext.log").read_text()


def test_a_cell_past_its_timeout_is_killed_and_reported(
    tmp_path: Path, two_pythons: InterpreterSet, seeds: Path
) -> None:
    one = InterpreterSet(found=tuple(two_pythons)[:1], skipped=("3.99",))
    repo = make_tinyext(tmp_path / "tinyext")
    # No extension toggle: a project without one gets a single cell per Python.
    release = tinyext_release(
        repo,
        tmp_path / "record",
        _versions(one),
        no_extension_env=None,
        test_command=f"{sys.executable} -c 'import time; time.sleep(120)'",
        timeout=25.0,  # past any install on a loaded machine, well short of the test's sleep
    )

    result = run_matrix(release, interpreters=one, seed_dir=seeds)

    [cell] = result.cells
    assert cell.extension is None
    assert cell.result == "timeout"
    assert "25 s timeout during tests" in cell.reason
    assert cell.duration < 90
    assert result.skipped == ["3.99"]
    assert "3.99" in str(result) and "skipped" in result._repr_html_()
    assert cell.log == f"logs/test-py{one.found[0].requested}.log"


def test_nothing_configured_or_found_is_an_error(tmp_path: Path) -> None:
    repo = make_tinyext(tmp_path / "tinyext")
    with pytest.raises(MatrixError, match="No Python version"):
        run_matrix(tinyext_release(repo, tmp_path / "record", ()))
    with pytest.raises(MatrixError, match="None of the configured"):
        run_matrix(tinyext_release(repo, tmp_path / "record", ("3.99",), allow_missing=("3.99",)))
    with pytest.raises(MatrixError, match="3.98"):
        run_matrix(tinyext_release(repo, tmp_path / "record", ("3.98",)))


def test_an_interrupt_stops_every_running_cell(tmp_path: Path, two_pythons: InterpreterSet, seeds: Path) -> None:
    one = InterpreterSet(found=tuple(two_pythons)[:1])
    repo = make_tinyext(tmp_path / "tinyext")
    pids = tmp_path / "pids"
    pids.mkdir()
    sleeper = f"import os, time; open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close(); time.sleep(120)"
    release = tinyext_release(repo, tmp_path / "record", _versions(one), test_command=f'python -c "{sleeper}"')

    interrupted: list[float] = []

    def interrupt_when_both_cells_sleep() -> None:
        # Each cell builds and installs first: on a loaded machine that can take minutes, not seconds.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(pids.iterdir())) < 2:
            time.sleep(0.05)
        interrupted.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # what a kernel interrupt delivers

    # A pytest-xdist worker ignores SIGINT; a kernel (and a terminal) raises KeyboardInterrupt.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_when_both_cells_sleep, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_matrix(release, jobs=2, interpreters=one, seed_dir=seeds)
    finally:
        signal.signal(signal.SIGINT, previous)
    # Stopped by the interrupt, long before the sleepers (120 s) would have ended on their own.
    assert interrupted and time.monotonic() - interrupted[0] < 60
    sleeping = [int(p.name) for p in pids.iterdir()]
    assert len(sleeping) == 2
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in sleeping) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in sleeping)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a killed orphan waiting to be reaped (a zombie) is not alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# The hook and build of every cell, under PYTHONDONTWRITEBYTECODE: each module the seed has no
# bytecode for is compiled from source again by every hook call and every build.
_IMPORTED_FROM_SOURCE = """
import importlib.util, json, os, sys, tempfile
name, prefix = sys.argv[1:]  # read first: the build rewrites sys.argv
backend = importlib.import_module(name)
backend.get_requires_for_build_wheel(None)
backend.build_wheel(tempfile.mkdtemp())
print(json.dumps(sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(prefix) and module.__file__.endswith(".py")
    and not os.path.exists(importlib.util.cache_from_source(module.__file__)))))
"""


def test_the_seed_holds_the_bytecode_of_what_a_cell_build_imports(tmp_path: Path, two_pythons: InterpreterSet) -> None:
    from releaselib.infra import processes
    from releaselib.infra.venv import copy as copy_venv
    from releaselib.phases.matrix.environments import _Seeds, build_requires, warm_modules

    interpreter = two_pythons.found[0]
    repo = make_tinyext(tmp_path / "tinyext")
    seeds = _Seeds(tmp_path / "seeds", ("pytest", *build_requires(repo)), 300, processes.Scope(),
                   warm=warm_modules(repo, ("pytest",)))  # fmt: skip
    cell = tmp_path / "cell"
    copy_venv(seeds.get(interpreter), cell)

    env = {**processes.child_env(venv=cell), "PYTHONDONTWRITEBYTECODE": "1"}
    done = processes.run([str(cell / "bin" / "python"), "-c", _IMPORTED_FROM_SOURCE, "setuptools.build_meta",
                          str(cell)], cwd=repo, env=env, timeout=300)  # fmt: skip

    assert done.ok, done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
