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
    """Edit the injected-parameters cell, as a maintainer does in JupyterLab."""
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
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
    assert prepared.name == "00_preflight.manual.ipynb"
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
    with pytest.raises(UsageError, match="No code cell of 00_preflight.manual.ipynb has been executed"):
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
