"""The runner's papermill engine: progress visible while a phase runs, one validated save at the end."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill

from releaselib.engine.notebook_engine import register


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("staged = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("first = 1\nprint('first ran')"),
        # What a watcher of the staged file sees while this cell runs.
        nbformat.v4.new_code_cell(
            "import json\n"
            "seen = json.load(open(staged))['cells']\n"
            "print([c['metadata']['papermill']['status'] for c in seen])"
        ),
    ]
    nbformat.write(nb, path)
    return path


def test_the_staged_notebook_shows_each_cell_as_it_starts_and_ends_validated(tmp_path: Path) -> None:
    source = _notebook(tmp_path / "in.ipynb")
    staged = tmp_path / "staged.ipynb"
    papermill.execute_notebook(str(source), str(staged), parameters={"staged": str(staged)},
                               engine_name=register(), progress_bar=False, kernel_name="python3")
    final = json.loads(staged.read_text())
    # Cells: parameters, injected parameters, first, watcher. The watcher saw the earlier
    # cells completed and itself running: the progress was on disk mid-run.
    watched = "".join(final["cells"][3]["outputs"][0]["text"])
    assert watched.strip() == str(["completed", "completed", "completed", "running"]), watched
    assert [c["metadata"]["papermill"]["status"] for c in final["cells"]] == ["completed"] * 4
    # The last save is papermill's own: a valid notebook, written as nbformat writes it.
    nb = nbformat.read(staged, as_version=4)
    nbformat.validate(nb)
    assert staged.read_text().rstrip("\n") == nbformat.writes(nb).rstrip("\n")
    assert not list(tmp_path.glob(".*.partial"))
