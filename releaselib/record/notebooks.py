"""Reading executed notebooks: the values a runbook recorded, and the cells that did not finish."""

from __future__ import annotations

from typing import Any

#: MIME type under which a recorded value is shown in a notebook output, so the
#: runner (and anyone later) can read values back from the executed notebook.
VALUE_MIME = "application/vnd.releaselib.value+json"


def values_from_notebook(nb: Any) -> dict[str, Any]:
    """Every value recorded in an executed notebook, in cell order (later wins)."""
    values: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if VALUE_MIME in data:
                item = data[VALUE_MIME]
                values[item["key"]] = item["value"]
    return values


def unfinished_cells(nb: Any) -> list[str]:
    """Code cells that did not run to completion, described (``cell 4: not executed``)."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
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
