"""How `release.record(...)` shows in a notebook: once, readable as text/plain too."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from releaselib.core.plan import FunctionAction, Plan
from releaselib.record.notebooks import VALUE_MIME, values_from_notebook

SETUP = """
from pathlib import Path
from releaselib.engine.context import Release
release = Release(version="1.1", repo=Path("."), config=None, dry_run=True, record_dir=Path("."))
"""
LONG = {f"file_{i:03d}.txt": "word " * 12 for i in range(60)}  # far over 2,000 characters


def executed(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (SETUP, *sources)])
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    return nb


def test_a_recorded_value_shows_once_in_words_and_whole_in_the_record():
    nb = executed(
        'release.record("tag", "1.1")',
        'release.record("checks", {"tree is clean": True, "tag is free": False})',
        f"release.record('files', {LONG!r})",
    )
    tag, checks, files = nb.cells[1:]
    for cell in (tag, checks, files):
        assert [o["output_type"] for o in cell.outputs] == ["display_data"]  # no second copy as Out[n]
    assert tag.outputs[0]["data"]["text/plain"] == 'recorded tag = "1.1"'
    text = checks.outputs[0]["data"]["text/plain"]
    assert "✔ ok      tree is clean" in text and "✘ failed  tag is free" in text
    long_text = files.outputs[0]["data"]["text/plain"]
    lines = long_text.splitlines()
    assert lines[-1].strip() == "… 22 more lines (the whole value is in record.json)"
    assert all(line.rstrip().endswith(("word", '",', "{", "… 22 more lines (the whole value is in record.json)",
                                       "recorded files:")) for line in lines)  # whole lines only, no cut word
    assert "<pre" in files.outputs[0]["data"]["text/html"]
    assert values_from_notebook(nb)["files"] == LONG  # the record keeps the whole value
    assert files.outputs[0]["data"][VALUE_MIME]["value"] == LONG


def test_plan_tables_are_left_aligned_with_status_words_and_symbols():
    plan = Plan("Push", [FunctionAction("push the tag", lambda: None)])
    plan.execute(dry_run=True)
    page = plan._repr_html_()
    assert "… would do" in page and "text-align:left" in page
    assert "<td>" not in page  # every cell carries the alignment
    plan.execute(dry_run=False)
    assert "✔ done" in plan._repr_html_()
