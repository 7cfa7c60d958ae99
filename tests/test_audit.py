"""review, verify and diff on a real release record (the sample's git-side phases).

Each damage test starts from a record that verifies, changes one thing, and
checks that verify names exactly that thing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import tomlkit

from releaselib.cli import main
from releaselib.infra.config import load_config
from releaselib.local.servers import PackageIndex
from releaselib.record import audit
from releaselib.record import verify as verifying
from releaselib.record.store import sha256_file

from .fixtures_record import (
    FILES,
    GIT_PHASES,
    PACKAGE,
    VERSION,
    RecordCopy,
    add_later_phases,
    append_entry,
    rechain,
)

pytest_plugins = ["tests.fixtures_record"]  # the `released` and `record` fixtures



def verify(copy: RecordCopy, **kwargs) -> list[str]:
    return verifying.verify_release(copy.outputs, PACKAGE, VERSION, **kwargs)


def cli(copy: RecordCopy, *args: str) -> int:
    return main([*args, "--outputs", str(copy.outputs), "--package", PACKAGE])


# --------------------------------------------------------------------------- verify


def test_a_fresh_record_is_whole(record, capsys):
    assert verify(record) == []
    assert cli(record, "verify", VERSION) == 0
    assert "is whole" in capsys.readouterr().out


def test_an_edited_output_cell_names_the_notebook(record, capsys):
    path = record.directory / "03_bump.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.outputs)
    cell.outputs[0]["text" if "text" in cell.outputs[0] else "data"] = (
        "nothing to see here\n" if "text" in cell.outputs[0] else {"text/plain": "nothing to see here"}
    )
    nbformat.write(nb, path)

    problems = verify(record)

    assert len(problems) == 1
    assert problems[0].startswith("03_bump.ipynb: does not match its recorded sha256")
    assert cli(record, "verify", VERSION) == 1
    assert "03_bump.ipynb: does not match its recorded sha256" in capsys.readouterr().err


def test_a_deleted_notebook_is_named(record):
    (record.directory / "04_commit_tag.ipynb").unlink()

    assert verify(record) == ["04_commit_tag.ipynb: missing (the notebook of entry 4 (04_commit_tag attempt 1))"]


def test_an_edited_entry_breaks_the_chain(record):
    data = record.data()
    data["entries"][3]["values"]["bump_commit"] = "0" * 40
    record.write(data)

    problems = verify(record)

    tagged = subprocess.run(["git", "-C", str(record.sandbox.origin), "rev-parse", "1.1^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert problems == [
        "record.json: entry 4 (04_commit_tag attempt 1): its content does not match its hash (it was edited)",
        "entry 4 (04_commit_tag attempt 1): value 'bump_commit' differs from what its notebook shows",
        f"tag 1.1: on {record.sandbox.origin} it points at {tagged[:12]}, the record's BUMP commit is 000000000000",
    ]


def test_a_removed_entry_breaks_the_chain(record):
    data = record.data()
    del data["entries"][1]
    record.write(data)

    problems = verify(record)

    assert problems == [
        ("record.json: entry 2 (03_bump attempt 1): does not chain to the entry before it "
         "(an entry was removed or reordered)"),
        "02_changelog.ipynb: a notebook no entry of the record names (an entry was removed?)",
        f"entry 2 (03_bump attempt 1): differs from the anchor on {record.sandbox.origin} (the record was rewritten)",
    ]


def test_an_unreadable_record_json_is_named(record):
    (record.directory / "record.json").write_text('{"schema": 1, "entries": [')
    problems = verify(record)
    assert len(problems) == 1 and problems[0].startswith("record.json: The release record")
    (record.directory / "record.json").unlink()
    assert verify(record) == [f"record.json is missing from {record.directory}"]


def test_a_cell_left_unexecuted_is_named_even_with_hashes_fixed(record):
    # Truncate 02_changelog: one code cell never ran. The notebook hash and the
    # chain are fixed up, so only the cell check can catch it.
    path = record.directory / "02_changelog.ipynb"
    nb = nbformat.read(path, as_version=4)
    index = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][-1]
    nb.cells[index].execution_count = None
    nb.cells[index].outputs = []
    nbformat.write(nb, path)
    data = record.data()
    entry = next(e for e in data["entries"] if e["phase"] == "02_changelog")
    entry["notebook_sha256"] = sha256_file(path)
    record.write(rechain(data))

    assert verify(record, anchor=False) == [
        f"02_changelog.ipynb: cell {index}: not executed (recorded as succeeded)",
        "entry 2 (02_changelog attempt 1): value 'accept_draft' is not in its notebook's outputs",
        "entry 2 (02_changelog attempt 1): value 'changelog_section' is not in its notebook's outputs",
    ]
    # The anchor on the remote pinned the entry as it was.
    assert verify(record)[-1] == (
        f"entry 2 (02_changelog attempt 1): differs from the anchor on {record.sandbox.origin} (the record was rewritten)"
    )


def test_a_secret_in_a_log_is_named(record, monkeypatch):
    name = load_config(record.sandbox.repo).secret_env_names()[0]
    monkeypatch.setenv(name, "hunter2-not-a-real-password")
    assert verify(record) == []
    logs = record.directory / "logs"
    logs.mkdir()
    (logs / "build.log").write_text("uploading with password hunter2-not-a-real-password\n")

    assert verify(record) == [f"logs/build.log: contains the value of {name}"]
    # A secret passed in is looked for too, wherever it is.
    (logs / "build.log").unlink()
    (record.directory / "notes.txt").write_text("token: abcd-1234-efgh\n")
    assert verify(record, secrets={"MY_TOKEN": "abcd-1234-efgh"}) == [
        "notes.txt: a file no entry of the record accounts for",
        "notes.txt: contains the value of MY_TOKEN",
    ]


def test_a_failed_attempt_is_not_checked_for_completion_but_a_successful_one_without_notebook_is(record):
    append_entry(record, "05_build", {}, result="failed", reason="boom")
    assert verify(record) == []
    append_entry(record, "05_build", {"files": FILES}, notebook=False)
    assert verify(record) == ["entry 7 (05_build attempt 2): succeeded but names no notebook"]


# --------------------------------------------------------------------------- verify --index


def _tiny_sdist(folder: Path, name: str, version: str) -> Path:
    """A minimal but valid sdist: a tar.gz holding PKG-INFO."""
    base = f"{name}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test file\n".encode()
    path = folder / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, data in ((f"{base}/PKG-INFO", pkg_info), (f"{base}/setup.py", b"")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _configured_copy_of_repo(record: RecordCopy, tmp_path: Path, index_url: str) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(record.sandbox.repo, repo, symlinks=True)
    pyproject = repo / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    publish = tomlkit.table()
    publish["index-url"] = index_url
    publish["repository-url"] = index_url.replace("/simple/", "/")
    document["tool"]["releaselib"]["publish"] = publish
    pyproject.write_text(tomlkit.dumps(document))
    return repo


def test_verify_index_names_a_file_replaced_or_removed_on_the_index(record, tmp_path, capsys):
    with PackageIndex(tmp_path / "index", password="index-secret-1") as index:
        sdist = _tiny_sdist(tmp_path, PACKAGE, VERSION)
        env = {**os.environ, "TWINE_USERNAME": index.username, "TWINE_PASSWORD": index.password}
        upload = subprocess.run(
            [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", index.upload_url, str(sdist)],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )
        assert upload.returncode == 0, upload.stdout + upload.stderr
        files = [{"filename": sdist.name, "kind": "sdist", "size": sdist.stat().st_size, "sha256": sha256_file(sdist)}]
        append_entry(record, "06_publish", {"files": files})
        repo = _configured_copy_of_repo(record, tmp_path, index.simple_url)

        assert verify(record, index=True, repo=repo) == []
        assert cli(record, "verify", VERSION, "--index", "--repo", str(repo)) == 0

        served = index.packages_dir / sdist.name
        served.write_bytes(served.read_bytes() + b"\0")
        problems = verify(record, index=True, repo=repo)
        assert problems == [
            (f"{sdist.name}: the index serves a different file (sha256 {sha256_file(served)}, "
             f"recorded {sha256_file(sdist)} by 06_publish)")
        ]
        capsys.readouterr()
        assert cli(record, "verify", VERSION, "--index", "--repo", str(repo)) == 1
        assert "the index serves a different file" in capsys.readouterr().err

        served.unlink()
        assert verify(record, index=True, repo=repo) == [
            f"{sdist.name}: missing from the index ({index.simple_url}{PACKAGE}/)"
        ]
    # The index is gone: verify says it could not check it, and does not call the record broken.
    from releaselib.record.verify import verify_record

    found = verify_record(record.outputs, PACKAGE, VERSION, index=True, repo=repo)
    assert found.problems == []
    assert [line for line in found.unchecked if line.startswith("--index: Cannot reach the package index")]


def test_verify_index_without_recorded_files_is_a_problem(record):
    assert verify(record, index=True) == [
        "--index: the record lists no files (no successful 05_build or 06_publish with a `files` value)"
    ]


# --------------------------------------------------------------------------- review


def test_review_shows_the_release_at_a_glance(record, capsys):
    data = record.data()
    bump_commit = data["entries"][3]["values"]["bump_commit"]

    text = audit.review_text(record.outputs, PACKAGE, VERSION)

    # Five of the ten phases ran: a partial release is never "succeeded".
    from releaselib.core.registry import phase_names

    configured = phase_names()
    not_run = ", ".join(p for p in configured if p not in GIT_PHASES.split(",") and p[3:] not in GIT_PHASES.split(","))
    assert text.startswith(f"{PACKAGE} {VERSION}: in progress (5 of {len(configured)} phases; not run: {not_run})\n")
    assert "Release Manager <release@example.org>" in text
    assert f"remote     origin {data['repo']['remote_url']}" in text
    for phase in ("00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"):
        assert any(line.strip().startswith(phase) and "succeeded" in line and "1 attempt" in line
                   for line in text.splitlines()), phase
    assert f"BUMP commit         {bump_commit}  tag 1.1" in text
    assert text.split("Unusual\n", 1)[1].startswith(f"  - not run: {not_run}")
    assert "papermill " in text  # tool versions
    assert cli(record, "review", VERSION) == 0
    assert capsys.readouterr().out == text


def test_review_shows_matrix_files_announcement_and_the_unusual(record):
    add_later_phases(record)

    text = audit.review_text(record.outputs, PACKAGE, VERSION)

    assert "01_test          ✔ succeeded     6.5s  2 attempts" in text
    assert "06_publish       · not run" in text
    assert "Test matrix: 2 of 2 cells passed; 24 tests passed, 0 failed" in text
    assert "Python 3.11 (3.11.7), with extension     ✔ passed   12 passed / 0 failed" in text
    assert "skipped: 3.9" in text
    file_line = next(line for line in text.splitlines() if "bsonlite-1.1.tar.gz" in line)
    assert file_line.split() == ["bsonlite-1.1.tar.gz", "10,240", "B", "sha256", "a" * 64]
    assert "Message-ID <release-1.1@example.org>" in text
    assert "Docs  http://127.0.0.1:9/bsonlite/  (showed 1.1 after 2 checks, 3.1s)" in text
    unusual = text.split("Unusual\n", 1)[1]
    assert "01_test attempt 1 failed: 1 matrix cell failed" in unusual
    assert "interpreters skipped by the test matrix: 3.9" in unusual
    assert verifying.verify_release(record.outputs, PACKAGE, VERSION) == []


def test_review_of_a_missing_release_says_where_it_looked(record, capsys):
    assert cli(record, "review", "9.9") == 1
    err = capsys.readouterr().err
    assert "No record of bsonlite 9.9" in err and "1.1" in err


def test_the_package_defaults_to_the_only_one_in_outputs(record, tmp_path, capsys):
    os.chdir(tmp_path)  # not a project: the package comes from the outputs
    try:
        assert main(["review", VERSION, "--outputs", str(record.outputs)]) == 0
    finally:
        os.chdir(Path(__file__).parent)
    assert capsys.readouterr().out.startswith("bsonlite 1.1: in progress (5 of ")
    assert audit.resolve_package(record.outputs, VERSION, None, record.sandbox.repo) == PACKAGE


# --------------------------------------------------------------------------- diff


def test_diff_puts_two_releases_side_by_side(record, capsys):
    later = record.outputs / PACKAGE / "1.2"
    shutil.copytree(record.directory, later)
    data = json.loads((later / "record.json").read_text())
    data["version"] = "1.2"
    data["tools"]["papermill"] = "9.9.9"
    data["entries"][2]["duration"] = 42.0  # durations always move: shown, not marked
    data["entries"][1]["result"] = "failed"  # an outcome that differs: marked
    (later / "record.json").write_text(json.dumps(rechain(data)))
    add_later_phases(record)

    text = audit.diff_text(record.outputs, PACKAGE, "1.1", "1.2")

    lines = text.splitlines()
    def row(label: str) -> str:
        return next(line for line in lines if line[2:].startswith(label + " "))
    assert row("03_bump").startswith(" ") and row("03_bump").rstrip().endswith("succeeded 42.0s")
    assert row("02_changelog").startswith("*") and " failed " in row("02_changelog").split("succeeded", 1)[1]
    assert row("00_preflight").startswith(" ")
    assert row("papermill").startswith("*") and row("papermill").rstrip().endswith("9.9.9")
    assert row("nbformat").startswith(" ")
    assert row("01_test").startswith("*") and row("01_test").rstrip().endswith("not run")
    assert row("bsonlite-{version}.tar.gz").startswith("*")
    assert "Python 3.11 (3.11.7), with extension" in text
    assert cli(record, "diff", "1.1", "1.2") == 0
    assert capsys.readouterr().out == text


def test_a_file_no_entry_accounts_for_is_named(record):
    assert verify(record, anchor=False) == []
    (record.directory / "notes-from-someone.txt").write_text("edited by hand\n")
    (record.directory / "extra").mkdir()
    (record.directory / "dist").mkdir(exist_ok=True)
    (record.directory / "dist" / "bsonlite-1.1-py3-none-any.whl").write_bytes(b"planted")
    assert verify(record, anchor=False) == [
        "dist/bsonlite-1.1-py3-none-any.whl: a file no entry of the record lists (planted, or left over?)",
        "extra/: a folder no entry of the record accounts for",
        "notes-from-someone.txt: a file no entry of the record accounts for",
    ]


def test_verify_from_inside_another_repository_checks_the_released_one(record, tmp_path, monkeypatch):
    """`--repo` defaults to the current folder: another project's repository there is not the release's."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(elsewhere)], check=True)
    # Its origin is a real remote, reachable and without this release's anchor.
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "theirs.git")], check=True)
    subprocess.run(["git", "-C", str(elsewhere), "remote", "add", "origin", str(tmp_path / "theirs.git")], check=True)
    monkeypatch.chdir(elsewhere)
    assert cli(record, "verify", "1.1") == 0
