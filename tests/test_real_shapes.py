"""Shapes met in real libraries (issue 10, tried as a new user would), each a small project of our own.

tests/projects/shape_<name>/ is copied into a git repository with a bare
``origin``; the project has no releaselib configuration, so what is tested
is what detection and the matrix make of the layout alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.infra.interpreters import find_interpreter

from .green_projects import green_project

PROJECTS = Path(__file__).parent / "projects"


def shape_project(name: str, root: Path) -> Path:
    return green_project(name, root, kind="shape").repo


def matrix_cells(outputs: Path, package: str, version: str) -> dict:
    record = json.loads((outputs / package / version / "record.json").read_text())
    entry = [e for e in record["entries"] if e["phase"] == "01_test"][-1]
    return {cell["extension"]: cell for cell in entry["values"]["matrix"]}


def test_a_switch_read_the_other_way_round_is_detected_with_its_value(tmp_path, capsys):
    """wrapt builds its extension unless WRAPT_INSTALL_EXTENSIONS=false; setting it to 1 would build it anyway."""
    repo = shape_project("enable_switch", tmp_path)
    code = main(["plan", "0.3", "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", "test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "extension switch: TALLY_INSTALL_EXTENSIONS=false (read in setup.py)" in out
    assert "and each again with TALLY_INSTALL_EXTENSIONS=false" in out


def test_the_test_requirements_a_project_writes_down_are_detected(tmp_path, capsys):
    """frozenlist's pytest.ini loads pytest_cov, named in requirements/test.txt; with only pytest installed every
    cell stopped before its first test."""
    repo = shape_project("enable_switch", tmp_path)
    code = main(["plan", "0.3", "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", "test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "test requirements: iniconfig, pytest>=7 (from requirements/test.txt)" in out


@pytest.mark.e2e
def test_a_switch_read_the_other_way_round_gives_cells_without_the_extension(tmp_path, capsys):
    if find_interpreter("3.12") is None:
        pytest.skip("Python 3.12 not installed here")
    repo = shape_project("enable_switch", tmp_path)
    outputs = tmp_path / "out"
    code = main(["run", "0.3", "--repo", str(repo), "--outputs", str(outputs), "--phases", "test"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    cells = matrix_cells(outputs, "tally", "0.3")
    assert set(cells) == {True, False}
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (4, 3)
    assert "site-packages" in cells[True]["imported"]["tally._speed"]
    assert "tally._speed" not in cells[False]["imported"]


@pytest.mark.e2e
def test_the_install_tests_see_the_tools_the_matrix_sees_not_releaselibs_own(tmp_path, capsys, monkeypatch):
    """wrapt: 05_build's install tests had releaselib's own bin on PATH, so its tests found mypy there and ran
    35 tests that 01_test had skipped. The project's tests now see the same PATH in both phases."""
    if find_interpreter("3.12") is None:
        pytest.skip("Python 3.12 not installed here")
    monkeypatch.setenv("SHAPE_FORBIDDEN_PATH", str(Path(sys.executable).parent))
    repo = shape_project("enable_switch", tmp_path)
    outputs = tmp_path / "out"
    code = main(["run", "0.3", "--repo", str(repo), "--outputs", str(outputs), "--phases", "test,changelog,bump,commit_tag,build"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = json.loads((outputs / "tally" / "0.3" / "record.json").read_text())
    build = [e for e in record["entries"] if e["phase"] == "05_build"][-1]["values"]["build"]
    assert {Path(t["filename"]).suffix for t in build["install_tests"]} == {".gz", ".whl"}


@pytest.mark.e2e
def test_an_in_tree_backend_with_dynamic_build_requirements_gives_both_kinds_of_cells(tmp_path, capsys):
    """frozenlist: the switch lives in its in-tree backend, and Cython is a dynamic build requirement (asked for by
    get_requires_for_build_wheel); the matrix installed the seed's static requirements only and the build failed."""
    if find_interpreter("3.12") is None:
        pytest.skip("Python 3.12 not installed here")
    repo = shape_project("inplace_backend", tmp_path)
    outputs = tmp_path / "out"
    code = main(["plan", "1.1", "--repo", str(repo), "--outputs", str(outputs), "--phases", "test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "extension switch: RINGBUF_NO_EXTENSIONS (read in build_backend/inplace_backend.py)" in out

    code = main(["run", "1.1", "--repo", str(repo), "--outputs", str(outputs), "--phases", "test"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    cells = matrix_cells(outputs, "ringbuf", "1.1")
    assert set(cells) == {True, False}
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (3, 2)
    assert "site-packages" in cells[True]["imported"]["ringbuf._fast"]
    assert "ringbuf._fast" not in cells[False]["imported"]
