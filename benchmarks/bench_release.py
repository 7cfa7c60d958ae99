"""What the notebooks cost: the sample released through papermill vs the same cells in-process.

Releases the bundled sample twice in one run, each in its own sandbox:

1. through the runbooks, one fresh kernel per phase (the real path);
2. by executing the same runbooks' code cells directly in this process, so the
   phase functions are identical and only the notebook machinery differs.

It also measures, in the same run, what starting and stopping a bare kernel
costs, and prints each phase's overhead (notebook time minus direct time)
against it. The target: a phase's overhead within 1.5x the bare kernel cost.

Run: python benchmarks/bench_release.py [--phases preflight,changelog,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

from releaselib.core.registry import resolve_phases, runbook_path
from releaselib.engine.runner import Runner
from releaselib.local.sandbox import create_sandbox

GIT_PHASES = "preflight,changelog,bump,commit_tag,post_release"


def bare_kernel_cost(repeat: int = 3) -> float:
    """Median seconds to start a python3 kernel, run one empty cell, and shut it down."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3")
        kc.execute_interactive("pass", timeout=60)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_notebooks(root: Path, version: str, phases: list[str]) -> dict[str, float]:
    sandbox = create_sandbox(root)
    start = time.perf_counter()
    runner = Runner(repo=sandbox.repo, version=version, outputs=root / "outputs")
    print(f"runner start-up (config, papermill import): {time.perf_counter() - start:.2f}s")
    outcomes = runner.run(phases)
    return {outcome.phase: outcome.duration for outcome in outcomes}


def run_direct(root: Path, version: str, phases: list[str]) -> dict[str, float]:
    """Execute each runbook's code cells in this process, with the runner's parameters."""
    sandbox = create_sandbox(root)
    runner = Runner(repo=sandbox.repo, version=version, outputs=root / "outputs")
    times = {}
    for phase in phases:
        nb = nbformat.read(runbook_path(phase, runner.config), as_version=4)
        namespace = {"display": print, "__name__": "__main__"}
        cells = [cell.source for cell in nb.cells if cell.cell_type == "code"]
        start = time.perf_counter()
        exec(cells[0], namespace)  # the parameters cell's defaults
        namespace.update(version=version, repo=str(sandbox.repo), dry_run=False,
                         outputs=str(root / "outputs"), phases=",".join(phases))
        for source in cells[1:]:
            exec(compile(source, f"<{phase}>", "exec"), namespace)
        times[phase] = time.perf_counter() - start
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default=GIT_PHASES)
    parser.add_argument("--version", default="1.1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="releaselib-bench-") as tmp:
        tmp_path = Path(tmp)
        probe = create_sandbox(tmp_path / "probe")
        phases = resolve_phases(args.phases, Runner(repo=probe.repo, version=args.version, outputs=tmp_path / "o").config)
        kernel = bare_kernel_cost()
        direct = run_direct(tmp_path / "direct", args.version, phases)
        notebook = run_notebooks(tmp_path / "notebook", args.version, phases)
    total_nb, total_direct = sum(notebook.values()), sum(direct.values())
    print(f"bare kernel start+stop (median of 3): {kernel:.2f}s")
    print(f"{'phase':18} {'notebook':>9} {'direct':>8} {'overhead':>9} {'x kernel':>9}")
    worst = 0.0
    for phase in phases:
        overhead = notebook[phase] - direct[phase]
        ratio = overhead / kernel
        worst = max(worst, ratio)
        print(f"{phase:18} {notebook[phase]:8.2f}s {direct[phase]:7.2f}s {overhead:8.2f}s {ratio:8.2f}x")
    print(f"{'total':18} {total_nb:8.2f}s {total_direct:7.2f}s {total_nb - total_direct:8.2f}s")
    print(f"notebook/direct: {total_nb / total_direct:.1f}x; worst phase overhead: {worst:.2f}x a bare kernel "
          f"(target <= 1.5x): {'OK' if worst <= 1.5 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
