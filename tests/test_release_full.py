"""End-to-end: the irreversible half against real local servers (issue 3).

A real bare remote, a real pypiserver, a real aiosmtpd catcher and a docs
server rebuilt by a hook on the remote. The tests assert on what those hold.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from releaselib.cli import main
from releaselib.local.demo import release_environment
from releaselib.infra.index import index_files

from .helpers import FEW_PYTHONS, commit_all, git, with_accepted_draft
from .report_browser import CHROMIUM, check_report_in_browser

pytestmark = pytest.mark.e2e

CANARY_INDEX = "canary-index-7f3a9c1e5b"
CANARY_SMTP = "canary-smtp-2d8e4b6a0c"
NO_MATRIX = "preflight,changelog,bump,commit_tag,build,publish,docs,post_release,announce"


def run(env, version: str, *extra: str) -> int:
    return main(with_accepted_draft(["run", version, "--repo", str(env.repo), "--outputs", str(env.outputs), *extra]))


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """One complete release, every phase, with canary credentials; the servers stay up for the tests."""
    root = tmp_path_factory.mktemp("full")
    with release_environment(root, index_password=CANARY_INDEX, smtp_password=CANARY_SMTP) as env:
        before = git(env.origin, "rev-parse", "main")
        code = run(env, "1.1")
        yield env, code, before


def test_release_completes(released):
    env, code, _ = released
    assert code == 0


def test_index_serves_the_recorded_files(released):
    env, _, _ = released
    record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
    files = next(e for e in record["entries"] if e["phase"] == "05_build")["values"]["files"]
    recorded = {f["filename"]: f["sha256"] for f in files}
    assert any(name.endswith(".tar.gz") for name in recorded)
    assert any(name.endswith(".whl") for name in recorded)
    assert index_files(env.servers.index.simple_url, "bsonlite") == recorded
    assert env.servers.index.files() == recorded


def test_one_announcement_with_the_changelog(released):
    env, _, _ = released
    messages = env.servers.mail.messages
    assert len(messages) == 1
    message = messages[0]
    assert "bsonlite 1.1" in message["Subject"]
    body = message.get_content()
    assert "Fix int32 overflow check" in body  # the drafted changelog section
    assert "pip install" in body
    record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
    announce = next(e for e in record["entries"] if e["phase"] == "09_announce")
    assert announce["values"]["message_id"] == message["Message-ID"]


def test_docs_show_the_new_version(released):
    env, _, _ = released
    page = urllib.request.urlopen(env.servers.docs.url, timeout=10).read().decode()
    assert "bsonlite 1.1 documentation" in page or "bsonlite 1.1+dev documentation" in page
    record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
    docs = next(e for e in record["entries"] if e["phase"] == "07_docs")
    assert docs["result"] == "succeeded"


def test_origin_holds_bump_tag_and_next_dev(released):
    env, _, before = released
    subjects = git(env.origin, "log", "--format=%s", f"{before}..main").splitlines()
    assert subjects == ["BUMP 1.1+dev", "BUMP 1.1"]
    assert git(env.origin, "rev-parse", "1.1^{commit}") == git(env.origin, "rev-parse", "main~1")
    assert git(env.origin, "cat-file", "-t", "refs/tags/1.1") == "tag"


def test_no_canary_under_outputs(released):
    env, _, _ = released
    files = [p for p in (env.outputs / "bsonlite").rglob("*") if p.is_file()]
    assert len(files) > 10  # notebooks, record, logs, dist: the scan really looked at something
    for path in files:
        data = path.read_bytes()
        assert CANARY_INDEX.encode() not in data, path
        assert CANARY_SMTP.encode() not in data, path


def test_logs_hold_no_terminal_escape_codes(released):
    env, _, _ = released
    logs = [path for path in (env.outputs / "bsonlite" / "1.1" / "logs").rglob("*") if path.is_file()]
    assert len(logs) > 5
    assert [path.name for path in logs if b"\x1b" in path.read_bytes()] == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)")
def test_the_report_of_the_release_reads_well_in_a_browser(released, tmp_path):
    from releaselib.core.registry import phase_names
    from releaselib.record.report import write_report

    env, _, _ = released
    page = write_report(env.outputs, "bsonlite", "1.1")

    measured = check_report_in_browser(page, tmp_path / "shots", phase_names())  # screenshots there

    assert measured["bytes"] < 150_000 and measured["height_1400"] < 5000


def test_wrong_password_then_resume_finishes_without_doing_anything_twice(tmp_path, capsys):
    with release_environment(tmp_path, index_password="the-right-password", pythons=FEW_PYTHONS) as env:
        import os

        os.environ["TWINE_PASSWORD"] = "a-wrong-password"
        code = run(env, "1.1", "--phases", NO_MATRIX, "-p", "allow_untested=true")
        err = capsys.readouterr().err
        assert code != 0
        assert "06_publish" in err and "403" in err and env.servers.index.url in err
        assert "--resume" in err
        assert env.servers.index.files() == {}
        tag_object = git(env.origin, "rev-parse", "refs/tags/1.1")
        bump_commit = git(env.origin, "rev-parse", "main")

        os.environ["TWINE_PASSWORD"] = "the-right-password"
        code = run(env, "1.1", "--phases", NO_MATRIX, "--resume", "-p", "allow_untested=true")
        assert code == 0, capsys.readouterr().err
        assert len(env.servers.index.files()) >= 2
        # Not tagged or pushed twice: the same tag object, one BUMP commit.
        assert git(env.origin, "rev-parse", "refs/tags/1.1") == tag_object
        assert git(env.origin, "rev-parse", "main~1") == bump_commit
        subjects = git(env.origin, "log", "--format=%s", "1.0..main").splitlines()
        assert subjects.count("BUMP 1.1") == 1
        record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
        publish = [e for e in record["entries"] if e["phase"] == "06_publish"]
        assert [e["result"] for e in publish] == ["failed", "succeeded"]
        assert len(env.servers.mail.messages) == 1


def test_broken_tests_stop_the_release_in_build(tmp_path, capsys):
    with release_environment(tmp_path, pythons=FEW_PYTHONS) as env:
        test_file = env.repo / "tests" / "test_bsonlite.py"
        test_file.write_text(test_file.read_text() + "\n\ndef test_broken():\n    assert False, 'broken on purpose'\n")
        commit_all(env.repo, "Break a test")
        git(env.repo, "push", "-q", "origin", "main")
        origin_refs = git(env.origin, "for-each-ref", "--format=%(refname) %(objectname)")

        code = run(env, "1.1", "--phases", NO_MATRIX, "-p", "allow_untested=true")

        err = capsys.readouterr().err
        assert code != 0
        assert "05_build" in err
        assert env.servers.index.files() == {}
        assert git(env.origin, "for-each-ref", "--format=%(refname) %(objectname)") == origin_refs
        assert env.servers.mail.messages == []


def test_dry_run_of_every_phase_changes_nothing(tmp_path):
    from .helpers import repo_state

    with release_environment(tmp_path) as env:
        path = env.repo / "pyproject.toml"
        import re

        path.write_text(re.sub(r'python = \[[^\]]*\]', 'python = ["3.12"]', path.read_text(), count=1))
        commit_all(env.repo, "Test on one Python")
        git(env.repo, "push", "-q", "origin", "main")
        before = repo_state(env.repo, env.origin)

        assert run(env, "1.1", "--dry-run") == 0

        assert repo_state(env.repo, env.origin) == before
        assert env.servers.index.files() == {}
        assert env.servers.mail.messages == []
        record = json.loads((env.outputs / "bsonlite" / "1.1-dry-run" / "record.json").read_text())
        assert [e["phase"] for e in record["entries"]] == [
            "00_preflight", "00a_api", "01_test", "02_changelog", "03_bump", "04_commit_tag",
            "05_build", "06_publish", "07_docs", "08_post_release", "09_announce"]
        assert (env.outputs / "bsonlite" / "1.1-dry-run" / "announcement.eml").exists()
