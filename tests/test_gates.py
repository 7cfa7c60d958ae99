"""No tag leaves the machine untested: the phases that push the tag or upload a
file refuse unless the record holds a successful 01_test and 05_build for the
tagged commit, or the maintainer overrides it (recorded, and shown as unusual)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.engine.context import start
from releaselib.local.sandbox import create_sandbox
from releaselib.phases.gates import UntestedRelease, missing_checks
from releaselib.record import audit
from releaselib.record.store import Record

from .helpers import git

PARTIAL = "preflight,changelog,bump,commit_tag,post_release"  # no test, no build
pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(tmp_path: Path):
    return create_sandbox(tmp_path / "sandbox")


def remote_tags(sandbox) -> list[str]:
    return git(sandbox.origin, "tag", "--list").split()


def test_a_partial_headless_run_refuses_to_push_the_tag_until_overridden(sandbox, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    base = ["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(outputs)]
    origin_main = git(sandbox.origin, "rev-parse", "main")

    assert main([*base, "--phases", PARTIAL, "-p", "accept_draft=true"]) != 0

    err = " ".join(capsys.readouterr().err.split())
    assert "Refusing to push the tag of bsonlite 1.1" in err
    assert "01_test (the tests)" in err and "05_build (build and check)" in err
    assert "allow_untested=true" in err
    assert "1.1" not in remote_tags(sandbox)  # the tag stayed on this machine
    assert git(sandbox.origin, "rev-parse", "main") == origin_main
    assert git(sandbox.repo, "log", "-1", "--format=%s") == "BUMP 1.1"  # refused before the post-release commit

    assert main([*base, "--phases", "post_release", "--resume", "-p", "allow_untested=true"]) == 0

    assert "1.1" in remote_tags(sandbox)
    record = Record.load(outputs / "bsonlite" / "1.1")
    override = record.value("08_post_release", "allow_untested")
    assert override["what"] == "push the tag" and len(override["missing"]) == 2
    assert record.latest("08_post_release")["parameters"]["allow_untested"] is True
    notes = audit.unusual(record)
    assert any("08_post_release attempt 2 was allowed to push the tag untested" in note for note in notes), notes
    assert "allowed to push the tag untested" in audit.review_text(outputs, "bsonlite", "1.1")
    from releaselib.record.report import write_report

    page = write_report(outputs, "bsonlite", "1.1").read_text()
    assert "allowed to push the tag untested" in page
    diff = audit.diff_text(outputs, "bsonlite", "1.1", "1.1")
    assert "UNUSUAL: 08_post_release attempt 2" in diff


def _entry(record: Record, phase: str, commit: str, *, result: str = "succeeded", dry_run: bool = False) -> None:
    record.append({"phase": phase, "attempt": len(record.attempts(phase)) + 1, "result": result,
                   "dry_run": dry_run, "commit_after": commit, "values": {}})


def test_the_gate_wants_a_real_successful_test_of_the_parent_and_build_of_the_tagged_commit(sandbox, tmp_path):
    repo = sandbox.repo
    tested = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "BUMP 1.1")
    git(repo, "tag", "-a", "1.1", "-m", "bsonlite 1.1")
    tagged = git(repo, "rev-parse", "HEAD")
    release = start("06_publish", "1.1", repo=repo, dry_run=False, outputs=tmp_path / "outputs")
    record = Record.load(release.record_dir)
    record.initialise(package="bsonlite", version="1.1", repo=repo, remote="origin", remote_url=None)

    assert len(missing_checks(release)) == 2
    _entry(record, "01_test", tested, dry_run=True)  # a dry run proves nothing
    _entry(record, "05_build", tagged, result="failed")  # neither does a failure
    _entry(record, "05_build", git(repo, "rev-parse", "HEAD~2"))  # nor a build of another commit
    missing = missing_checks(release)
    assert [line.split(" ")[0] for line in missing] == ["01_test", "05_build"]
    assert "built another commit" in missing[1]

    _entry(record, "01_test", tested)  # the commit the BUMP commit sits on
    _entry(record, "05_build", tagged)
    assert missing_checks(release) == []


def test_publish_refuses_to_upload_without_the_record(sandbox, tmp_path):
    from releaselib.phases.publish import plan_upload

    git(sandbox.repo, "tag", "-a", "1.1", "-m", "bsonlite 1.1")
    release = start("06_publish", "1.1", repo=sandbox.repo, dry_run=False, outputs=tmp_path / "outputs")
    with pytest.raises(UntestedRelease, match="Refusing to upload the files of bsonlite 1.1"):
        plan_upload(release, []).execute(dry_run=False)
    dry = plan_upload(release, []).execute(dry_run=True)  # a dry run shows the gate and changes nothing
    assert dry.outcomes == ["would do"] and "check the record" in str(dry)
