"""End-to-end: a rehearsal runs every phase for real against copies, and leaves the real project untouched."""

from __future__ import annotations

import json

import pytest

from releaselib.cli import main
from releaselib.local.sandbox import create_sandbox, set_project_config

from .helpers import repo_state
from .resume_helpers import NO_MATRIX

pytestmark = pytest.mark.e2e


def test_rehearsal_records_every_phase_and_changes_nothing_real(tmp_path, capsys, monkeypatch):
    sandbox = create_sandbox(tmp_path / "real")
    # What the project's own configuration would hold; the index stays the default (real PyPI),
    # so a rehearsal that contacted it would fail.
    set_project_config(sandbox.repo, "announce", {
        "smtp-host": "smtp.invalid", "sender": "Release Manager <release@example.org>",
        "to": ["bsonlite-announce@example.org"],
    })
    monkeypatch.delenv("TWINE_PASSWORD", raising=False)
    before = repo_state(sandbox.repo, sandbox.origin)
    workdir = tmp_path / "rehearsal"

    code = main(["rehearse", "1.1", "--repo", str(sandbox.repo), "--phases", NO_MATRIX, "-p", "allow_untested=true", "--workdir", str(workdir)])

    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert repo_state(sandbox.repo, sandbox.origin) == before
    record_dir = workdir / "outputs" / "bsonlite" / "1.1"
    assert "Nothing in the real repository or its remote changed" in out
    assert str(record_dir) in out.replace(" ", "") or str(record_dir) in out
    record = json.loads((record_dir / "record.json").read_text())
    results = {entry["phase"]: entry["result"] for entry in record["entries"]}
    assert results == {phase: "succeeded" for phase in
                       ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "05_build", "06_publish",
                        "07_docs", "08_post_release", "09_announce"]}
    publish = next(e for e in record["entries"] if e["phase"] == "06_publish")
    assert any(f["filename"].endswith(".whl") for f in publish["values"]["files"])
    # The throwaway clone and the remote's copy are gone; the record stays.
    assert sorted(p.name for p in workdir.iterdir()) == ["outputs"]
