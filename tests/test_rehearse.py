"""End-to-end: a rehearsal runs every phase for real against copies, and leaves the real project untouched."""

from __future__ import annotations

import json
import re

import pytest

from releaselib.cli import main
from releaselib.local.demo import matrix_table
from releaselib.local.sandbox import SAMPLE_DIR, create_sandbox, set_project_config

from .helpers import FEW_PYTHONS, git, repo_state
from .resume_helpers import NO_MATRIX

pytestmark = pytest.mark.e2e


def test_rehearsal_records_every_phase_and_changes_nothing_real(tmp_path, capsys, monkeypatch):
    sandbox = create_sandbox(tmp_path / "real", config_tables={"matrix": matrix_table(SAMPLE_DIR, FEW_PYTHONS)})
    # What the project's own configuration would hold; the index stays the default (real PyPI),
    # so a rehearsal that contacted it would fail.
    set_project_config(sandbox.repo, "announce", {
        "smtp-host": "smtp.invalid", "sender": "Release Manager <release@example.org>",
        "to": ["bsonlite-announce@example.org"],
    })
    monkeypatch.delenv("TWINE_PASSWORD", raising=False)
    before = repo_state(sandbox.repo, sandbox.origin)
    workdir = tmp_path / "rehearsal"

    code = main(["rehearse", "1.1", "--repo", str(sandbox.repo), "--phases", NO_MATRIX, "--workdir", str(workdir),
                 "-p", "accept_draft=true", "-p", "allow_untested=true"])  # no matrix: the gate is overridden

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
    # (Beside it: what `rehearse --resume` needs, and the dependencies the local index served.)
    assert sorted(p.name for p in workdir.iterdir() if not p.name.startswith("dependencies")) == ["outputs", "rehearsal.json"]


@pytest.mark.timeout(1800)
def test_a_failed_rehearsal_says_the_real_repo_is_unchanged_and_resumes_itself(tmp_path, capsys, monkeypatch):
    """Issue 10: the resume hint never names the throwaway clone; `rehearse --resume` finishes the rehearsal."""
    sandbox = create_sandbox(tmp_path / "real")
    set_project_config(sandbox.repo, "announce", {
        "smtp-host": "smtp.invalid", "sender": "Release Manager <release@example.org>",
        "to": ["bsonlite-announce@example.org"],
    })
    # The same command in both phases, through a shell: it fails while the variable is set.
    pyproject = sandbox.repo / "pyproject.toml"
    text = pyproject.read_text().replace(
        'test-command = "python -m pytest -q tests"',
        'test-command = "test -z \\"$GREEN_BREAK_TESTS\\" && python -m pytest -q tests"')
    # One Python keeps the build (twice here) short.
    pyproject.write_text(re.sub(r'^python = \[[^\]]*\]', 'python = ["3.12"]', text, count=1, flags=re.M))
    git(sandbox.repo, "commit", "-qam", "Tests fail while GREEN_BREAK_TESTS is set")
    git(sandbox.repo, "push", "-q", "origin", "main")
    before = repo_state(sandbox.repo, sandbox.origin)
    workdir = tmp_path / "rehearsal"
    args = ["rehearse", "1.1", "--repo", str(sandbox.repo), "--phases", NO_MATRIX, "--workdir", str(workdir),
            "-p", "accept_draft=true", "-p", "allow_untested=true"]  # no matrix: the gate is overridden

    monkeypatch.setenv("GREEN_BREAK_TESTS", "1")
    assert main(args) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "05_build" in err and "The real repository and its remote are unchanged" in err
    assert f"releaselib rehearse 1.1 --resume --repo {sandbox.repo} --workdir {workdir}" in err
    assert "releaselib run 1.1 --resume" not in err
    assert repo_state(sandbox.repo, sandbox.origin) == before

    monkeypatch.delenv("GREEN_BREAK_TESTS")
    assert main([*args, "--resume"]) == 0, capsys.readouterr().err
    assert repo_state(sandbox.repo, sandbox.origin) == before
    record = json.loads((workdir / "outputs" / "bsonlite" / "1.1" / "record.json").read_text())
    attempts = {}
    for entry in record["entries"]:
        attempts.setdefault(entry["phase"], []).append(entry["result"])
    assert attempts["04_commit_tag"] == ["succeeded"]  # done once, not again on resume
    assert attempts["05_build"] == ["failed", "succeeded"]
    assert attempts["09_announce"] == ["succeeded"]


def test_a_project_without_announce_settings_rehearses_its_mail_to_the_local_catcher(tmp_path, capsys):
    """A new user rehearses before filling in [announce] (init writes it commented out): the rehearsal
    sends its mail from and to placeholder addresses at the local catcher, and says the real release needs them."""
    sandbox = create_sandbox(tmp_path / "real")
    workdir = tmp_path / "rehearsal"
    code = main(["rehearse", "1.1", "--repo", str(sandbox.repo), "--phases", "preflight,changelog,announce",
                 "--workdir", str(workdir), "-p", "accept_draft=true"])
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert code == 0, captured.out + captured.err
    record_dir = workdir / "outputs" / "bsonlite" / "1.1"
    sent = next(record_dir.rglob("announcement*.eml"), None) or next(record_dir.rglob("*.eml"))
    text = sent.read_text()
    assert "To: announce@rehearsal.invalid" in text and "From: releaselib rehearsal <release@rehearsal.invalid>" in text
    assert "[announce] sender and to are not set" in out
