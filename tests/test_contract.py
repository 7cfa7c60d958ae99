"""The runbook contract: every bundled runbook keeps it, and a breach is named, all at once."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from releaselib.cli import main
from releaselib.core.registry import BUNDLED_NAMES, bundled_runbooks_dir
from releaselib.engine.contract import check_runbook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("phase", BUNDLED_NAMES)
def test_every_bundled_runbook_keeps_the_contract(phase: str) -> None:
    assert check_runbook(bundled_runbooks_dir() / f"{phase}.ipynb") == []


def _bad_runbook(path: Path) -> None:
    parameters = new_code_cell('version = "2.2"\nrepo = "."')
    nb = new_notebook(cells=[
        new_markdown_cell("# A phase"),
        new_code_cell("import os"),
        parameters,
        new_code_cell("from releaselib import start\nrelease = start('11_other', version)"),
        new_code_cell("a = 1\nb = 2\nc = a + b\nimport sys\nsys.exit(0)"),
    ])
    nb.metadata["releaselib"] = {"phase": "11_other"}
    nbformat.write(nb, path)


def test_a_breach_is_named_with_every_other_one(tmp_path: Path) -> None:
    path = tmp_path / "10_release_page.ipynb"
    _bad_runbook(path)
    problems = "\n".join(check_runbook(path))
    for expected in ("metadata.releaselib.phase is '11_other'", "0 cells are tagged 'parameters'",
                     "start() must name this phase", "calls sys.exit()", "4 statements",
                     "no prose before it"):
        assert expected in problems, f"{expected!r} not in:\n{problems}"


def test_check_runbook_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = bundled_runbooks_dir() / "03_bump.ipynb"
    assert main(["check-runbook", str(good)]) == 0
    assert "keeps the runbook contract" in capsys.readouterr().out
    bad = tmp_path / "10_release_page.ipynb"
    _bad_runbook(bad)
    assert main(["check-runbook", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "breaks the runbook contract" in err and "sys.exit" in err and "Traceback" not in err


@pytest.mark.parametrize("phase", BUNDLED_NAMES)
def test_the_architecture_map_names_every_call_of_every_runbook(phase: str) -> None:
    import json
    import re

    nb = json.loads((bundled_runbooks_dir() / f"{phase}.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    modules = {name.strip() for group in re.findall(r"from releaselib\.\w+ import ([\w, ]+)", source)
               for name in group.split(",")}
    calls = {f for m, f in re.findall(r"\b(\w+)\.(\w+)\(", source) if m in modules}
    row = next(line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
               if line.startswith(f"| {phase} |"))
    missing = {call for call in calls if f"`{call}`" not in row and f"`git.{call}`" not in row}
    assert not missing, f"docs/architecture.md's row for {phase} does not name {sorted(missing)}"
