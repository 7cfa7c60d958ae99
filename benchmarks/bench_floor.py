"""releaselib's 01_test and 05_build against the floor: the same essential work done by a plain script.

Makes the sample's sandbox once (git side: changelog, bump, commit_tag, so the
tag exists), then runs, interleaved A B A B so the machine's load hits both
alike:

A  ``benchmarks/floor.py`` (no notebooks, no releaselib) for test, then build;
B  releaselib's runbooks ``01_test`` and ``05_build`` through the runner (a
   fresh record each round, so nothing is skipped).

Prints each round, then the medians, the ratios against the targets
(05_build <= 1.5x, 01_test <= 1.3x), the load average before and after (the
machine is shared: a figure means little without it), and where each side's
time went: the floor's per category, and releaselib's overhead (its wall time
minus the floor's) split into the categories its logs show.

With ``--demo`` each round also times ``releaselib demo`` (a fresh process:
the whole release of the sample against local servers) and the end compares
it with the essential work the floor measured (its test plus its build;
target: the demo within 1.5x).

By default every releaselib run starts with an empty cache of kept
environments (``RELEASELIB_CACHE_DIR``, :mod:`releaselib.infra.envcache`), as
the floor makes its environments every round: a first run. With ``--kept``
releaselib keeps them between rounds (warmed by one unmeasured run first): a
maintainer's every later run.

    python benchmarks/bench_floor.py [--rounds 3] [--phases test,build] [--demo] [--kept]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from releaselib.engine.runner import Runner  # noqa: E402
from releaselib.infra.envcache import CACHE_ENV  # noqa: E402
from releaselib.local.sandbox import create_sandbox  # noqa: E402

VERSION = "1.1"
TARGETS = {"test": 1.3, "build": 1.5}
PHASE = {"test": "01_test", "build": "05_build"}

# Log titles (processes.run's "## title") -> a category of work.
_CATEGORIES = [
    ("venv", re.compile(r"^## Creating a virtual environment", re.M)),
    ("install", re.compile(r"^## (seed|install|test requirements install|installation)\b", re.M)),
    ("build", re.compile(r"^## Building the (sdist|wheel)", re.M)),
    ("repair", re.compile(r"^## Repairing", re.M)),
    ("check", re.compile(r"^## twine check", re.M)),
    ("test", re.compile(r"^## (tests|doctests|extension check|import check)\b", re.M)),
]
_BLOCK = re.compile(r"^## (?P<title>.*)\n(?:.*\n)*?# (?:exit -?\d+|killed) after (?P<secs>[\d.]+) s", re.M)


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def cpu_seconds() -> float:
    """User + system time of this process and every child it has waited for (kernels, and through them their commands)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def floor(repo: Path, phase: str, pythons: str) -> dict[str, float]:
    ref = VERSION if phase == "build" else "HEAD"
    cpu = cpu_seconds()
    proc = subprocess.run([sys.executable, str(HERE / "floor.py"), str(repo), "--phase", phase, "--ref", ref,
                           "--pythons", pythons], capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"floor {phase} failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu"] = cpu_seconds() - cpu
    return result


def categories_of(logs: Path) -> dict[str, float]:
    """Seconds per category, summed over every command the phase's logs record."""
    spent: dict[str, float] = defaultdict(float)
    for log in logs.glob("*.log"):
        text = log.read_text(errors="replace")
        for block in _BLOCK.finditer(text):
            title = "## " + block["title"]
            for name, pattern in _CATEGORIES:
                if pattern.match(title):
                    spent[name] += float(block["secs"])
                    break
    return dict(spent)


def releaselib_phase(repo: Path, phase: str, outputs: Path) -> dict[str, float]:
    runner = Runner(repo=repo, version=VERSION, outputs=outputs)
    cpu = cpu_seconds()
    started = time.perf_counter()
    [outcome] = runner.run([PHASE[phase]])
    wall = time.perf_counter() - started
    if not outcome.ok:
        raise SystemExit(f"releaselib {phase} failed: {outcome.reason}")
    return {"wall": wall, "cpu": cpu_seconds() - cpu, **categories_of(runner.record_dir / "logs")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", default="test,build")
    parser.add_argument("--demo", action="store_true", help="also time `releaselib demo` each round")
    parser.add_argument("--kept", action="store_true", help="releaselib keeps its environments between rounds")
    args = parser.parse_args()
    demo: list[dict[str, float]] = []
    phases = args.phases.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        root = Path(tmp)
        sandbox = create_sandbox(root / "sandbox")
        Runner(repo=sandbox.repo, version=VERSION, outputs=root / "setup", parameters={"accept_draft": True}).run(
            ["02_changelog", "03_bump", "04_commit_tag"])
        # Both sides test the sample's configured Pythons (the runbooks read the project's own configuration).
        pythons = ",".join(Runner(repo=sandbox.repo, version=VERSION, outputs=root / "x").config.matrix.python)
        before = load()
        print(f"{os.cpu_count()} cores; Pythons {pythons}; load average before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}")
        print("releaselib's environments: " + ("kept between rounds" if args.kept else "made afresh every round"))
        runs: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)

        def cache(name: str) -> str:
            os.environ[CACHE_ENV] = str(root / ("cache-kept" if args.kept else f"cache-{name}"))
            return os.environ[CACHE_ENV]

        if args.kept:
            print(f"releaselib keeps its environments between rounds in {cache('')} (warming it, unmeasured)")
            for phase in phases:
                releaselib_phase(sandbox.repo, phase, root / f"warm-{phase}")
        for n in range(args.rounds):
            for phase in phases:
                a = floor(sandbox.repo, phase, pythons)
                cache(f"{phase}-{n}")
                b = releaselib_phase(sandbox.repo, phase, root / f"out-{phase}-{n}")
                runs[("floor", phase)].append(a)
                runs[("releaselib", phase)].append(b)
                print(f"round {n + 1} {phase:5}: floor {a['wall']:6.1f}s ({a['cpu']:5.1f}s CPU)  releaselib "
                      f"{b['wall']:6.1f}s ({b['cpu']:5.1f}s CPU)  (load {load()[0]:.2f})", flush=True)
            if args.demo:
                cache(f"demo-{n}")
                cpu, started = cpu_seconds(), time.perf_counter()
                proc = subprocess.run([str(Path(sys.executable).parent / "releaselib"), "demo"], capture_output=True,
                                      text=True, check=False)  # fmt: skip
                if proc.returncode != 0:
                    raise SystemExit(f"releaselib demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
                demo.append({"wall": time.perf_counter() - started, "cpu": cpu_seconds() - cpu})
                print(f"round {n + 1} demo : {demo[-1]['wall']:6.1f}s ({demo[-1]['cpu']:5.1f}s CPU)  "
                      f"(load {load()[0]:.2f})", flush=True)
        after = load()
    print(f"\nload average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} (1, 5, 15 min; {os.cpu_count()} cores)")
    print(f"{'phase':6} {'floor':>8} {'releaselib':>11} {'ratio':>6} {'target':>7}   CPU: floor releaselib ratio")
    for phase in phases:
        f = statistics.median(r["wall"] for r in runs[("floor", phase)])
        r = statistics.median(r["wall"] for r in runs[("releaselib", phase)])
        fc = statistics.median(r["cpu"] for r in runs[("floor", phase)])
        rc = statistics.median(r["cpu"] for r in runs[("releaselib", phase)])
        verdict = "met" if r / f <= TARGETS[phase] else "NOT MET"
        print(f"{phase:6} {f:7.1f}s {r:10.1f}s {r / f:5.2f}x {TARGETS[phase]:6.1f}x {verdict:7}  "
              f"{fc:6.1f}s {rc:6.1f}s {rc / fc:5.2f}x")
    if demo and set(phases) >= {"test", "build"}:
        essential = sum(statistics.median(r["wall"] for r in runs[("floor", p)]) for p in ("test", "build"))
        essential_cpu = sum(statistics.median(r["cpu"] for r in runs[("floor", p)]) for p in ("test", "build"))
        d, dc = statistics.median(r["wall"] for r in demo), statistics.median(r["cpu"] for r in demo)
        print(f"demo   {essential:7.1f}s {d:10.1f}s {d / essential:5.2f}x {1.5:6.1f}x "
              f"{'met' if d / essential <= 1.5 else 'NOT MET':7}  {essential_cpu:6.1f}s {dc:6.1f}s {dc / essential_cpu:5.2f}x"
              "   (floor = its test + build)")
    print("\nseconds per category (medians, summed over parallel work, so they can exceed the wall time)")
    cats = ["export", "venv", "install", "build", "repair", "check", "test"]
    jobs = os.cpu_count() or 1
    print(f"{'phase':6} {'side':10} {'wall':>7} " + " ".join(f"{c:>8}" for c in cats))
    for phase in phases:
        med = {}
        for side in ("floor", "releaselib"):
            rows = runs[(side, phase)]
            med[side] = {c: statistics.median(r.get(c, 0.0) for r in rows) for c in ["wall", *cats]}
            print(f"{phase:6} {side:10} {med[side]['wall']:6.1f}s " + " ".join(f"{med[side][c]:7.1f}s" for c in cats))
        diff = {c: med["releaselib"][c] - med["floor"][c] for c in ["wall", *cats]}
        print(f"{phase:6} {'overhead':10} {diff['wall']:6.1f}s " + " ".join(f"{diff[c]:+7.1f}s" for c in cats))
        # What the categories do not explain: the kernel, imports, copying seeds, waiting on each other.
        rest = diff["wall"] - sum(diff[c] for c in cats) / jobs
        print(f"{phase:6} orchestration (wall overhead not in a category, approx.): {rest:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
