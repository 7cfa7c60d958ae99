"""Executed notebooks read as plain JSON: what verify and the runner check in them.

``nbformat.read`` imports jsonschema, whose format checkers build a URI
grammar at import (about a second, more on a busy machine): most of what a
``verify`` used to cost. A notebook archived by the runner is nbformat 4
JSON, which ``json`` reads as well; anything else (an older format to
convert, a file that is not JSON) still goes through nbformat, so its
findings and errors are unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["read_notebook", "unfinished_cells"]


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
