"""A real release record, made once per test session, and helpers to damage copies of it.

Test modules load it with ``pytest_plugins = ["tests.fixtures_record"]``, so the
session fixture is one plugin's, made once. ``released`` runs the git-side phases of the bundled sample (``releaselib run
1.1``) into a session folder, once. ``record`` gives each test its own copy
of ``outputs/`` (``shutil.copytree``), so a test may edit, delete and
re-chain files freely.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from releaselib.cli import main
from releaselib.record.verify import VALUE_MIME
from releaselib.record.store import Record, entry_hash, genesis, sha256_file
from releaselib.local.sandbox import Sandbox, create_sandbox

from .helpers import with_accepted_draft

GIT_PHASES = "preflight,changelog,bump,commit_tag,post_release"
PACKAGE = "bsonlite"
VERSION = "1.1"

@dataclass(frozen=True)
class Released:
    """The session's release: its sandbox and the pristine outputs folder (never edit it)."""

    sandbox: Sandbox
    outputs: Path


@dataclass(frozen=True)
class RecordCopy:
    """One test's own copy of the outputs folder."""

    outputs: Path
    sandbox: Sandbox

    @property
    def directory(self) -> Path:
        return self.outputs / PACKAGE / VERSION

    def load(self) -> Record:
        return Record.load(self.directory)

    def data(self) -> dict[str, Any]:
        return json.loads((self.directory / "record.json").read_text())

    def write(self, data: dict[str, Any]) -> None:
        (self.directory / "record.json").write_text(json.dumps(data, indent=2))


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Released:
    root = tmp_path_factory.mktemp("released")
    sandbox = create_sandbox(root / "sandbox")
    outputs = root / "outputs"
    code = main(with_accepted_draft(["run", VERSION, "--repo", str(sandbox.repo), "--outputs", str(outputs), "--phases", GIT_PHASES,
                                     "-p", "allow_untested=true"]))  # no test matrix here: the gate is overridden
    assert code == 0, "the git-side release of the sample failed"
    return Released(sandbox, outputs)


@pytest.fixture
def record(released: Released, tmp_path: Path) -> RecordCopy:
    outputs = tmp_path / "outputs"
    shutil.copytree(released.outputs, outputs)
    return RecordCopy(outputs, released.sandbox)


def rechain(data: dict[str, Any]) -> dict[str, Any]:
    """Recompute every entry's ``prev`` and ``hash``: what a forger who knows the scheme would do."""
    prev = genesis(data)
    for entry in data["entries"]:
        entry["prev"] = prev
        entry["hash"] = entry_hash(entry)
        prev = entry["hash"]
    return data


def executed_notebook(path: Path, outputs_text: str = "done", values: dict[str, Any] | None = None) -> Path:
    """Write a small notebook whose one code cell ran and completed, showing ``values`` as recorded values."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('done')", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=outputs_text + "\n")]
    for key, value in (values or {}).items():
        cell.outputs.append(nbformat.v4.new_output(
            "display_data", data={"text/plain": f"{key} = {value!r}", VALUE_MIME: {"key": key, "value": value}}))
    nb.cells = [nbformat.v4.new_markdown_cell("A phase made up for the test."), cell]
    nbformat.write(nb, path)
    return path


def append_entry(copy: RecordCopy, phase: str, values: dict[str, Any], *, result: str = "succeeded",
                 reason: str | None = None, duration: float = 1.0, notebook: bool = True) -> dict[str, Any]:
    """Append a synthetic but properly chained entry (with an archived notebook) to a copy."""
    record = copy.load()
    attempt = len(record.attempts(phase)) + 1
    name = f"{phase}.ipynb" if attempt == 1 else f"{phase}.attempt{attempt}.ipynb"
    path = executed_notebook(copy.directory / name, values=values) if notebook else None
    return record.append({
        "phase": phase, "attempt": attempt, "result": result, "reason": reason, "mode": "headless",
        "dry_run": False, "started": "2026-01-01T00:00:00+00:00", "ended": "2026-01-01T00:00:01+00:00",
        "duration": duration, "runbook": f"runbooks/{phase}.ipynb", "runbook_sha256": "0" * 64,
        "notebook": name if path else None, "notebook_sha256": sha256_file(path) if path else None,
        "parameters": {"version": VERSION}, "values": values,
        "commit_before": None, "commit_after": None,
    })


MATRIX = [
    {"python": "3.11", "version": "3.11.7", "extension": True, "result": "passed", "tests_passed": 12,
     "tests_failed": 0, "duration": 3.2, "log": "logs/test-py3.11-ext.log"},
    {"python": "3.11", "version": "3.11.7", "extension": False, "result": "passed", "tests_passed": 12,
     "tests_failed": 0, "duration": 2.9, "log": "logs/test-py3.11-noext.log"},
]
FILES = [
    {"filename": "bsonlite-1.1.tar.gz", "kind": "sdist", "size": 10240, "sha256": "a" * 64},
    {"filename": "bsonlite-1.1-cp311-cp311-manylinux_2_17_x86_64.whl", "kind": "wheel", "size": 20480,
     "sha256": "b" * 64},
]


def add_later_phases(copy: RecordCopy) -> None:
    """Entries for the phases other engineers build: a failed then a passing matrix, build files,
    docs, announcement; each chained and with its notebook."""
    append_entry(copy, "01_test", {"matrix": [{**MATRIX[0], "result": "failed", "tests_failed": 1}]},
                 result="failed", reason="1 matrix cell failed")
    append_entry(copy, "01_test", {"matrix": MATRIX, "matrix_skipped": ["3.9"]}, duration=6.5)
    append_entry(copy, "05_build", {"files": FILES}, duration=20.0)
    append_entry(copy, "07_docs", {"docs": {"url": "http://127.0.0.1:9/bsonlite/", "version": "1.1", "found": True,
                                            "skipped": False, "attempts": 2, "elapsed": 3.1, "excerpt": "..."}})
    append_entry(copy, "09_announce", {"message_id": "<release-1.1@example.org>"})
