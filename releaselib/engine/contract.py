"""The runbook contract, checked: what every phase notebook, bundled or a project's own, keeps to.

- the phase's name (``10_github_release``) is the file's name and ``metadata.releaselib.phase``;
- the first code cell is the only one tagged ``parameters`` and sets ``version = None``,
  ``repo = "."``, ``dry_run = True`` and ``outputs = None`` to literals (a notebook opened by
  hand changes nothing until the maintainer says so);
- a cell calls ``start("<phase>", version, ...)`` before any other work;
- every code cell is one or two calls (imports and a trailing name shown as the cell's
  result aside), after prose that says why (a cell that records the step's values may
  follow its step directly): the logic lives in releaselib, where it is tested;
- no ``input()`` (a headless kernel has no stdin) and no ``sys.exit()`` / ``exit()`` (papermill
  takes ``sys.exit(0)`` for success and leaves the later cells unrun);
- every cell has an id of its own, so a diff of the notebook names the cell that changed.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.core.errors import ReleaseError
from releaselib.core.registry import RUNBOOK_NAME

#: The parameters every runbook declares, with the value a notebook opened by hand must start from.
CORE_DEFAULTS: dict[str, Any] = {"version": None, "repo": ".", "dry_run": True, "outputs": None}
FORBIDDEN_CALLS = {"input": "input() blocks a headless kernel", "exit": "exit() ends the kernel",
                   "quit": "quit() ends the kernel"}
MAX_CALLS = 2


class RunbookContractError(ReleaseError):
    """A runbook breaks the contract; ``problems`` lists every breach at once."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"{path} breaks the runbook contract in {len(problems)} place(s):\n{lines}",
            hint="See `releaselib.engine.contract` for the contract, fix the notebook, and check it again.",
        )
        self.problems = problems


@dataclass(frozen=True)
class _Cell:
    index: int
    kind: str
    source: str
    tags: tuple[str, ...]
    id: str | None


def _cells(nb: dict[str, Any]) -> list[_Cell]:
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = tuple(cell.get("metadata", {}).get("tags", ()))
        cells.append(_Cell(index, cell.get("cell_type", ""), source, tags, cell.get("id")))
    return cells


def _statements(source: str) -> list[ast.stmt]:
    return list(ast.parse(source).body)


def _is_shown_name(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Name, ast.Attribute))


def _called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        prefix = func.value.id + "." if isinstance(func.value, ast.Name) else ""
        return prefix + func.attr
    return ""


def check_runbook(path: str | Path) -> list[str]:
    """Every breach of the contract in the notebook at ``path`` (an empty list: it keeps it)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"cannot read it as a notebook: {exc}"]
    problems: list[str] = []
    phase = path.stem
    if not RUNBOOK_NAME.match(path.name):
        problems.append(f"the file name {path.name!r} is not <two digits>[letter]_<name>.ipynb")
    declared = nb.get("metadata", {}).get("releaselib", {}).get("phase")
    if declared != phase:
        problems.append(f"metadata.releaselib.phase is {declared!r}, not {phase!r}")
    cells = _cells(nb)
    code = [cell for cell in cells if cell.kind == "code"]
    ids = [cell.id for cell in cells]
    if any(not cell_id for cell_id in ids):
        problems.append("a cell has no id (nbformat 4.5 cell ids keep diffs stable)")
    elif len(set(ids)) != len(ids):
        problems.append("two cells share an id")

    tagged = [cell for cell in cells if "parameters" in cell.tags]
    if len(tagged) != 1:
        problems.append(f"{len(tagged)} cells are tagged 'parameters'; exactly one must be")
    elif not code or tagged[0] is not code[0]:
        problems.append("the parameters cell is not the first code cell")
    else:
        problems += _check_parameters(tagged[0])

    started = False
    for cell in code[1:]:
        where = f"cell {cell.index}"
        try:
            statements = _statements(cell.source)
        except SyntaxError as exc:
            problems.append(f"{where}: does not parse: {exc.msg} (line {exc.lineno})")
            continue
        for node in ast.walk(ast.Module(body=statements, type_ignores=[])):
            if isinstance(node, ast.Call):
                name = _called_name(node)
                if name in FORBIDDEN_CALLS or name == "sys.exit":
                    problems.append(f"{where}: calls {name}(): {FORBIDDEN_CALLS.get(name, 'papermill takes it for success')}")
                if name == "start":
                    started = True
                    first = node.args[0] if node.args else None
                    if not (isinstance(first, ast.Constant) and first.value == phase):
                        problems.append(f"{where}: start() must name this phase: start({phase!r}, version, ...)")
        work = [s for s in statements if not isinstance(s, (ast.Import, ast.ImportFrom)) and not _is_shown_name(s)]
        if len(work) > MAX_CALLS:
            problems.append(f"{where}: {len(work)} statements; a runbook cell is one or two calls "
                            "(move the logic into a function and call it)")
        if work and not started:
            problems.append(f"{where}: does work before the cell that calls start()")
        previous = cells[cell.index - 1] if cell.index > 0 else None
        records = "release.record(" in cell.source
        if (previous is None or previous.kind != "markdown" or not previous.source.strip()) and not records:
            problems.append(f"{where}: no prose before it (a markdown cell that says why)")
    if not started:
        problems.append(f"no cell calls start({phase!r}, version, repo=repo, dry_run=dry_run, outputs=outputs)")
    return problems


def _check_parameters(cell: _Cell) -> list[str]:
    try:
        statements = _statements(cell.source)
    except SyntaxError as exc:
        return [f"the parameters cell does not parse: {exc.msg}"]
    values: dict[str, Any] = {}
    problems = []
    for statement in statements:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            problems.append("the parameters cell holds something other than `name = literal` lines")
            continue
        try:
            values[statement.targets[0].id] = ast.literal_eval(statement.value)
        except ValueError:
            problems.append(f"parameter {statement.targets[0].id!r} is not a literal")
    for name, default in CORE_DEFAULTS.items():
        if name not in values:
            problems.append(f"the parameters cell does not set {name!r} (to {default!r})")
        elif values[name] != default:
            problems.append(f"parameter {name!r} starts as {values[name]!r}; it must start as {default!r}")
    return problems


def require_contract(path: str | Path) -> None:
    """Raise :class:`RunbookContractError` listing every breach, if there is one."""
    problems = check_runbook(path)
    if problems:
        raise RunbookContractError(Path(path), problems)


__all__ = ["CORE_DEFAULTS", "RunbookContractError", "check_runbook", "require_contract"]
