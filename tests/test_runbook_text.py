"""What the runbooks tell a maintainer stepping through them by hand (issue 13, items 7 and 10)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from releaselib.engine.context import start
from releaselib.local.sandbox import create_sandbox
from releaselib.phases import commit

RUNBOOKS = sorted((Path(__file__).resolve().parent.parent / "runbooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_every_runbook_explains_seed_steps_and_ends_with_save_and_archive(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "*Seed step N* quotes step N of the release checklist" in nb.cells[0].source
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Save and archive")
    assert f"releaselib archive {path.stem[3:]} VERSION" in last.source
    assert "Each row is one file" not in text


def test_the_post_release_dry_run_lists_only_what_the_real_run_commits(tmp_path):
    sandbox = create_sandbox(tmp_path / "sandbox")
    release = start("08_post_release", "1.1", repo=sandbox.repo, dry_run=True, outputs=tmp_path / "outputs")
    described = str(commit.plan_post_release_commit(release, "1.1+dev"))
    assert "src/bsonlite/__init__.py" in described
    assert "changelog" not in described  # the real run commits the version files only
