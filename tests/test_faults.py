"""End-to-end: every fault a release meets, injected with the real part, and what it leaves behind.

Each fault ends with a non-zero exit, one message saying what happened and
what to do (usually the exact resume command), and nothing lost: the next
``--resume`` finishes the release without doing anything twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from releaselib.cli import main
from releaselib.infra.config import OVERRIDES_ENV
from releaselib.local.demo import release_environment
from releaselib.record.journal import SENDING, append_event
from releaselib.local.sandbox import create_sandbox
from releaselib.local.servers import free_port

from .helpers import FEW_PYTHONS, commit_all, git, with_accepted_draft
from .resume_helpers import NO_MATRIX

pytestmark = pytest.mark.e2e

UP_TO_BUILD = "preflight,changelog,bump,commit_tag,build"


def run(env, *extra: str) -> int:
    return main(with_accepted_draft(["run", "1.1", "--repo", str(env.repo), "--outputs", str(env.outputs), *extra]))


def entries(env, phase: str) -> list[dict]:
    record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
    return [e for e in record["entries"] if e["phase"] == phase]


def refs(path: Path) -> str:
    return git(path, "for-each-ref", "--format=%(refname) %(objectname)")


def failed(capsys, code: int, *phrases: str) -> str:
    """Assert one clear failure: non-zero, an error and a tip, the phrases; return stderr."""
    err = capsys.readouterr().err
    assert code != 0, err
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1 and "TIP:" in err, err
    flat = " ".join(err.split())
    for phrase in phrases:
        assert phrase in flat, f"{phrase!r} not in:\n{err}"
    return err


def test_servers_failing_one_after_another_then_the_release_finishes_once(tmp_path, capsys, monkeypatch,
                                                                           silent_server):
    with release_environment(tmp_path, pythons=FEW_PYTHONS) as env:
        assert run(env, "--phases", UP_TO_BUILD) == 0
        capsys.readouterr()
        resume = ["--phases", NO_MATRIX, "--resume", "-p", "allow_untested=true"]  # no matrix: gate overridden
        index = env.servers.index

        # 1. Someone pushed to main meanwhile: the atomic push is rejected, nothing lands.
        other = tmp_path / "other"
        git(tmp_path, "clone", "-q", str(env.origin), str(other))
        theirs_before = git(other, "rev-parse", "HEAD")
        (other / "NEWS").write_text("someone else's work\n")
        commit_all(other, "Someone else's commit")
        git(other, "push", "-q", "origin", "main")
        origin_refs = refs(env.origin)
        failed(capsys, run(env, *resume), "06_publish", "rejected", "fetch first", "--resume")
        assert refs(env.origin) == origin_refs and index.files() == {}
        assert "1.1" not in git(env.origin, "tag", "--list")
        git(other, "push", "-q", "--force", "origin", f"{theirs_before}:main")  # they take it back

        # 2. A remote that accepts the connection and never answers: the timeout fires.
        url = git(env.repo, "remote", "get-url", "origin")
        git(env.repo, "remote", "set-url", "origin", f"http://127.0.0.1:{silent_server}/bsonlite.git")
        monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"push-timeout": 2}))
        failed(capsys, run(env, *resume), "06_publish", "did not answer within 2 s", "--resume")
        git(env.repo, "remote", "set-url", "origin", url)
        assert index.files() == {} and "1.1" not in git(env.origin, "tag", "--list")

        # 3. The index down: branch and tag are pushed, nothing is uploaded.
        dead = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv(OVERRIDES_ENV, json.dumps(
            {"publish": {"repository-url": dead + "/", "index-url": dead + "/simple/"}}))
        failed(capsys, run(env, *resume), "06_publish", "Cannot reach", dead, "--resume")
        assert git(env.origin, "rev-parse", "1.1^{commit}") == git(env.repo, "rev-parse", "1.1^{commit}")
        assert index.files() == {}
        monkeypatch.delenv(OVERRIDES_ENV)

        # 4. The index holds another file under the release's name: the resume names both hashes.
        sdist = next(f["filename"] for f in entries(env, "05_build")[-1]["values"]["files"]
                     if f["filename"].endswith(".tar.gz"))
        planted = index.packages_dir / sdist
        planted.write_bytes(b"not the file releaselib built\n")
        failed(capsys, run(env, *resume), sdist, "sha256", "record")
        assert list(index.files()) == [sdist]
        planted.unlink()

        # 5. The docs never show the version (a short timeout), and the SMTP server is down.
        smtp_down = {"smtp-port": free_port()}
        monkeypatch.setenv(OVERRIDES_ENV, json.dumps({
            "docs-check": {"url": env.servers.docs.url + "never.html", "timeout": 1, "interval": 0.2},
            "announce": smtp_down,
        }))
        failed(capsys, run(env, *resume), "07_docs", "never.html", "--resume")
        assert len(index.files()) >= 2 and entries(env, "06_publish")[-1]["result"] == "succeeded"

        monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"announce": smtp_down}))
        failed(capsys, run(env, *resume), "09_announce", "connection refused", "--resume")
        assert env.servers.mail.messages == []

        # 6. A kill in the middle of sending leaves "sending" in the journal: no blind resend.
        message_id = entries(env, "09_announce")[-1]["values"]["message_id"]
        append_event(env.outputs / "bsonlite" / "1.1", SENDING, message_id, phase="09_announce")
        monkeypatch.delenv(OVERRIDES_ENV)
        failed(capsys, run(env, *resume), "interrupted while sending", message_id, "-p resend=true")
        assert env.servers.mail.messages == []

        assert run(env, *resume, "-p", "resend=true") == 0, capsys.readouterr().err
        assert len(env.servers.mail.messages) == 1
        # Nothing twice: one BUMP commit, the tag at it, the index equals the record.
        subjects = git(env.origin, "log", "--format=%s", "main").splitlines()
        assert subjects.count("BUMP 1.1") == 1 and subjects[0] == "BUMP 1.1+dev"
        assert git(env.origin, "rev-parse", "1.1^{commit}") == git(env.origin, "rev-parse", "main~1")
        built = {f["filename"]: f["sha256"] for f in entries(env, "05_build")[-1]["values"]["files"]}
        assert index.files() == built
        assert [e["result"] for e in entries(env, "06_publish")] == ["failed"] * 4 + ["succeeded"] or \
            entries(env, "06_publish")[-1]["result"] == "succeeded"
        for entry in entries(env, "06_publish")[:-1]:
            assert entry["reason"], entry


# -- a dying kernel and a cell over its timeout: failed, with the reason -------------------

def _override_notebook(path: Path, body: str) -> None:
    params = new_code_cell('version = None\nrepo = "."\ndry_run = True\noutputs = None')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_dead_kernel_and_a_cell_timeout_fail_the_phase_with_the_reason(tmp_path, capsys, monkeypatch):
    sandbox = create_sandbox(tmp_path / "sandbox")
    folder = sandbox.repo / "release-runbooks"
    folder.mkdir()
    _override_notebook(folder / "07_docs.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _override_notebook(folder / "09_announce.ipynb", "import time\ntime.sleep(60)")
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"runbooks": "release-runbooks"}))
    outputs = tmp_path / "outputs"
    base = ["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(outputs)]

    err = failed(capsys, main([*base, "--phases", "docs"]), "07_docs", "kernel died", "--resume")
    assert "succeeded" not in err
    err = failed(capsys, main([*base, "--phases", "announce", "--cell-timeout", "2"]), "09_announce", "timeout")

    record = json.loads((outputs / "bsonlite" / "1.1" / "record.json").read_text())
    results = {e["phase"]: (e["result"], e["reason"]) for e in record["entries"]}
    assert results["07_docs"][0] == "failed" and "kernel died" in results["07_docs"][1]
    assert results["09_announce"][0] == "failed" and "timeout" in results["09_announce"][1]
