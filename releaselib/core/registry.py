"""The phases of a release, declared once.

A phase is a numbered runbook (``03_bump.ipynb``). releaselib bundles ten;
a project adds its own by putting numbered notebooks that follow the runbook
contract in its ``runbooks`` folder (``10_github_release.ipynb``,
``05a_conda.ipynb``), and a package adds phases through the entry point group
``releaselib.phases`` (each entry point names a folder of runbooks, or a
callable returning one), as papermill and twine extend themselves.

Everything that lists phases (the runner, preflight, ``status``, the record
readers) asks this module; no other module spells a phase's name.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from releaselib.core.errors import ConfigError, ReleaseError, UsageError

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

#: A runbook's file name: a two-digit number, an optional letter, a name.
RUNBOOK_NAME = re.compile(r"^(?P<number>\d\d[a-z]?)_(?P<short>[a-z][a-z0-9_]*)\.ipynb$")
ENTRY_POINT_GROUP = "releaselib.phases"

PREFLIGHT = "00_preflight"
API = "00a_api"
TEST = "01_test"
CHANGELOG = "02_changelog"
BUMP = "03_bump"
COMMIT_TAG = "04_commit_tag"
BUILD = "05_build"
PUBLISH = "06_publish"
DOCS = "07_docs"
POST_RELEASE = "08_post_release"
ANNOUNCE = "09_announce"


@dataclass(frozen=True)
class PhaseSpec:
    """What releaselib knows of a bundled phase beyond its runbook."""

    name: str
    summary: str
    #: Preflight checks this phase needs ("interpreters", "index", "smtp", "docs").
    needs: tuple[str, ...] = ()
    #: Whether the phase changes the remote or the index (push, upload, send).
    changes_world: bool = False


BUNDLED: tuple[PhaseSpec, ...] = (
    PhaseSpec(PREFLIGHT, "read-only checks and the plan"),
    PhaseSpec(API, "the public API against the last release, judged by the compatibility policy"),
    PhaseSpec(TEST, "the tests on every Python, with and without the C extension", needs=("interpreters",)),
    PhaseSpec(CHANGELOG, "the release notes' section"),
    PhaseSpec(BUMP, "the release version in docs, code and version files"),
    PhaseSpec(COMMIT_TAG, "commit BUMP <version> and the annotated tag"),
    PhaseSpec(BUILD, "sdist and wheels from the tag, checked and installed", needs=("interpreters",)),
    PhaseSpec(PUBLISH, "push, upload, install back from the index", needs=("index",), changes_world=True),
    PhaseSpec(DOCS, "wait until the published docs show the version", needs=("docs",)),
    PhaseSpec(POST_RELEASE, "the next development version, committed and pushed", changes_world=True),
    PhaseSpec(ANNOUNCE, "the announcement, sent once", needs=("smtp",), changes_world=True),
)
BUNDLED_NAMES: tuple[str, ...] = tuple(spec.name for spec in BUNDLED)
_SPECS = {spec.name: spec for spec in BUNDLED}


@dataclass(frozen=True)
class Phase:
    """One phase of a release: its runbook, and where it came from."""

    name: str
    runbook: Path
    origin: str  # "bundled", "project" (its runbooks folder), or "entry point <name>"
    summary: str = ""
    needs: tuple[str, ...] = ()
    changes_world: bool = False

    @property
    def number(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def short(self) -> str:
        return self.name.split("_", 1)[1]

    @property
    def bundled(self) -> bool:
        return self.name in _SPECS


def phase_order(name: str) -> tuple[int, str, str]:
    """Sort key of a phase name: ``05_build`` < ``05a_conda`` < ``06_publish``; unnumbered last."""
    match = re.match(r"^(\d\d)([a-z]?)_", name)
    if match is None:
        return (100, "", name)
    return (int(match.group(1)), match.group(2), name)


def bundled_runbooks_dir() -> Path:
    """The runbooks shipped with releaselib (installed package, or source checkout)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "runbooks", package.parent / "runbooks"):
        if any(candidate.glob("[0-9][0-9]_*.ipynb")):
            return candidate
    raise ReleaseError(
        f"releaselib's bundled runbooks are missing (looked in {package / 'runbooks'}).",
        hint="Reinstall releaselib: pip install --force-reinstall releaselib",
    )


def _runbooks_in(folder: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        if RUNBOOK_NAME.match(path.name):
            found[path.stem] = path
    return found


def _entry_point_folders() -> list[tuple[str, Path]]:
    folders = []
    for entry in _phase_entry_points(_import_path_state()):
        try:
            target = entry.load()
            folder = target() if callable(target) else target
        except Exception as exc:  # noqa: BLE001 - a broken plug-in names itself
            raise ConfigError(
                f"The phase plug-in {entry.name!r} ({entry.value}) failed to load: {exc}",
                hint="Fix or uninstall the package that declares it.",
            ) from exc
        folders.append((entry.name, Path(folder)))
    return folders


def _import_path_state() -> tuple[tuple[str, int], ...]:
    """Each import path entry with its modification time: installing a package changes it."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, 0))
    return tuple(state)


@lru_cache(maxsize=8)
def _phase_entry_points(path_state: tuple[tuple[str, int], ...]) -> tuple[metadata.EntryPoint, ...]:
    # Reading every installed distribution's metadata takes a tenth of a second or more (several on a
    # busy machine), and a run asks for the phases a dozen times: once per import path state.
    return tuple(metadata.entry_points(group=ENTRY_POINT_GROUP))


def phases_for(config: Config | None = None) -> list[Phase]:
    """Every phase of a release of ``config``'s project, in release order.

    The bundled phases (a project's notebook of the same name replaces the
    bundled runbook), then the project's own numbered notebooks and those of
    installed plug-ins. Raises :class:`ConfigError` when an added phase takes
    the number of another (``05_conda`` beside ``05_build``: name it ``05a_conda``).
    """
    bundled_dir = bundled_runbooks_dir()
    phases: dict[str, Phase] = {}
    for spec in BUNDLED:
        phases[spec.name] = Phase(spec.name, bundled_dir / f"{spec.name}.ipynb", "bundled",
                                  spec.summary, spec.needs, spec.changes_world)
    sources: list[tuple[str, Path]] = [(f"entry point {name}", folder) for name, folder in _entry_point_folders()]
    if config is not None and config.runbooks:
        sources.append(("project", Path(config.root) / config.runbooks))
    for origin, folder in sources:
        for name, path in _runbooks_in(folder).items():
            if name in phases:
                phases[name] = Phase(name, path, origin if not phases[name].bundled else "project",
                                     phases[name].summary, phases[name].needs, phases[name].changes_world)
                continue
            number = name.split("_", 1)[0]
            clash = next((p for p in phases.values() if p.number == number), None)
            if clash is not None:
                raise ConfigError(
                    f"The runbook {path} takes the number {number} of the phase {clash.name}.",
                    hint=f"Give it a number of its own, for example {number}a_{name.split('_', 1)[1]}.ipynb.",
                )
            phases[name] = Phase(name, path, origin)
    return sorted(phases.values(), key=lambda phase: phase_order(phase.name))


def phase_names(config: Config | None = None) -> list[str]:
    return [phase.name for phase in phases_for(config)]


def get_phase(name: str, config: Config | None = None) -> Phase:
    for phase in phases_for(config):
        if phase.name == name:
            return phase
    raise UsageError(f"Unknown phase {name!r}.", hint="Choose among: " + ", ".join(phase_names(config)))


def runbook_path(name: str, config: Config | None = None) -> Path:
    """The notebook for phase ``name``: the project's own if it has one, else the bundled one."""
    return get_phase(name, config).runbook


def resolve_phases(spec: str | Sequence[str] | None, config: Config | None = None) -> list[str]:
    """Turn ``bump,commit_tag`` / ``3,4`` / ``03_bump`` / ``5a`` into phase names, in release order."""
    phases = phases_for(config)
    if spec is None or spec == "all":
        return [phase.name for phase in phases]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen: set[str] = set()
    for raw in (item.strip() for item in items):
        if not raw:
            continue
        matches = [p.name for p in phases if raw in (p.name, p.short, p.number) or _same_number(raw, p.number)]
        if not matches:
            names = ", ".join(p.short for p in phases)
            raise UsageError(f"Unknown phase {raw!r}.", hint=f"Use a name or number: {names}.")
        chosen.add(matches[0])
    return [phase.name for phase in phases if phase.name in chosen]


def _same_number(raw: str, number: str) -> bool:
    digits, letter = number[:2], number[2:]
    return raw.isdigit() and not letter and int(raw) == int(digits)


def phases_needing(need: str, names: Iterable[str], config: Config | None = None) -> list[str]:
    """Of ``names``, the phases that need the preflight check ``need``."""
    wanted = set(names)
    return [phase.name for phase in phases_for(config) if phase.name in wanted and need in phase.needs]


__all__ = [
    "ANNOUNCE", "API", "BUILD", "BUMP", "BUNDLED", "BUNDLED_NAMES", "CHANGELOG", "COMMIT_TAG", "DOCS", "ENTRY_POINT_GROUP",
    "POST_RELEASE", "PREFLIGHT", "PUBLISH", "Phase", "PhaseSpec", "TEST", "bundled_runbooks_dir", "get_phase",
    "phase_names", "phase_order", "phases_for", "phases_needing", "resolve_phases", "runbook_path",
]
