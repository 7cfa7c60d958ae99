"""What the API check (phase 00a) costs on a ~20,000-line package.

Generates a package of ``--modules`` modules (default 40, ~500 lines each:
classes with methods, functions, a few deprecated names) in a git repository
with ``--tags`` release tags, then changes a few public names in the working
tree and times :func:`releaselib.phases.api.check_api` three ways:

1. cold: no ledger cache, every tag loaded (the first run on a project);
2. warm: the ledger cached, as on every later release (the phase's real cost);
3. the parts of a warm run: loading the working tree, loading the last tag, comparing.

It also times a bare kernel start (what every phase pays anyway) and prints
the load average, since the machine is shared. The target: the warm check
well under a kernel start plus 5 seconds.

Run: python benchmarks/bench_api.py [--modules 40] [--tags 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from releaselib.core.config_types import Config
from releaselib.phases.api import check_api
from releaselib.phases.api.changes import compare
from releaselib.phases.api.surface import load_surface

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def module_text(index: int, variant: int) -> str:
    """~500 lines: 8 classes of 5 methods, 12 functions, one deprecated function per module."""
    lines = [f'"""Module {index} of the benchmark package."""', "import warnings", ""]
    for c in range(8):
        lines += [f"class Widget{index}_{c}:", f'    """A widget ({c})."""', "",
                  "    def __init__(self, size, colour='red'):", "        self.size = size",
                  "        self.colour = colour", ""]
        for m in range(5):
            extra = ", verbose=False" if variant and m == 0 and c == 0 else ""
            lines += [f"    def method_{m}(self, value, factor={m}{extra}):",
                      f'        """Scale ``value`` by ``factor`` ({m})."""',
                      "        result = value * factor", "        if result > 100:",
                      "            result = 100", "        return result", ""]
    for f in range(12):
        lines += [f"def function_{f}(first, second=None, *args, **kwargs):",
                  f'    """Function {f}."""', "    total = first", "    for item in args:",
                  "        total += item", "    if second is not None:", "        total += second",
                  "    return total", "", ""]
    lines += ["def old_function(value):", '    """Deprecated."""',
              "    warnings.warn('old_function is deprecated', DeprecationWarning, stacklevel=2)",
              "    return value", ""]
    if variant and index % 10 == 0:
        lines += ["def added_function(value):", "    return value", ""]
    return "\n".join(lines) + "\n"


def make_package(root: Path, modules: int, tags: int) -> Path:
    repo = root / "benchpkg"
    package = repo / "src" / "benchpkg"
    package.mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "benchpkg"\nversion = "0"\n')
    (package / "__init__.py").write_text('"""Benchmark package."""\n__version__ = "0"\n')
    for i in range(modules):
        (package / f"module_{i}.py").write_text(module_text(i, 0))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "import")
    for t in range(tags):
        (package / "__init__.py").write_text(f'"""Benchmark package."""\n__version__ = "1.{t}"\n')
        git(repo, "commit", "-q", "-am", f"release 1.{t}")
        git(repo, "tag", "-a", f"1.{t}", "-m", f"1.{t}")
    for i in range(modules):  # the release: a parameter added here and there, a few new functions
        (package / f"module_{i}.py").write_text(module_text(i, 1))
    return repo


def bare_kernel_cost() -> float:
    from jupyter_client.manager import start_new_kernel

    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3")
    kc.execute_interactive("pass", timeout=60)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=40)
    parser.add_argument("--tags", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = make_package(root, args.modules, args.tags)
        lines = sum(len(p.read_text().splitlines()) for p in repo.rglob("*.py"))
        config = Config(root=repo, package="benchpkg", import_name="benchpkg")
        version = f"1.{args.tags}"
        print(f"package: {args.modules} modules, {lines} lines; {args.tags} release tags; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        start = time.perf_counter()
        report = check_api(repo, config, version, cache_dir=root / "cache")
        cold = time.perf_counter() - start
        print(f"cold (every tag loaded):  {cold:6.2f} s   {report.summary()}")

        warm = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            check_api(repo, config, version, cache_dir=root / "cache")
            warm.append(time.perf_counter() - start)
        print(f"warm (ledger cached):     {statistics.median(warm):6.2f} s   (median of {args.repeat})")

        start = time.perf_counter()
        new = load_surface(repo, "benchpkg")
        t_new = time.perf_counter() - start
        start = time.perf_counter()
        old = load_surface(repo, "benchpkg", f"1.{args.tags - 1}")
        t_old = time.perf_counter() - start
        start = time.perf_counter()
        changes = compare(old, new)
        t_cmp = time.perf_counter() - start
        print(f"  load working tree {t_new:.2f} s, load last tag {t_old:.2f} s, compare {t_cmp:.2f} s "
              f"({len(new.objects)} public names, {len(changes)} changes)")
        kernel = bare_kernel_cost()
        print(f"bare kernel start:        {kernel:6.2f} s   target: warm < {kernel + 5:.2f} s "
              f"-> {'met' if statistics.median(warm) < kernel + 5 else 'MISSED'}")
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
