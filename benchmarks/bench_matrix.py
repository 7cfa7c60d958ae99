"""How much the parallel test matrix saves over a serial one.

Runs the bundled sample project's matrix (every configured Python found on
this machine, with and without the C extension) twice in the same run: once
with one job, once with as many jobs as cores. Both runs start from the same
ready seed environments (made by a warm-up run that is not timed), so the
ratio measures the cells themselves, which is what a release waits for.

    python benchmarks/bench_matrix.py [--pythons 3.12,3.13] [--jobs N] [--repeat 1]

Prints the serial time, the parallel time and their ratio, and the machine's
load average before and after: a parallel speed-up means little on a machine
that others keep busy (rerun when the load is above the number of cores).
Exits non-zero if any cell failed (a benchmark of a broken matrix measures
nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from releaselib.engine.context import Release
from releaselib.infra.interpreters import find_interpreters
from releaselib.phases.matrix import MatrixResult, run_matrix


def _sample_release(root: Path) -> Release:
    """A Release of the sample project in a sandbox (or of the tiny test project without one)."""
    try:
        from releaselib.infra.config import load_config
        from releaselib.local.sandbox import create_sandbox
    except ImportError:
        from tests.fixtures_matrix import make_tinyext, tinyext_release

        repo = make_tinyext(root / "tinyext")
        return tinyext_release(repo, root / "record", ("3.9", "3.10", "3.11", "3.12", "3.13"))
    sandbox = create_sandbox(root)
    config = load_config(sandbox.repo)
    return Release(version="1.0.1", repo=sandbox.repo, config=config, dry_run=False, record_dir=root / "record")


def _timed(release: Release, jobs: int, seeds: Path, interpreters) -> tuple[float, MatrixResult]:
    started = time.perf_counter()
    result = run_matrix(release, jobs=jobs, interpreters=interpreters, seed_dir=seeds, record=False)
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", help="comma-separated versions (default: the project's configured list)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs (default: cores)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each kind, interleaved (serial, parallel, serial, ...); medians")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp:
        root = Path(tmp)
        release = _sample_release(root)
        matrix = release.config.matrix
        if args.pythons:
            matrix = replace(matrix, python=tuple(args.pythons.split(",")))
        release.config = replace(release.config, matrix=matrix)
        interpreters = find_interpreters(matrix.python, allow_missing=matrix.python)
        if not len(interpreters):
            print("no configured Python is installed; nothing to measure", file=sys.stderr)
            return 2
        seeds = root / "seeds"
        cells = 2 * len(interpreters) if matrix.no_extension_env else len(interpreters)
        print(f"project {release.config.package}: {cells} cells on "
              + ", ".join(f"{i.requested} ({i.version})" for i in interpreters)
              + f"; {os.cpu_count()} cores; parallel jobs = {args.jobs}")

        before = os.getloadavg()
        print(f"load average before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} (1, 5, 15 min)")
        warm = time.perf_counter()
        _, result = _timed(release, args.jobs, seeds, interpreters)
        print(f"warm-up (makes the seed environments): {time.perf_counter() - warm:.1f}s")
        if not result.ok:
            print(result)
            return 1

        serials: list[float] = []
        parallels: list[float] = []
        for _ in range(args.repeat):
            took, result = _timed(release, 1, seeds, interpreters)
            serials.append(took)
            if not result.ok:
                print(result)
                return 1
            took, result = _timed(release, args.jobs, seeds, interpreters)
            parallels.append(took)
            if not result.ok:
                print(result)
                return 1
        serial, parallel = statistics.median(serials), statistics.median(parallels)
        print(result)
        print(f"serial   (jobs=1): {serial:.1f}s")
        print(f"parallel (jobs={args.jobs}): {parallel:.1f}s")
        after = os.getloadavg()
        verdict = "met" if serial / parallel >= 1.7 else "NOT MET"
        print(f"speed-up: {serial / parallel:.2f}x (median of {args.repeat}; target >= 1.7x on 2 cores when the "
              f"machine is otherwise idle): {verdict}")
        print(f"load average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} (1, 5, 15 min; "
              f"{os.cpu_count()} cores){'  BUSY: rerun on a quieter machine' if max(before[0], after[0]) > (os.cpu_count() or 1) else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
