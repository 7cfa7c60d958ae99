"""The house: layers import one way, no module imports itself back, modules stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "releaselib"


def test_the_layer_contract_holds() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith("releaselib"):
                continue
            if state.get(imported) == 1:
                return stack[stack.index(imported):] + [imported]
            if imported not in state:
                found = visit(imported)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module.startswith("releaselib") and module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    graph = grimp.build_graph("releaselib", cache_dir=None)
    # The package's own __init__ re-exports `start`; importing a submodule runs it, but
    # nothing below imports the package root, so it is no part of a cycle.
    graph.remove_module("releaselib")
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_lower_layers_are_strictly_typed() -> None:
    layers = [str(PACKAGE / layer) for layer in ("core", "infra", "record", "engine")]
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *layers], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
def test_modules_stay_under_600_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in PACKAGE.rglob("*.py")
            if "sample" not in path.parts and (n := len(path.read_text().splitlines())) >= 600}
    assert not long, f"split these along their concerns: {long}"
