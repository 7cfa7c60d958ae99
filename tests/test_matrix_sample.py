"""End-to-end: the 01_test phase on the bundled sample (issue 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nbformat

from releaselib.cli import main
from releaselib.record.notebooks import values_from_notebook
from releaselib.infra.interpreters import find_interpreter
from releaselib.local.sandbox import create_sandbox

from .helpers import commit_all, git

pytestmark = pytest.mark.e2e

TWO = ("3.11", "3.12")


@pytest.fixture
def sandbox(tmp_path: Path):
    missing = [v for v in TWO if find_interpreter(v) is None]
    if missing:
        pytest.skip(f"Python {', '.join(missing)} not installed here")
    sb = create_sandbox(tmp_path / "sandbox")
    path = sb.repo / "pyproject.toml"
    path.write_text(re.sub(r'python = \[[^\]]*\]', 'python = ["3.11", "3.12"]', path.read_text(), count=1))
    commit_all(sb.repo, "Test on two Pythons")
    git(sb.repo, "push", "-q", "origin", "main")
    return sb


def run_matrix_phase(sb) -> int:
    return main(["run", "1.1", "--repo", str(sb.repo), "--outputs", str(sb.root / "outputs"), "--phases", "test"])


def notebook_matrix(sb) -> list[dict]:
    """The matrix the failed phase recorded, read back from its archived notebook (not re-run)."""
    nb = nbformat.read(sb.root / "outputs" / "bsonlite" / "1.1" / "01_test.ipynb", as_version=4)
    return values_from_notebook(nb)["matrix"]


def test_extension_that_fails_to_build_is_not_a_pass(sandbox, capsys):
    source = sandbox.repo / "src" / "bsonlite" / "_cbson.c"
    source.write_text("#error broken on purpose\n" + source.read_text())
    commit_all(sandbox.repo, "Break the C extension")

    assert run_matrix_phase(sandbox) != 0

    err = capsys.readouterr().err
    assert "did not load" in err
    cells = notebook_matrix(sandbox)
    for cell in cells:
        if cell["extension"]:
            assert cell["result"] == "failed" and "did not load" in cell["reason"], cell
        else:
            assert cell["result"] == "passed", cell
    assert len(cells) == 4


def test_a_test_broken_on_one_python_fails_exactly_that_row(sandbox, capsys):
    tests = sandbox.repo / "tests" / "test_bsonlite.py"
    tests.write_text(tests.read_text() + (
        "\n\nimport sys\n\n\ndef test_not_on_312():\n"
        "    assert sys.version_info[:2] != (3, 12), 'fails on 3.12 only'\n"))
    commit_all(sandbox.repo, "A test that fails on 3.12")

    assert run_matrix_phase(sandbox) != 0

    err = capsys.readouterr().err
    assert "3.12" in err and "test-py3.12-ext.log" in err
    cells = notebook_matrix(sandbox)
    failed = sorted((c["python"], c["extension"]) for c in cells if c["result"] != "passed")
    assert failed == [("3.12", False), ("3.12", True)]
    assert all(c["tests_failed"] == 1 for c in cells if c["python"] == "3.12")
