"""Recorded values are declared once, per phase, and the record's documentation lists exactly them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from releaselib.core.errors import RecordError
from releaselib.core.registry import BUNDLED_NAMES, bundled_runbooks_dir
from releaselib.engine.context import Release
from releaselib.record.values import VALUES, declared_keys

ROOT = Path(__file__).resolve().parents[1]


def test_every_bundled_phase_declares_its_values() -> None:
    assert set(VALUES) == set(BUNDLED_NAMES)


@pytest.mark.parametrize("phase", BUNDLED_NAMES)
def test_every_key_a_runbook_records_is_declared(phase: str) -> None:
    nb = json.loads((bundled_runbooks_dir() / f"{phase}.ipynb").read_text())
    source = "\n".join("".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code")
    recorded = set(re.findall(r"release\.record\(['\"](\w+)['\"]", source))
    assert recorded <= set(declared_keys(phase) or ())


def test_the_record_documentation_lists_exactly_the_declared_keys() -> None:
    text = (ROOT / "docs" / "record.md").read_text()
    documented: dict[str, set[str]] = {}
    for phases, keys in re.findall(r"^\| ((?:\d\d[a-z]?_\w+(?:, )?)+) \| ((?:`\w+`(?:, )?)+) \|", text, flags=re.M):
        for phase in phases.split(", "):
            documented.setdefault(phase, set()).update(re.findall(r"`(\w+)`", keys))
    assert documented == {phase: set(declared_keys(phase) or ()) for phase in BUNDLED_NAMES}


def test_recording_an_undeclared_key_names_the_declared_ones(tmp_path: Path) -> None:
    release = Release(version="2.2", repo=tmp_path, config=None, dry_run=True,  # type: ignore[arg-type]
                      record_dir=tmp_path, phase="04_commit_tag")
    with pytest.raises(RecordError, match="bump_commit, tag"):
        release.record("bump_comit", "abc")
    release.record("tag", "2.2")  # returns nothing: a cell ending with it shows the value once
    assert release.values["tag"] == "2.2"
    project_phase = Release(version="2.2", repo=tmp_path, config=None, dry_run=True,  # type: ignore[arg-type]
                            record_dir=tmp_path, phase="10_github_release")
    project_phase.record("anything", 1)
    assert project_phase.values["anything"] == 1
