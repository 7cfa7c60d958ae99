"""A phase run by hand: prepared by `releaselib open`, executed cell by cell with
nbclient (as JupyterLab would), archived with `releaselib archive`, reviewed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from releaselib.cli import main
from releaselib.core.errors import UsageError
from releaselib.engine.manual import archive_manual, notebook_parameters, prepare_manual
from releaselib.infra.config import load_config
from releaselib.record import audit, verify as verifying

PACKAGE, VERSION = "bsonlite", "1.1"


def prepare(sandbox, outputs: Path, phase: str = "preflight", version: str = VERSION) -> Path:
    return prepare_manual(phase, version, repo=sandbox.repo, outputs=outputs)


def set_parameter(nb, name: str, value: str) -> None:
    """Edit the one parameters cell, as a maintainer does in JupyterLab."""
    (cell,) = [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    lines = [line for line in cell.source.splitlines() if not line.startswith(f"{name} =")]
    cell.source = "\n".join([*lines, f"{name} = {value}"])


def run_by_hand(path: Path, repo: Path, *, stop_before: int | None = None, **parameters: str) -> None:
    """Execute the notebook cell by cell in one kernel, then save it (JupyterLab's Run, Run, ..., Save)."""
    nb = nbformat.read(path, as_version=4)
    for name, value in parameters.items():
        set_parameter(nb, name, value)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(repo)}})
    with client.setup_kernel():
        assert client.km is not None and client.kc is not None
        for index, cell in enumerate(nb.cells):
            if stop_before is not None and index >= stop_before:
                break
            client.execute_cell(cell, index)
    nbformat.write(nb, path)


def test_a_phase_run_by_hand_lands_in_the_record_marked_with_who(sandbox, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    assert main(["open", "preflight", VERSION, "--repo", str(sandbox.repo), "--outputs", str(outputs),
                 "--no-launch"]) == 0
    prepared = Path(capsys.readouterr().out.strip())
    assert prepared == sandbox.repo / "00_preflight-1.1.manual.ipynb"  # in the project, not the record
    run_by_hand(prepared, sandbox.repo, dry_run="False", phases='"preflight,changelog"')

    assert main(["archive", "preflight", VERSION, "--repo", str(sandbox.repo), "--outputs", str(outputs)]) == 0

    record_dir = outputs / PACKAGE / VERSION
    record = json.loads((record_dir / "record.json").read_text())
    (entry,) = record["entries"]
    assert entry["mode"] == "manual" and entry["result"] == "succeeded" and entry["dry_run"] is False
    assert entry["run_by"]["git_name"] == "Release Manager"
    assert entry["run_by"]["git_email"] == "release@example.org"
    assert entry["run_by"]["os_user"]
    assert entry["notebook"] == "00_preflight.ipynb" and (record_dir / "00_preflight.ipynb").is_file()
    assert not prepared.exists()  # one copy only: the archived one
    assert entry["values"]["checks"]["working tree is clean"] is True  # read back from the outputs
    assert entry["parameters"]["dry_run"] is False and entry["parameters"]["version"] == VERSION
    assert entry["duration"] is not None and entry["duration"] > 0  # from nbclient's cell timings

    text = audit.review_text(outputs, PACKAGE, VERSION)
    assert "00_preflight attempt 1 was run by hand by Release Manager <release@example.org>" in text
    phase_line = next(line for line in text.splitlines() if line.strip().startswith("00_preflight"))
    assert "by hand: Release Manager <release@example.org>" in phase_line
    assert verifying.verify_release(outputs, PACKAGE, VERSION) == []


def test_a_notebook_stopped_half_way_is_a_failed_attempt_and_the_next_is_attempt_2(sandbox, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    path = prepare(sandbox, outputs, "changelog")
    nb = nbformat.read(path, as_version=4)
    last_code = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    run_by_hand(path, sandbox.repo, stop_before=last_code, dry_run="True")

    assert main(["archive", "changelog", VERSION, "--repo", str(sandbox.repo), "--outputs", str(outputs)]) == 1
    assert f"cell {last_code}: not executed" in capsys.readouterr().err

    record_dir = outputs / PACKAGE / f"{VERSION}-dry-run"  # dry runs keep their own record, like headless ones
    first = json.loads((record_dir / "record.json").read_text())["entries"][0]
    assert first["result"] == "failed" and first["mode"] == "manual" and first["dry_run"] is True
    assert f"cell {last_code}: not executed" in first["reason"]

    path = prepare(sandbox, outputs, "changelog")
    _executed_by_hand_without_kernel(path)  # the second try ran every cell
    entry = archive_manual("changelog", VERSION, repo=sandbox.repo, outputs=outputs)
    assert entry["attempt"] == 2 and entry["result"] == "succeeded"
    assert entry["notebook"] == "02_changelog.attempt2.ipynb"
    assert verifying.verify_release(outputs, PACKAGE, f"{VERSION}-dry-run") == []
    text = audit.review_text(outputs, PACKAGE, f"{VERSION}-dry-run")
    assert "02_changelog attempt 1 failed" in text and "02_changelog attempt 2 was a dry run" in text


def _executed_by_hand_without_kernel(path: Path, text: str = "ok") -> None:
    """Mark every code cell as run, with a plain output (cheap: no kernel)."""
    nb = nbformat.read(path, as_version=4)
    for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
    nbformat.write(nb, path)


def test_archive_refuses_a_notebook_for_another_version_or_never_run(sandbox, tmp_path):
    outputs = tmp_path / "outputs"
    path = prepare(sandbox, outputs)
    with pytest.raises(UsageError, match="No code cell of 00_preflight-1.1.manual.ipynb has been executed"):
        archive_manual("preflight", VERSION, repo=sandbox.repo, outputs=outputs)

    nb = nbformat.read(path, as_version=4)
    set_parameter(nb, "version", '"1.2"')
    nbformat.write(nb, path)
    _executed_by_hand_without_kernel(path)
    assert notebook_parameters(nbformat.read(path, as_version=4))["version"] == "1.2"
    with pytest.raises(UsageError, match=r"ran with version = '1.2', not '1.1'"):
        archive_manual("preflight", VERSION, repo=sandbox.repo, outputs=outputs)
    with pytest.raises(UsageError, match="is the notebook of phase 00_preflight, not 03_bump"):
        archive_manual("bump", "1.2", repo=sandbox.repo, outputs=outputs, notebook=path)
    assert not (outputs / PACKAGE / VERSION / "record.json").exists()
    assert not (outputs / PACKAGE / VERSION / "00_preflight.ipynb").exists()


def test_a_secret_in_a_hand_run_notebook_never_reaches_the_record(sandbox, tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    name = load_config(sandbox.repo).secret_env_names()[0]
    monkeypatch.setenv(name, "pa55-word-from-env")
    path = prepare(sandbox, outputs)
    _executed_by_hand_without_kernel(path, text="password is pa55-word-from-env")

    entry = archive_manual("preflight", VERSION, repo=sandbox.repo, outputs=outputs)

    assert entry["result"] == "failed" and name in entry["reason"]
    record_dir = outputs / PACKAGE / f"{VERSION}-dry-run"
    for file in record_dir.rglob("*"):
        if file.is_file():
            assert "pa55-word-from-env" not in file.read_text(errors="replace"), file
    assert not path.exists()
    assert verifying.verify_release(outputs, PACKAGE, f"{VERSION}-dry-run") == []


# -- the traps of a first by-hand run (issue 13) --------------------------------
def test_open_writes_one_parameters_cell_in_the_project_and_keeps_git_clean(sandbox, tmp_path):
    outputs = tmp_path / "outputs"
    path = prepare(sandbox, outputs, "bump")

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(tagged) == 1  # one place to set parameters: the one a maintainer edits
    source = tagged[0].source
    assert f'version = "{VERSION}"     # the release version' in source  # its comment kept in its column
    assert f'repo = "{sandbox.repo}"' in source and "dry_run = True      # True: show" in source
    assert notebook_parameters(nb) == {"version": VERSION, "repo": str(sandbox.repo), "dry_run": True,
                                       "outputs": str(outputs)}
    set_parameter(nb, "dry_run", "False")  # the prose's instruction now takes effect
    assert notebook_parameters(nb)["dry_run"] is False
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "Save and archive" in last.source
    assert f"releaselib archive bump {VERSION} \\\n    --repo {sandbox.repo} \\\n    --outputs {outputs}" in last.source
    assert path.parent == sandbox.repo and not (outputs / PACKAGE).exists()
    assert git_status(sandbox.repo) == ""  # the working copy never dirties the tree a release checks


def git_status(repo: Path) -> str:
    import subprocess

    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_open_again_refuses_to_overwrite_work_unless_forced(sandbox, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    args = ["open", "changelog", VERSION, "--repo", str(sandbox.repo), "--outputs", str(outputs), "--no-launch"]
    assert main(args) == 0
    path = Path(capsys.readouterr().out.strip())
    _executed_by_hand_without_kernel(path)
    before = path.read_bytes()

    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert path.name in err and "executed cell(s)" in err and "--force" in err and "archive" in err
    assert path.read_bytes() == before

    assert main([*args, "--force"]) == 0
    assert path.read_bytes() != before and _count_executed(path) == 0


def _count_executed(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.execution_count is not None)


def test_archive_removes_checkpoints_and_a_later_save_cannot_touch_the_record(sandbox, tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    name = load_config(sandbox.repo).secret_env_names()[0]
    monkeypatch.setenv(name, "pa55-word-from-env")
    path = prepare(sandbox, outputs)
    _executed_by_hand_without_kernel(path, text="password is pa55-word-from-env")
    checkpoint = sandbox.repo / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(path.read_bytes())  # what Lab writes beside the notebook: unredacted

    archive_manual("preflight", VERSION, repo=sandbox.repo, outputs=outputs)

    record_dir = outputs / PACKAGE / f"{VERSION}-dry-run"
    assert not checkpoint.exists() and not path.exists()
    snapshot = {p: p.read_bytes() for p in record_dir.rglob("*") if p.is_file()}
    path.write_text("{}")  # Lab's Ctrl+S after archiving: the working copy comes back, in the project
    assert {p: p.read_bytes() for p in record_dir.rglob("*") if p.is_file()} == snapshot
    assert verifying.verify_release(outputs, PACKAGE, f"{VERSION}-dry-run") == []


def test_verify_flags_checkpoints_and_notebooks_no_entry_names(sandbox, tmp_path):
    outputs = tmp_path / "outputs"
    path = prepare(sandbox, outputs)
    _executed_by_hand_without_kernel(path)
    archive_manual("preflight", VERSION, repo=sandbox.repo, outputs=outputs)
    record_dir = outputs / PACKAGE / f"{VERSION}-dry-run"
    (record_dir / ".ipynb_checkpoints").mkdir()
    (record_dir / ".ipynb_checkpoints" / "00_preflight-checkpoint.ipynb").write_text("{}")
    (record_dir / "00_preflight.manual.ipynb").write_text("{}")

    problems = verifying.verify_release(outputs, PACKAGE, f"{VERSION}-dry-run")

    assert any(".ipynb_checkpoints/00_preflight-checkpoint.ipynb" in p and "no entry" in p for p in problems)
    assert any(p.startswith("00_preflight.manual.ipynb") and "no entry" in p for p in problems)
    assert len(problems) == 2


def test_lab_refuses_to_write_into_the_record(sandbox, tmp_path, monkeypatch):
    import asyncio
    import json as _json

    from tornado.web import HTTPError

    from releaselib.engine.lab import GUARD_ENV, RecordGuardContentsManager

    outputs = sandbox.repo / "outputs"  # the default: inside the project Lab shows
    record_dir = outputs / PACKAGE / VERSION
    record_dir.mkdir(parents=True)
    (record_dir / "record.json").write_text("{}")
    monkeypatch.setenv(GUARD_ENV, _json.dumps([str(outputs)]))
    manager = RecordGuardContentsManager(root_dir=str(sandbox.repo))
    model = {"type": "file", "format": "text", "content": "changed"}

    async def attempts() -> None:
        for call in (lambda: manager.save(model, f"outputs/{PACKAGE}/{VERSION}/record.json"),
                     lambda: manager.delete_file(f"outputs/{PACKAGE}/{VERSION}/record.json"),
                     lambda: manager.rename_file(f"outputs/{PACKAGE}/{VERSION}/record.json", "moved.json"),
                     lambda: manager.save(model, f"outputs/{PACKAGE}/new.txt")):
            with pytest.raises(HTTPError) as caught:
                await call()
            assert caught.value.status_code == 403 and "read-only" in caught.value.log_message
        await manager.save(model, "notes.txt")  # the project itself stays writable

    asyncio.run(attempts())
    assert (record_dir / "record.json").read_text() == "{}"
    assert (sandbox.repo / "notes.txt").read_text() == "changed"


def test_archive_refuses_when_a_secret_the_phase_may_hold_cannot_be_scanned_for(sandbox, tmp_path, monkeypatch):
    """The scan must not depend on the archiving shell: a declared secret it cannot see stops the archive."""
    from releaselib.core.errors import UsageError
    from releaselib.infra.config import load_config

    outputs = tmp_path / "outputs"
    password_env = load_config(sandbox.repo).publish.password_env
    monkeypatch.delenv(password_env, raising=False)
    working = prepare_manual("publish", VERSION, repo=sandbox.repo, outputs=outputs)
    nb = nbformat.read(working, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").execution_count = 1  # the maintainer ran a cell
    nbformat.write(nb, working)
    with pytest.raises(UsageError, match=password_env) as info:
        archive_manual("publish", VERSION, repo=sandbox.repo, outputs=outputs)
    assert "Nothing was archived" in info.value.message
    assert not (outputs / "bsonlite" / f"{VERSION}-dry-run" / "record.json").exists()
    # With the secret visible the scan runs: the unexecuted notebook is archived as a failed attempt.
    monkeypatch.setenv(password_env, "canary-" + "x" * 12)
    entry = archive_manual("publish", VERSION, repo=sandbox.repo, outputs=outputs)
    assert entry["result"] == "failed"
