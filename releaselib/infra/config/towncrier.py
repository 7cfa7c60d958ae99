"""Where a towncrier project keeps its news fragments and its changelog, read from towncrier's own settings.

towncrier (https://towncrier.readthedocs.io) reads ``[tool.towncrier]`` from
``towncrier.toml`` at the project root, else from ``pyproject.toml``. Of its
settings releaselib needs three facts: the changelog file (``filename``,
default ``NEWS.rst``), the folder of news fragments (``directory``, else
``<package_dir>/<package>/newsfragments``) and which files in it are
fragments. towncrier itself builds the section; this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.infra.config.schema import PYPROJECT, _read_toml

TOWNCRIER_TOML = "towncrier.toml"
#: Files towncrier keeps in the fragment folder that are not fragments.
_NOT_FRAGMENTS = {".gitignore", ".gitkeep", ".keep"}


@dataclass(frozen=True)
class TowncrierSettings:
    source: str  # the file holding [tool.towncrier]: "towncrier.toml" or "pyproject.toml"
    filename: str  # the changelog, relative to the project root
    directory: str | None  # the fragment folder, relative to the project root (None: towncrier cannot tell)
    template: str | None  # a template file kept in the fragment folder, relative to the root


def towncrier_settings(root: Path) -> TowncrierSettings | None:
    """The towncrier settings of the project at ``root``, or None when it does not use towncrier."""
    root = Path(root)
    table: dict[str, Any] | None = None
    source = ""
    for name in (TOWNCRIER_TOML, PYPROJECT):
        path = root / name
        if path.is_file():
            found = _read_toml(path).get("tool", {}).get("towncrier")
            if isinstance(found, dict):
                table, source = found, name
                break
    if table is None:
        return None
    directory = table.get("directory")
    if not directory and table.get("package"):
        package_dir = str(table.get("package_dir", "."))
        directory = (Path(package_dir) / str(table["package"]).replace(".", "/") / "newsfragments").as_posix()
    template = table.get("template")
    return TowncrierSettings(
        source=source,
        filename=str(table.get("filename", "NEWS.rst")),
        directory=Path(str(directory)).as_posix() if directory else None,
        template=str(template) if isinstance(template, str) and ":" not in template else None,
    )


def news_fragments(root: Path, settings: TowncrierSettings) -> list[str]:
    """The news fragments waiting in the fragment folder, relative to ``root``, sorted."""
    if settings.directory is None:
        return []
    folder = Path(root) / settings.directory
    if not folder.is_dir():
        return []
    template = (Path(root) / settings.template).resolve() if settings.template else None
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in _NOT_FRAGMENTS or path.name.upper().startswith("README"):
            continue
        if template is not None and path.resolve() == template:
            continue
        found.append(path.relative_to(root).as_posix())
    return found
