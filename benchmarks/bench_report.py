"""Does ``releaselib report`` stay flat as a record grows?

Builds two records from one real record (``--record DIR``, else the git-side
release of the bundled sample, made here): one with 10 attempts, one with 200
(the real notebooks again, each a distinct file, as real attempts are). Writes
each report once untimed (that renders every notebook page, once), then times
``write_report`` and ``releaselib report`` on both, interleaved (A B A B), on
the record unchanged and after one new attempt each round (a record growing:
only its new notebook is rendered), and prints the medians, their ratios and
how busy the machine was. The target (issue 14): the 200-attempt report within
2x the 10-attempt one.

    python benchmarks/bench_report.py [--record outputs/bsonlite/1.1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from releaselib.record.report import write_report
from releaselib.record.store import GENESIS, entry_hash, sha256_file

PACKAGE = "bench"


def _source_record(root: Path) -> Path:
    """The git-side release of the bundled sample, run here (about a minute)."""
    from releaselib.cli import main
    from releaselib.local.sandbox import create_sandbox

    sandbox = create_sandbox(root / "sandbox")
    outputs = root / "source-outputs"
    code = main(["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(outputs),
                 "--phases", "preflight,changelog,bump,commit_tag,post_release",
                 "-p", "accept_draft=true", "-p", "allow_untested=true"])
    if code != 0:
        raise SystemExit("the sample's release failed; pass --record with a record folder instead")
    return next(outputs.glob("*/1.1"))


def grown_record(source: Path, outputs: Path, attempts: int) -> Path:
    """A record of ``attempts`` entries cycling through ``source``'s, each with its own notebook file."""
    data = json.loads((source / "record.json").read_text())
    entries = [e for e in data["entries"] if e.get("notebook")]
    folder = outputs / PACKAGE / f"{attempts}"
    folder.mkdir(parents=True)
    if (source / "logs").is_dir():
        shutil.copytree(source / "logs", folder / "logs")
    grown, prev, counts = [], GENESIS, {}
    for n in range(attempts):
        entry = dict(entries[n % len(entries)])
        phase = entry["phase"]
        counts[phase] = counts.get(phase, 0) + 1
        entry["attempt"] = counts[phase]
        name = f"{phase}.ipynb" if counts[phase] == 1 else f"{phase}.attempt{counts[phase]}.ipynb"
        nb = json.loads((source / entries[n % len(entries)]["notebook"]).read_text())
        nb.setdefault("metadata", {})["bench_attempt"] = n  # a distinct file, as every real attempt is
        (folder / name).write_text(json.dumps(nb))
        entry.update(notebook=name, notebook_sha256=sha256_file(folder / name), prev=prev)
        entry["hash"] = prev = entry_hash(entry)
        grown.append(entry)
    data.update(package=PACKAGE, version=str(attempts), entries=grown)
    (folder / "record.json").write_text(json.dumps(data))
    return folder


def append_attempt(source: Path, folder: Path, n: int) -> None:
    """One more attempt (a new notebook file) at the end of ``folder``'s record: a record growing."""
    data = json.loads((folder / "record.json").read_text())
    entries = [e for e in json.loads((source / "record.json").read_text())["entries"] if e.get("notebook")]
    template = entries[n % len(entries)]
    entry = dict(template)
    phase = entry["phase"]
    entry["attempt"] = sum(1 for e in data["entries"] if e["phase"] == phase) + 1
    name = f"{phase}.attempt{entry['attempt']}.ipynb"
    nb = json.loads((source / template["notebook"]).read_text())
    nb.setdefault("metadata", {})["bench_attempt"] = f"grown-{n}"
    (folder / name).write_text(json.dumps(nb))
    entry.update(notebook=name, notebook_sha256=sha256_file(folder / name), prev=data["entries"][-1]["hash"])
    entry["hash"] = entry_hash(entry)
    data["entries"].append(entry)
    (folder / "record.json").write_text(json.dumps(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="a record folder to grow (default: made here)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each size")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = Path(tmp)
        source = args.record or _source_record(root)
        sizes = (10, 200)
        # Each record in an outputs folder of its own, so each index page lists one release.
        outputs = {size: root / f"outputs-{size}" for size in sizes}
        for size in sizes:
            grown_record(source, outputs[size], size)
        first = {}
        for size in sizes:
            started = time.perf_counter()
            write_report(outputs[size], PACKAGE, str(size))
            first[size] = time.perf_counter() - started
        load_before = os.getloadavg()
        timings: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(args.repeat):
            for size in sizes:  # interleaved: A B A B
                started = time.perf_counter()
                write_report(outputs[size], PACKAGE, str(size))
                timings[size].append(time.perf_counter() - started)
        # The command a maintainer runs: a fresh process (imports included), interleaved too.
        command: dict[int, list[float]] = {size: [] for size in sizes}
        releaselib = Path(sys.executable).parent / "releaselib"
        for _ in range(args.repeat):
            for size in sizes:
                started = time.perf_counter()
                subprocess.run([str(releaselib), "report", str(size), "--outputs", str(outputs[size]), "--package",
                                PACKAGE, "--repo", str(root)], check=True, capture_output=True)  # fmt: skip
                command[size].append(time.perf_counter() - started)
        # A record growing: one new attempt, then the report (only the new notebook is rendered).
        growing: dict[int, list[float]] = {size: [] for size in sizes}
        for n in range(args.repeat):
            for size in sizes:
                append_attempt(source, outputs[size] / PACKAGE / str(size), n)
                started = time.perf_counter()
                subprocess.run([str(releaselib), "report", str(size), "--outputs", str(outputs[size]), "--package",
                                PACKAGE, "--repo", str(root)], check=True, capture_output=True)  # fmt: skip
                growing[size].append(time.perf_counter() - started)
        load_after = os.getloadavg()
        cores = os.cpu_count() or 1
        for size in sizes:
            print(f"{size:>4} attempts: first report (renders every notebook once) {first[size]:6.2f}s; "
                  f"then median {statistics.median(timings[size]):.3f}s over {args.repeat} runs")
        ratio = statistics.median(timings[200]) / statistics.median(timings[10])
        print(f"write_report in this process, ratio 200/10: {ratio:.2f}x")
        for size in sizes:
            print(f"{size:>4} attempts: `releaselib report` (fresh process) median {statistics.median(command[size]):.3f}s")
        unchanged = statistics.median(command[200]) / statistics.median(command[10])
        print(f"`releaselib report` on an unchanged record, ratio 200/10: {unchanged:.2f}x")
        for size in sizes:
            print(f"{size:>4} attempts + 1 new: `releaselib report` median {statistics.median(growing[size]):.3f}s")
        ratio = statistics.median(growing[200]) / statistics.median(growing[10])
        print(f"`releaselib report` after one new attempt, ratio 200/10: {ratio:.2f}x (target <= 2x): "
              f"{'met' if ratio <= 2 else 'NOT MET'}")
        print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on {cores} cores")
        return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
