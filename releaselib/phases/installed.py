"""What the tests import: the installed distribution, never the checkout.

A command run with the checkout as working directory imports the unbuilt
source whenever a package folder sits at the root (a flat layout), and a
distribution with several top-level packages shadows each of them. The test
matrix (01_test) and the build's install test (05_build) therefore share
these steps:

1. read the installed distribution's ``RECORD`` to learn every top-level
   package or module it holds, and every compiled module;
2. run the tests from a copy of the export *without* those folders and
   files (nor ``src/``, ``build/``, ``dist/``, ``*.egg-info``);
3. from that copy, import every top-level name and every compiled module in
   the test environment and prove each ``__file__`` lies inside it; a module
   loaded from anywhere else fails the cell, naming the file.

Configured commands (test, doctest, pre-build) run the same way everywhere:
through ``/bin/sh -c`` with the environment's ``bin`` first on ``PATH``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

__all__ = [
    "InstalledDistribution",
    "ImportProof",
    "installed_distribution",
    "tests_copy",
    "probe_argv",
    "read_probe",
    "shell_argv",
]

# Folders never copied next to the tests: they hold sources or build output.
_ALWAYS_SHADOWING = {"src", "build", "dist"}
# A distribution that ships its test folder keeps it beside the tests: removing it
# would remove the tests themselves.
_TEST_FOLDERS = {"tests", "test", "testing"}
_COMPILED_SUFFIXES = (".so", ".pyd")

# Runs inside the test environment, from the tests' folder, with ``python -c``
# (so the working directory is on sys.path exactly as for the test command).
# Standard library only, Python 3.8+.
_PROBE = r"""
import importlib, importlib.metadata as md, json, os, sys
dist, names = sys.argv[1], sys.argv[2:]
out = {"modules": {}, "errors": {}, "version": None, "dunder_version": None}
try:
    out["version"] = md.version(dist)
except Exception as exc:
    out["errors"]["<metadata>"] = "%s: %s" % (type(exc).__name__, exc)
for name in names:
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        out["errors"][name] = "%s: %s" % (type(exc).__name__, exc)
        continue
    where = getattr(module, "__file__", None)
    if where is None:
        where = list(getattr(module, "__path__", []) or [""])[0]
    out["modules"][name] = os.path.realpath(where) if where else ""
    if "." not in name and out["dunder_version"] is None:
        value = getattr(module, "__version__", None)
        out["dunder_version"] = value if isinstance(value, str) else None
print("RELEASELIB-PROBE " + json.dumps(out))
"""


@dataclass(frozen=True)
class InstalledDistribution:
    """What one installed distribution put into an environment, read from its RECORD."""

    name: str
    dist_info: Path
    top_level: tuple[str, ...]  # importable top-level packages and modules
    compiled: tuple[str, ...]  # dotted names of compiled extension modules

    def shadowing(self) -> set[str]:
        """Names in a checkout's root that would shadow this distribution."""
        names: set[str] = set()
        for top in self.top_level:
            if top in _TEST_FOLDERS:
                continue
            names.update({top, f"{top}.py"})
        return names


@dataclass(frozen=True)
class ImportProof:
    """Where each module came from when imported next to the tests."""

    modules: dict[str, str]
    errors: dict[str, str]
    version: str | None  # importlib.metadata.version of the distribution
    dunder_version: str | None  # the first top-level package's __version__, if it has one
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _site_dirs(venv: Path) -> list[Path]:
    found = sorted(venv.glob("lib/python*/site-packages")) + sorted(venv.glob("lib64/python*/site-packages"))
    windows = venv / "Lib" / "site-packages"
    return found + ([windows] if windows.is_dir() else [])


def installed_distribution(venv: Path, distribution: str) -> InstalledDistribution | None:
    """The distribution named ``distribution`` installed in ``venv``, or None when it is not there."""
    wanted = canonicalize_name(distribution)
    for site in _site_dirs(venv):
        for dist_info in sorted(site.glob("*.dist-info")):
            if canonicalize_name(dist_info.name[: -len(".dist-info")].split("-")[0]) != wanted:
                continue
            record = dist_info / "RECORD"
            if not record.is_file():
                continue
            with record.open(encoding="utf-8", newline="") as handle:
                paths = [row[0] for row in csv.reader(handle) if row]
            top, compiled = _top_level_and_compiled(paths)
            return InstalledDistribution(distribution, dist_info, top, compiled)
    return None


def _top_level_and_compiled(paths: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    top: dict[str, None] = {}
    compiled: dict[str, None] = {}
    for path in paths:
        parts = path.replace("\\", "/").split("/")
        first = parts[0]
        if first in ("", "..", "__pycache__") or first.endswith((".dist-info", ".data", ".libs", ".egg-link")):
            continue
        name = parts[-1]
        if len(parts) == 1:
            if name.endswith(".py"):
                top[name[:-3]] = None
            elif name.endswith(_COMPILED_SUFFIXES):
                module = name.split(".")[0]
                top[module] = None
                compiled[module] = None
            continue  # .pth files and other data at the root
        if not first.isidentifier():
            continue
        top[first] = None
        if name.endswith(_COMPILED_SUFFIXES) and "__pycache__" not in parts:
            compiled[".".join([*parts[:-1], name.split(".")[0]])] = None
    return tuple(top), tuple(compiled)


def tests_copy(export: Path, dest: Path, installed: InstalledDistribution | None) -> Path:
    """A copy of ``export`` at ``dest`` without anything that would shadow the installed distribution."""
    shadows = set(_ALWAYS_SHADOWING) | (installed.shadowing() if installed else set())
    root = export.resolve()

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory).resolve() == root:
            return {n for n in names if n in shadows or n.endswith(".egg-info")}
        return {n for n in names if n == "__pycache__"}

    shutil.copytree(export, dest, ignore=ignore, symlinks=True)
    return dest


def probe_argv(python: str | os.PathLike[str], installed: InstalledDistribution, *, compiled: bool) -> list[str]:
    """``python -c <probe> DIST NAME...``: imports each top-level name (and compiled module) and reports where from."""
    names = list(installed.top_level) + (list(installed.compiled) if compiled else [])
    return [str(python), "-c", _PROBE, installed.name, *names]


def read_probe(output: str, venv: Path, installed: InstalledDistribution) -> ImportProof:
    """The probe's report, with one problem per module that failed to import or came from outside ``venv``."""
    line = next((ln for ln in reversed(output.splitlines()) if ln.startswith("RELEASELIB-PROBE ")), None)
    if line is None:
        tail = "\n".join(output.strip().splitlines()[-5:])
        return ImportProof({}, {}, None, None, (f"the import check printed no report:\n{tail}",))
    data = json.loads(line[len("RELEASELIB-PROBE "):])
    inside = os.path.realpath(venv) + os.sep
    problems: list[str] = []
    for name, where in data["modules"].items():
        if not where.startswith(inside):
            problems.append(f"{name} was imported from {where}, not from the installed distribution in {venv}")
    for name, error in data["errors"].items():
        if name != "<metadata>":
            problems.append(f"importing {name} failed: {error}")
    if "<metadata>" in data["errors"]:
        problems.append(f"the installed metadata of {installed.name} cannot be read: {data['errors']['<metadata>']}")
    return ImportProof(
        modules=data["modules"],
        errors=data["errors"],
        version=data["version"],
        dunder_version=data["dunder_version"],
        problems=tuple(problems),
    )


def shell_argv(command: str) -> list[str]:
    """How every configured command runs, in every phase: through ``/bin/sh -c``.

    ``cd``, ``&&``, quoting and environment assignments mean the same in the
    test matrix and the build's install test.
    """
    return ["/bin/sh", "-c", command]
