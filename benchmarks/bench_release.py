"""What the notebooks cost around the git side of a release, against its peers and the floor.

Three measurements, each interleaved (A B A B ...) in the same run so that a
busy machine slows both sides alike, each reported as a median:

1. **The git side against bump-my-version.** ``releaselib run 1.1 --phases
   bump,commit_tag`` (a fresh process, as a maintainer runs it) against
   ``bump-my-version bump`` configured to make the same edits, the same
   ``BUMP 1.1`` commit and the same annotated tag, each on a fresh copy of the
   sample. Every round checks that both produced the same tree. Target: within
   3x. Skipped (said so) when bump-my-version is not installed.
2. **Orchestration per phase.** The git-side phases through the runner (one
   kernel per phase, the next started ahead) against the same runbooks' code
   cells executed directly in this process, and a bare kernel start (start,
   one empty cell, stop). A phase's orchestration is its notebook time minus
   its direct time. Target: at most 0.5x a bare kernel start with pre-started
   kernels (every phase but the first, which has nothing to start ahead of it).
3. **Reading the record.** ``releaselib review`` and ``releaselib verify`` in
   fresh processes, on the record just made or on ``--outputs DIR`` (e.g. the
   demo's, ``releaselib demo --keep --workdir DIR`` then ``DIR/outputs``).
   Target: under 0.5 s each.

The machine's load (1-minute average, and the cores) is printed before and
after: on a shared machine the figures mean little without it.

Run: python benchmarks/bench_release.py [--rounds 5] [--outputs DIR --version 1.1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from releaselib.core.imports import skip_iri_grammar

skip_iri_grammar()  # as the command line does

import nbformat
from jupyter_client.manager import start_new_kernel

from releaselib.core.registry import runbook_path
from releaselib.engine.runner import Runner
from releaselib.local.sandbox import Sandbox, create_sandbox

GIT_PHASES = ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"]
#: The drafted changelog section accepted unread, and the git side released without 01_test/05_build
#: (as the demo and a maintainer's `-p` would): otherwise 02_changelog and 08_post_release stop the run.
PARAMETERS = {"accept_draft": True, "allow_untested": True}
BIN = Path(sys.executable).parent

#: bump-my-version doing what `run --phases bump,commit_tag` does to the sample. Paths are
#: relative to the configuration file, which lives in .git/ so the working tree stays clean.
BUMP_MY_VERSION_CONFIG = """\
[tool.bumpversion]
current_version = "1.0+dev"
parse = '(?P<major>\\d+)\\.(?P<minor>\\d+)(?P<dev>\\+dev)?'
serialize = ["{major}.{minor}"]
commit = true
tag = true
message = "BUMP {new_version}"
tag_name = "{new_version}"
tag_message = "bsonlite {new_version}"
allow_dirty = false

[[tool.bumpversion.files]]
filename = "../src/bsonlite/__init__.py"
search = '__version__ = "{current_major}.{current_minor}+dev"'
replace = '__version__ = "{new_version}"'

[[tool.bumpversion.files]]
filename = "../src/bsonlite/__init__.py"
search = "version_tuple = ({current_major}, {current_minor}, '+')"
replace = "version_tuple = ({new_major}, {new_minor})"

[[tool.bumpversion.files]]
glob = "../doc/**/*.rst"
search = "versionadded:: {current_major}.{current_minor}+"
replace = "versionadded:: {new_version}"
ignore_missing_version = true

[[tool.bumpversion.files]]
glob = "../src/**/*.py"
search = "versionadded:: {current_major}.{current_minor}+"
replace = "versionadded:: {new_version}"
ignore_missing_version = true
"""


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return elapsed


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def med(values: list[float]) -> float:
    return statistics.median(values)


# -- 1. the git side ---------------------------------------------------------------
def git_side(root: Path, rounds: int) -> None:
    bump_my_version = BIN / "bump-my-version"
    if not bump_my_version.exists():
        found = shutil.which("bump-my-version")
        bump_my_version = Path(found) if found else bump_my_version
    if not bump_my_version.exists():
        print("git side: skipped, bump-my-version is not installed (pip install bump-my-version)")
        return
    ours: list[float] = []
    theirs: list[float] = []
    for number in range(rounds):
        a = create_sandbox(root / f"git-{number}-releaselib")
        b = create_sandbox(root / f"git-{number}-bmv")
        config = b.repo / ".git" / "bumpversion.toml"
        config.write_text(BUMP_MY_VERSION_CONFIG)
        run_ours = [str(BIN / "releaselib"), "run", "1.1", "--repo", str(a.repo), "--outputs",
                    str(a.root / "outputs"), "--phases", "bump,commit_tag"]
        run_theirs = [str(bump_my_version), "bump", "--config-file", str(config), "--new-version", "1.1"]
        # Alternate who goes first, so neither always runs on a warmer cache.
        for which in (("ours", "theirs") if number % 2 == 0 else ("theirs", "ours")):
            if which == "ours":
                ours.append(timed(run_ours, a.repo))
            else:
                theirs.append(timed(run_theirs, b.repo))
        trees = {git(repo, "rev-parse", "1.1^{tree}") for repo in (a.repo, b.repo)}
        messages = {git(repo, "log", "-1", "--format=%s", "1.1") for repo in (a.repo, b.repo)}
        if len(trees) != 1 or messages != {"BUMP 1.1"}:
            raise SystemExit(f"round {number}: releaselib and bump-my-version made different releases: "
                             f"trees {trees}, messages {messages}")
    ratio = med(ours) / med(theirs)
    print(f"git side ({rounds} rounds, same tree and tag each round):")
    print(f"  releaselib run --phases bump,commit_tag  median {med(ours):6.2f}s  "
          f"(min {min(ours):.2f}, max {max(ours):.2f})")
    print(f"  bump-my-version bump                     median {med(theirs):6.2f}s  "
          f"(min {min(theirs):.2f}, max {max(theirs):.2f})")
    print(f"  ratio {ratio:.2f}x (target <= 3x): {'met' if ratio <= 3 else 'NOT MET'}")


# -- 2. orchestration per phase ------------------------------------------------------
def bare_kernel_start() -> float:
    """Seconds to start a python3 kernel, run one empty cell, and shut it down.

    A stock kernel (TCP), as jupyter_client starts it; its stderr, where ipykernel warns that TCP is
    unencrypted, goes nowhere: releaselib's own kernels (IPC) have no such warning to show.
    """
    started = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)
    kc.execute_interactive("pass", timeout=60)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return time.perf_counter() - started


def run_notebooks(sandbox: Sandbox, outputs: Path) -> dict[str, float]:
    runner = Runner(repo=sandbox.repo, version="1.1", outputs=outputs, parameters=PARAMETERS)
    return {outcome.phase: outcome.duration for outcome in runner.run(GIT_PHASES)}


def run_direct(sandbox: Sandbox, outputs: Path) -> dict[str, float]:
    """Execute each runbook's code cells in this process, with the runner's parameters."""
    runner = Runner(repo=sandbox.repo, version="1.1", outputs=outputs)
    times = {}
    for phase in GIT_PHASES:
        nb = nbformat.read(runbook_path(phase, runner.config), as_version=4)
        namespace = {"display": print, "__name__": "__main__"}
        cells = [cell.source for cell in nb.cells if cell.cell_type == "code"]
        started = time.perf_counter()
        exec(cells[0], namespace)  # noqa: S102 - the parameters cell's defaults
        namespace.update(version="1.1", repo=str(sandbox.repo), dry_run=False, outputs=str(outputs),
                         phases=",".join(GIT_PHASES))
        namespace.update({k: v for k, v in PARAMETERS.items() if f"{k} =" in cells[0]})
        for source in cells[1:]:
            exec(compile(source, f"<{phase}>", "exec"), namespace)  # noqa: S102 - the runbook's own cells
        times[phase] = time.perf_counter() - started
    return times


def orchestration(root: Path, rounds: int) -> Path:
    """Interleaved rounds of (bare kernel, direct, notebooks); returns one notebook run's outputs."""
    kernel: list[float] = []
    direct: dict[str, list[float]] = {phase: [] for phase in GIT_PHASES}
    notebook: dict[str, list[float]] = {phase: [] for phase in GIT_PHASES}
    outputs = root / "orchestration-0-notebook" / "outputs"
    for number in range(rounds):
        kernel.append(bare_kernel_start())
        sandbox = create_sandbox(root / f"orchestration-{number}-direct")
        with open(os.devnull, "w") as quiet:  # the cells' displays
            stdout, sys.stdout = sys.stdout, quiet
            try:
                for phase, seconds in run_direct(sandbox, sandbox.root / "outputs").items():
                    direct[phase].append(seconds)
            finally:
                sys.stdout = stdout
        sandbox = create_sandbox(root / f"orchestration-{number}-notebook")
        for phase, seconds in run_notebooks(sandbox, sandbox.root / "outputs").items():
            notebook[phase].append(seconds)
        kernel.append(bare_kernel_start())
    bare = med(kernel)
    print(f"orchestration per phase ({rounds} rounds; bare kernel start+cell+stop median {bare:.2f}s):")
    print(f"  {'phase':18} {'notebook':>9} {'direct':>8} {'orchestr.':>10} {'x kernel':>9}")
    ahead = []
    for index, phase in enumerate(GIT_PHASES):
        overhead = med(notebook[phase]) - med(direct[phase])
        if index:
            ahead.append(overhead / bare)
        note = "  (first phase: nothing started ahead)" if index == 0 else ""
        print(f"  {phase:18} {med(notebook[phase]):8.2f}s {med(direct[phase]):7.2f}s {overhead:9.2f}s "
              f"{overhead / bare:8.2f}x{note}")
    total_nb = sum(med(v) for v in notebook.values())
    total_direct = sum(med(v) for v in direct.values())
    worst = max(ahead)
    print(f"  {'total':18} {total_nb:8.2f}s {total_direct:7.2f}s {total_nb - total_direct:9.2f}s")
    print(f"  with a kernel started ahead: median {med(ahead):.2f}x, worst {worst:.2f}x a bare kernel "
          f"(target <= 0.5x): {'met' if worst <= 0.5 else 'NOT MET'}")
    return outputs


# -- 3. reading the record -------------------------------------------------------------
def reading(outputs: Path, version: str, rounds: int) -> None:
    # An installed package is byte-compiled; a source checkout under PYTHONDONTWRITEBYTECODE
    # would otherwise be compiled again by every process timed here.
    import compileall
    import re

    # Not the bundled sample (as `make test` skips it): a sandbox copies it as shipped, without bytecode.
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "releaselib"), quiet=1,
                           rx=re.compile(r"[/\\]releaselib[/\\]local[/\\]sample[/\\]"))
    times: dict[str, list[float]] = {"review": [], "verify": []}
    for _ in range(rounds):
        for command, values in times.items():
            values.append(timed([str(BIN / "releaselib"), command, version, "--outputs", str(outputs)],
                                        outputs.parent))
    print(f"reading the record ({outputs}, {rounds} rounds, fresh processes):")
    for command, values in times.items():
        print(f"  releaselib {command:7} median {med(values):.2f}s (min {min(values):.2f}) "
              f"(target < 0.5s): {'met' if med(values) < 0.5 else 'NOT MET'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of each measurement")
    parser.add_argument("--outputs", type=Path, help="a record's outputs folder for review/verify "
                        "(default: the one this benchmark makes)")
    parser.add_argument("--version", default="1.1", help="the version of that record")
    parser.add_argument("--only", choices=("git", "orchestration", "reading"), help="one measurement only")
    args = parser.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="releaselib-bench-") as tmp:
        root = Path(tmp)
        if args.only in (None, "git"):
            git_side(root, args.rounds)
        made = None
        if args.only in (None, "orchestration") or (args.only == "reading" and args.outputs is None):
            made = orchestration(root, max(1, args.rounds // 2) if args.only is None else args.rounds)
        if args.only in (None, "reading"):
            reading((args.outputs or made).resolve(), args.version, args.rounds)
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
