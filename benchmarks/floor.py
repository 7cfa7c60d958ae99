"""The floor: the essential work of the test and build phases, done as fast as this machine allows.

A plain script (no notebooks, no releaselib) that does for a project what
01_test and 05_build must do, with the fastest tools, everything parallel that
can be:

test   one seed environment per Python with the test tools (uv's shared
       cache, bytecode compiled for what the cells import), then every
       Python x {with, without} the C extension: a hard-linked copy of the
       seed, the project built and installed without any cache, the extension
       check, the tests, the doctests.
build  the tree of a git ref exported, the sdist, one isolated wheel build per
       Python from the sdist, one auditwheel process repairing every wheel, one
       ``twine check`` of every file, and each file installed without any cache
       in a copy of a seed environment (pytest) on its Python and tested.

    python benchmarks/floor.py PROJECT_REPO --phase test|build [--ref TAG]
        [--pythons 3.9,3.10,...] [--no-ext-env NAME] [--jobs N]

Prints one JSON object: the wall time and the time spent per category
(venv, install, build, repair, check, test), summed over parallel work.
Exits non-zero when any step fails: the floor of broken work measures nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The uv binary itself, never a wrapper (a pyenv shim costs a shell and a version lookup per call).
UV = str(Path(sys.executable).parent / "uv")
if not Path(UV).exists():
    UV = shutil.which("uv") or "uv"
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
ENV.update(NO_COLOR="1", UV_NO_PROGRESS="1", PYTHONNOUSERSITE="1", UV_PYTHON_DOWNLOADS="never")

#: FLOOR_TRACE=1 prints every command's time on stderr.
TRACE = bool(os.environ.get("FLOOR_TRACE"))
spent: dict[str, float] = defaultdict(float)
_lock = threading.Lock()


def sh(category: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    started = time.perf_counter()
    # A session of its own per command, as releaselib's processes.run does: with the kernel's
    # autogroup scheduling (sched_autogroup_enabled) CPU is shared between sessions, so on a busy
    # machine commands sharing one session get a fraction of what releaselib's commands get.
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env or ENV, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          start_new_session=True)  # fmt: skip
    with _lock:
        spent[category] += time.perf_counter() - started
    if TRACE:
        print(f"{time.perf_counter() - started:6.2f}s {category:8} {' '.join(map(str, argv))[:160]}", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({category}): {' '.join(map(str, argv))}\n{proc.stdout[-3000:]}")
    return proc.stdout


def python_of(version: str) -> str:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(root.glob(f"{version}.*"), reverse=True):
        exe = candidate / "bin" / f"python{version}"
        if exe.exists():
            return str(exe)
    found = shutil.which(f"python{version}")
    if found is None:
        raise SystemExit(f"Python {version} not found")
    return found


def export(repo: Path, ref: str, dest: Path) -> Path:
    started = time.perf_counter()
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    spent["export"] += time.perf_counter() - started
    return dest


def seed(python: str, work: Path, tools: list[str], warm: str) -> Path:
    """One environment per Python with the tools, made once and copied for every use.

    The tools come from uv's shared cache (hard links, no download). Bytecode
    is compiled for what the cells import (``warm``), not for every file of
    every tool (``--compile-bytecode`` compiles all of setuptools: seconds per
    Python for modules nothing imports).
    """
    dest = work / f"seed-{Path(python).name}-{len(tools)}"
    sh("venv", [UV, "venv", "-q", "--no-project", "--no-config", "--python", python, dest])
    sh("install", [UV, "pip", "install", "-q", "--python", dest / "bin" / "python", *tools])
    # Written even where PYTHONDONTWRITEBYTECODE is set: the seed's bytecode serves every copy.
    sh("install", [dest / "bin" / "python", "-c", warm],
       env={k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"})
    return dest


def copy_of(seed_dir: Path, dest: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of a seed: hard links (`cp -al`), so what a cell installs cannot reach the seed."""
    started = time.perf_counter()
    subprocess.run(["cp", "-al", str(seed_dir), str(dest)], check=True, start_new_session=True)
    with _lock:
        spent["venv"] += time.perf_counter() - started
    env = {**ENV, "VIRTUAL_ENV": str(dest), "PATH": f"{dest / 'bin'}{os.pathsep}{ENV['PATH']}"}
    return dest / "bin" / "python", env


def install_project(src: Path, vpy: Path, env: dict[str, str], out: Path) -> None:
    """The project built (PEP 517, no isolation: the seed has the build requirements) and installed, no cache.

    What ``uv pip install --no-build-isolation .`` does, in one backend call
    instead of two (a metadata build, then the wheel build).
    """
    # Counted as "install", as the phase's log counts its one install command that builds.
    sh("install", [UV, "build", "-q", "--wheel", "--no-build-isolation", "--no-config", "--python", vpy,
                   "--out-dir", out, src], env=env)  # fmt: skip
    sh("install", [UV, "pip", "install", "-q", "--no-cache", "--python", vpy, *out.glob("*.whl")], env=env)


def test_cell(project: Path, python: str, ext: bool, no_ext_env: str, work: Path, seeds: dict[str, Path]) -> None:
    cell = work / f"cell-{Path(python).name}-{ext}"
    src = cell / "src"
    shutil.copytree(project, src)
    vpy, env = copy_of(seeds[python], cell / "venv")
    if ext:
        env.pop(no_ext_env, None)
    else:
        env[no_ext_env] = "1"
    install_project(src, vpy, env, cell / "wheel")
    said = sh("test", [vpy, "-c", "import bsonlite; print(bsonlite.has_c_extension())"], src, env).split()[-1]
    if said != str(ext):
        raise SystemExit(f"extension check said {said} for ext={ext}")
    sh("test", [vpy, "-m", "pytest", "-q", "tests"], src, env)
    sh("test", [vpy, "-m", "doctest", "-v", "doc/usage.rst"], src, env)


WARM_TEST = "import pytest, setuptools.build_meta, setuptools.command.build_ext"
WARM_INSTALL = "import pytest"


def phase_test(repo: Path, ref: str, pythons: list[str], no_ext_env: str, jobs: int, work: Path) -> None:
    project = export(repo, ref, work / "export")
    interpreters = [python_of(v) for v in pythons]
    with ThreadPoolExecutor(jobs) as pool:
        seeds = dict(zip(interpreters, pool.map(
            lambda p: seed(p, work, ["pytest", "setuptools>=77"], WARM_TEST), interpreters)))  # fmt: skip
        cells = [(p, ext) for ext in (True, False) for p in interpreters]
        list(pool.map(lambda c: test_cell(project, c[0], c[1], no_ext_env, work, seeds), cells))


def install_test(artifact: Path, python: str, project: Path, work: Path, name: str, seed_dir: Path) -> None:
    base = work / f"it-{name}"
    base.mkdir()
    vpy, env = copy_of(seed_dir, base / "venv")
    sh("install", [UV, "pip", "install", "-q", "--no-cache", "--python", vpy, artifact], env=env)
    tests = base / "project"
    shutil.copytree(project, tests, ignore=shutil.ignore_patterns("src"))
    sh("test", [vpy, "-c", "import bsonlite; print(bsonlite.has_c_extension())"], tests, env)
    sh("test", [vpy, "-m", "pytest", "-q", "tests"], tests, env)


def phase_build(repo: Path, ref: str, pythons: list[str], jobs: int, work: Path, no_ext_env: str) -> None:
    env = {k: v for k, v in ENV.items() if k != no_ext_env}
    project = export(repo, ref, work / "export")
    dist = work / "dist"
    built = work / "built"
    interpreters = [python_of(v) for v in pythons]
    with ThreadPoolExecutor(jobs) as pool:
        # The test environments are made while the sdist and the wheels build.
        seeding = {p: pool.submit(seed, p, work, ["pytest"], WARM_INSTALL) for p in interpreters}
        sh("build", [UV, "build", "-q", "--sdist", "--no-config", "--out-dir", dist, project], env=env)
        sdist = next(dist.glob("*.tar.gz"))

        def wheel(python: str) -> Path:
            out = work / f"wheel-{Path(python).name}"
            sh("build", [UV, "build", "-q", "--wheel", "--no-config", "--python", python, "--out-dir", out, sdist],
               env=env)  # fmt: skip
            return next(out.glob("*.whl"))

        raw = list(pool.map(wheel, interpreters))
        # One auditwheel process repairs every wheel (its start and imports are paid once).
        sh("repair", [sys.executable, "-m", "auditwheel", "repair", "--plat", "manylinux_2_17_x86_64",
                      "--wheel-dir", built, *raw],
           env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"})  # fmt: skip
        wheels = [next(built.glob(f"*{w.name.split('-')[2]}*manylinux*.whl")) for w in raw]
        for w in wheels:
            shutil.move(w, dist / w.name)
        wheels = [dist / w.name for w in wheels]
        checking = pool.submit(sh, "check", [sys.executable, "-m", "twine", "check", "--strict", sdist, *wheels])
        seeds = {p: f.result() for p, f in seeding.items()}
        jobs_list = [(sdist, interpreters[0], "sdist")] + [(w, p, w.name) for w, p in zip(wheels, interpreters)]
        list(pool.map(lambda j: install_test(j[0], j[1], project, work, j[2], seeds[j[1]]), jobs_list))
        checking.result()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--phase", choices=("test", "build"), required=True)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--pythons", default="3.9,3.10,3.11,3.12,3.13")
    parser.add_argument("--no-ext-env", default="BSONLITE_NO_EXT")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
        work = Path(tmp)
        pythons = args.pythons.split(",")
        if args.phase == "test":
            phase_test(args.repo, args.ref, pythons, args.no_ext_env, args.jobs, work)
        else:
            phase_build(args.repo, args.ref, pythons, args.jobs, work, args.no_ext_env)
    wall = time.perf_counter() - started  # removing the work folder is part of the work, as in the phases
    print(json.dumps({"phase": args.phase, "wall": round(wall, 3), **{k: round(v, 3) for k, v in spent.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
