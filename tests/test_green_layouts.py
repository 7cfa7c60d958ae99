"""End-to-end (issue 10): fixture projects of the layouts real libraries use, rehearsed with real local servers.

Each rehearsal runs every phase against a throwaway clone, a pypiserver, an
SMTP catcher and a docs server. The assertions read the record: the cells'
extension state and test counts, the files each cell imported (all from the
cell's environment, never the checkout), the install tests' imports.
"""

from __future__ import annotations

import pytest

from releaselib.cli import main
from releaselib.infra.interpreters import find_interpreter

from .green_projects import green_project, phase_values, record_of

pytestmark = pytest.mark.e2e

PY = "3.12"


@pytest.fixture(autouse=True)
def _python_here():
    if find_interpreter(PY) is None:
        pytest.skip(f"Python {PY} not installed here")


def rehearse(project, workdir, version, *extra: str) -> int:
    return main(["rehearse", version, "--repo", str(project.repo), "--workdir", str(workdir), *extra])


def cells_by_state(record):
    return {cell["extension"]: cell for cell in phase_values(record, "01_test")["matrix"]}


def assert_installed_imports(cell_or_test, *names):
    for name in names:
        where = cell_or_test["imported"][name]
        assert "site-packages" in where, (name, where)


def test_flat_layout_with_env_switch_rehearses_green_and_tests_the_installed_extension(tmp_path, capsys):
    project = green_project("flat_c", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.2")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-flatc", "0.2")
    cells = cells_by_state(record)
    with_ext, without = cells[True], cells[False]
    assert with_ext["result"] == without["result"] == "passed"
    # The C-only test runs only where the extension is in use: the counts differ.
    assert (with_ext["tests_passed"], without["tests_passed"]) == (3, 2)
    assert_installed_imports(with_ext, "flatc", "flatc._fast")
    assert_installed_imports(without, "flatc")
    assert "flatc._fast" not in without["imported"]
    build = phase_values(record, "05_build")["build"]
    wheel_tests = [t for t in build["install_tests"] if t["filename"].endswith(".whl")]
    assert wheel_tests and all("site-packages" in t["imported"]["flatc._fast"] for t in wheel_tests)


def test_flat_layout_broken_compiled_module_fails_only_the_with_cells(tmp_path, capsys):
    project = green_project("flat_c", tmp_path)
    project.edit("flatc/_fast.c", "total += v * v;", "total += v * v + 1;")
    project.commit("Break the C implementation")

    code = main(["run", "0.2", "--repo", str(project.repo), "--outputs", str(tmp_path / "outputs"),
                 "--phases", "test"])

    assert code != 0
    record = record_of(tmp_path, "green-flatc", "0.2")
    cells = cells_by_state(record)
    assert cells[True]["result"] == "failed" and cells[True]["tests_failed"] == 2, cells[True]
    assert cells[False]["result"] == "passed", cells[False]
