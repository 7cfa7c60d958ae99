"""A record that cannot be quietly rewritten: the anchor on the remote, the header in the chain, signatures,
and verify telling "not whole" from "not checked".

The forger here follows docs/record.md: it edits what it wants, keeps the
notebooks consistent with the entries, recomputes every hash from the header
on, so the folder alone verifies. Only the anchor on the remote can tell.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import tomlkit

from releaselib.cli import main
from releaselib.record import anchor as anchors
from releaselib.record.store import sha256_file
from releaselib.record.verify import VALUE_MIME, verify_record

from .fixtures_record import PACKAGE, VERSION, RecordCopy, rechain

pytest_plugins = ["tests.fixtures_record"]


def found(copy: RecordCopy, **kwargs):
    return verify_record(copy.outputs, PACKAGE, VERSION, **kwargs)


def rewritten(copy: RecordCopy, origin: Path) -> str:
    return f"differs from the anchor on {origin} (the record was rewritten)"


def _forge_changelog(copy: RecordCopy, text: str) -> None:
    """Change the recorded release notes in the notebook and the entry alike, then re-hash everything."""
    path = copy.directory / "02_changelog.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            item = (output.get("data") or {}).get(VALUE_MIME)
            if item and item["key"] == "changelog_section":
                item["value"] = text
    nbformat.write(nb, path)
    data = copy.data()
    entry = next(e for e in data["entries"] if e["phase"] == "02_changelog")
    entry["values"]["changelog_section"] = text
    entry["notebook_sha256"] = sha256_file(path)
    copy.write(rechain(data))


def test_a_consistent_rewrite_passes_the_folder_checks_but_not_the_anchor(record, capsys):
    _forge_changelog(record, "Nothing to see here.\n")

    assert found(record, anchor=False).problems == []  # the folder alone is fooled
    result = found(record)
    origin = record.sandbox.origin
    assert result.problems == [f"entry 2 (02_changelog attempt 1): {rewritten(record, origin)}"]
    assert main(["verify", VERSION, "--outputs", str(record.outputs), "--package", PACKAGE]) != 0
    assert "the record was rewritten" in capsys.readouterr().err


def test_a_record_cut_short_and_a_rewritten_header_are_caught(record):
    data = record.data()
    last = data["entries"].pop()
    (record.directory / last["notebook"]).unlink()
    record.write(rechain(data))
    assert found(record).problems == [
        f"record.json: ends at entry {len(data['entries'])}, but the anchor on {record.sandbox.origin} pins "
        f"{len(data['entries']) + 1} entries (the record was cut short)"
    ]

    data = record.data()
    data["operator"]["git_name"] = "Someone Else"
    record.write(data)  # without re-hashing: the chain starts at the header
    assert found(record, anchor=False).problems == [
        "record.json: entry 1 (00_preflight attempt 1): does not chain to the header (the header was edited)"
    ]
    record.write(rechain(data))  # with: only the anchor knows
    assert found(record).problems == [
        f"record.json: its header (operator, tools, repo, created) differs from the anchor on {record.sandbox.origin}",
        f"entry 1 (00_preflight attempt 1): {rewritten(record, record.sandbox.origin)}",
    ]


def test_a_dropped_attempt_leaves_an_orphan_and_values_must_match_the_notebook(record):
    (record.directory / "01_test.attempt2.ipynb").write_text((record.directory / "03_bump.ipynb").read_text())
    data = record.data()
    entry = next(e for e in data["entries"] if e["phase"] == "03_bump")
    entry["values"]["previous_version"] = "0.9"
    record.write(rechain(data))
    assert found(record, anchor=False).problems == [
        "entry 3 (03_bump attempt 1): value 'previous_version' differs from what its notebook shows",
        "01_test.attempt2.ipynb: a notebook no entry of the record names (an entry was removed?)",
    ]


def _repo_copy(record: RecordCopy, tmp_path: Path, *, remote: str | None = None, index: str | None = None) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(record.sandbox.repo, repo, symlinks=True)
    if remote is not None:
        subprocess.run(["git", "-C", str(repo), "remote", "set-url", "origin", remote], check=True)
    if index is not None:
        pyproject = repo / "pyproject.toml"
        document = tomlkit.parse(pyproject.read_text())
        table = tomlkit.table()
        table["index-url"] = index
        document["tool"]["releaselib"]["publish"] = table
        pyproject.write_text(tomlkit.dumps(document))
    return repo


def test_an_unreachable_remote_or_index_is_not_checked_rather_than_not_whole(record, tmp_path, capsys):
    from .fixtures_record import FILES, append_entry

    append_entry(record, "06_publish", {"files": FILES})
    repo = _repo_copy(record, tmp_path, remote=str(tmp_path / "gone.git"), index="http://127.0.0.1:9/simple/")

    result = found(record, repo=repo, index=True)
    assert result.problems == []
    assert [line.split(":")[0] for line in result.unchecked if not line.startswith("secrets")] == ["anchor", "--index"]
    assert main(["verify", VERSION, "--index", "--outputs", str(record.outputs), "--package", PACKAGE,
                 "--repo", str(repo)]) == 0
    captured = capsys.readouterr()
    assert "not checked" in captured.err and "is whole" in captured.out and "restore" not in captured.err.lower()


def _keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, (folder / f"{name}.pub").read_text().strip()


def test_a_signed_anchor_verifies_against_the_allowed_signers_only(record, tmp_path, monkeypatch):
    key, public = _keypair(tmp_path, "maintainer")
    _, other = _keypair(tmp_path, "stranger")
    email = record.data()["operator"]["git_email"]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'{email} namespaces="{anchors.SIGNATURE_NAMESPACE}" {public}\n')
    strangers = tmp_path / "strangers"
    strangers.write_text(f'{email} namespaces="{anchors.SIGNATURE_NAMESPACE}" {other}\n')

    monkeypatch.setenv(anchors.SIGNING_KEY_ENV, str(key))
    # Anchor a scratch clone's copy of the remote, so the session's remote keeps its unsigned note.
    origin = tmp_path / "origin.git"
    shutil.copytree(record.sandbox.origin, origin)
    repo = _repo_copy(record, tmp_path, remote=str(origin))
    assert anchors.push_anchor(record.load(), repo, "origin")

    signed = found(record, repo=repo, allowed_signers=allowed)
    assert signed.problems == [] and any("SSH signature" in line for line in signed.checked), signed
    refused = found(record, repo=repo, allowed_signers=strangers)
    assert len(refused.problems) == 1 and refused.problems[0].startswith("anchor: its SSH signature does not verify")
    unsigned = found(record, allowed_signers=allowed)  # the session's remote: anchored without a key
    assert unsigned.problems == ["anchor: the anchor is not signed"]
    assert json.loads(subprocess.run(
        ["git", "-C", str(origin), "notes", "--ref", anchors.NOTES_REF, "show", "refs/tags/1.1"],
        capture_output=True, text=True, check=True).stdout.splitlines()[1])["head"] == record.load().entries[-1]["hash"]


def test_the_tag_message_names_the_record_format_and_its_anchor(record):
    message = subprocess.run(["git", "-C", str(record.sandbox.origin), "tag", "-l", "--format=%(contents)", "1.1"],
                             capture_output=True, text=True, check=True).stdout
    assert message.startswith(f"{PACKAGE} {VERSION}\n")
    assert anchors.ANCHOR_FORMAT in message and anchors.NOTES_REF in message
