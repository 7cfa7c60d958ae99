"""Which wheel covers each platform x Python, and the wheels built elsewhere (the wheelhouse)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from releaselib.core.errors import BuildError
from releaselib.phases.build.artifacts import Artifact
from releaselib.phases.build.steps import twine_check

# --------------------------------------------------------------------------- coverage


def _platform_family(platform_tag: str) -> str | None:
    if platform_tag == "any":
        return None  # covers every platform
    if platform_tag.startswith(("manylinux", "musllinux", "linux")):
        return "linux"
    if platform_tag.startswith("macosx"):
        return "macos"
    if platform_tag.startswith("win"):
        return "windows"
    return platform_tag


def _covers(tag: Tag, platform: str, python: str) -> bool:
    family = _platform_family(tag.platform)
    if family is not None and family != platform:
        return False
    major, minor = (int(p) for p in python.split(".")[:2])
    interp = tag.interpreter
    if interp in (f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"):
        return True
    if tag.abi == "abi3" and interp.startswith("cp") and interp[2:].isdigit():
        # abi3 built for 3.9 runs on every later 3.x
        built_for = (int(interp[2]), int(interp[3:]))
        return built_for[0] == major and built_for <= (major, minor)
    return False


def _python_label(item: Any) -> str:
    if isinstance(item, str):
        return ".".join(item.split(".")[:2])
    return ".".join(str(getattr(item, "requested", None) or item.version).split(".")[:2])


@dataclass
class Coverage:
    """Which file covers each configured platform x Python cell, and which cells are missing."""

    platforms: tuple[str, ...]
    pythons: tuple[str, ...]
    cells: dict[tuple[str, str], list[str]]
    allowed_missing: frozenset[tuple[str, str]] = frozenset()

    @property
    def missing(self) -> list[tuple[str, str]]:
        """Cells no file covers (allowed or not)."""
        return [cell for cell, files in self.cells.items() if not files]

    @property
    def missing_not_allowed(self) -> list[tuple[str, str]]:
        return [cell for cell in self.missing if cell not in self.allowed_missing]

    def raise_for_missing(self) -> None:
        """Raise :class:`BuildError` naming every missing cell that was not allowed to be missing."""
        cells = self.missing_not_allowed
        if not cells:
            return
        names = ", ".join(f"{p} / Python {v}" for p, v in cells)
        platforms = sorted({p for p, _ in cells})
        raise BuildError(
            f"No wheel covers {len(cells)} configured platform x Python cell(s): {names}.\n{self}",
            hint="Put the wheels built on those platforms (cibuildwheel on CI) in the wheelhouse folder "
            "([tool.releaselib.matrix] wheelhouse), or allow them to be missing: "
            f"allow-missing-platforms = {platforms!r}.",
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "platforms": list(self.platforms),
            "pythons": list(self.pythons),
            "cells": [
                {"platform": p, "python": v, "files": files, "allowed_missing": (p, v) in self.allowed_missing}
                for (p, v), files in self.cells.items()
            ],
        }

    def _cell_text(self, platform: str, python: str) -> str:
        files = self.cells[(platform, python)]
        if files:
            return ", ".join(files)
        return "MISSING (allowed)" if (platform, python) in self.allowed_missing else "MISSING"

    def __str__(self) -> str:
        width = max([len("platform")] + [len(p) for p in self.platforms])
        lines = ["Wheel coverage (platform x Python)"]
        for platform in self.platforms:
            for python in self.pythons:
                lines.append(f"  {platform:<{width}}  {python:<5}  {self._cell_text(platform, python)}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>Python {html.escape(v)}</th>" for v in self.pythons)
        body = ""
        for platform in self.platforms:
            cells = ""
            for python in self.pythons:
                text = self._cell_text(platform, python)
                style = ' style="color:#b00;font-weight:bold"' if text == "MISSING" else ""
                cells += f"<td{style}><code>{html.escape(text)}</code></td>"
            body += f"<tr><th>{html.escape(platform)}</th>{cells}</tr>"
        return f"<table><thead><tr><th>platform</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def wheelhouse_coverage(
    files: Iterable[Artifact],
    interpreters: Sequence[Any],
    platforms: Sequence[str],
    allow_missing_platforms: Sequence[str] = (),
    *,
    allow_missing_pythons: Sequence[str] = (),
) -> Coverage:
    """Map every configured platform (``linux``, ``macos``, ``windows``) x Python to the wheels covering it.

    ``interpreters`` are version strings ("3.12") or interpreter objects. A
    pure wheel covers every cell; an ``abi3`` wheel covers its Python and
    later ones. A cell is allowed to be missing when its platform is in
    ``allow_missing_platforms`` or its Python in ``allow_missing_pythons``.
    Never raises; call :meth:`Coverage.raise_for_missing`.
    """
    wheels = [f for f in files if f.kind == "wheel"]
    pythons = tuple(dict.fromkeys(_python_label(i) for i in interpreters))
    platform_list = tuple(dict.fromkeys(platforms)) or ("linux",)
    cells: dict[tuple[str, str], list[str]] = {}
    allowed: set[tuple[str, str]] = set()
    allowed_pythons = {_python_label(v) for v in allow_missing_pythons}
    for platform in platform_list:
        for python in pythons:
            cells[(platform, python)] = [w.filename for w in wheels if any(_covers(t, platform, python) for t in w.tags)]
            if platform in allow_missing_platforms or python in allowed_pythons:
                allowed.add((platform, python))
    return Coverage(platform_list, pythons, cells, frozenset(allowed))


def collect_wheelhouse(folder: Path, package: str, version: str) -> list[Artifact]:
    """The wheels in ``folder`` (built elsewhere, e.g. on CI), checked like our own.

    Each name must parse, name ``package`` and carry ``version``; each file
    must pass ``twine check --strict``. Returns them as artifacts with origin
    ``wheelhouse``; files for other versions are ignored. Raises
    :class:`BuildError` when the folder does not exist, a name does not parse,
    or a wheel fails the checks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BuildError(
            f"The wheelhouse folder {folder} does not exist.",
            hint="Create it and put the CI-built wheels in it, or remove `wheelhouse` from [tool.releaselib.matrix].",
        )
    wanted = canonicalize_name(package)
    found: list[Artifact] = []
    for path in sorted(folder.glob("*.whl")):
        artifact = Artifact.from_path(path, origin="wheelhouse")
        if canonicalize_name(artifact.name) != wanted:
            raise BuildError(
                f"The wheelhouse holds {artifact.filename}, a wheel of {artifact.name!r}, not {package!r}.",
                hint=f"Remove it from {folder}.",
            )
        if Version(artifact.version) != Version(version):
            continue
        found.append(artifact)
    if found:
        twine_check(found)
    return found


