"""Reading executed notebooks: the values a runbook recorded, and the cells that did not finish.

Notebooks are read as plain JSON (:func:`read_notebook`): ``nbformat.read``
imports jsonschema, whose format checkers cost about a second at import
(more on a busy machine), most of what a ``verify`` used to cost. A notebook
archived by the runner is nbformat 4 JSON, which ``json`` reads as well;
anything else (an older format to convert, a file that is not JSON) still
goes through nbformat, so its findings and errors are unchanged. The
functions here take either form (a dict, or nbformat's NotebookNode).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: MIME type under which a recorded value is shown in a notebook output, so the
#: runner (and anyone later) can read values back from the executed notebook.
VALUE_MIME = "application/vnd.releaselib.value+json"


def read_notebook(path: Path) -> Mapping[str, Any]:
    """The notebook at ``path`` (nbformat 4); raises what ``nbformat.read`` raises for a bad file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("nbformat") == 4 and isinstance(data.get("cells"), list):
        return data
    import nbformat

    return nbformat.read(path, as_version=4)  # type: ignore[no-any-return]


def _text(source: Any) -> str:
    # On disk nbformat splits a cell's source into lines; in memory it is one string.
    return "".join(source) if isinstance(source, list) else str(source or "")


def values_from_notebook(nb: Mapping[str, Any]) -> dict[str, Any]:
    """Every value recorded in an executed notebook, in cell order (later wins)."""
    values: dict[str, Any] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if VALUE_MIME in data:
                item = data[VALUE_MIME]
                values[item["key"]] = item["value"]
    return values


def unfinished_cells(nb: Mapping[str, Any]) -> list[str]:
    """Code cells that did not run to completion, described (``cell 4: not executed``)."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code" or not _text(cell.get("source", "")).strip():
            continue
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        if errors:
            problems.append(f"cell {index}: raised {errors[0].get('ename')}")
        elif cell.get("execution_count") is None:
            problems.append(f"cell {index}: not executed")
        elif status not in (None, "completed"):
            problems.append(f"cell {index}: {status}")
    return problems
