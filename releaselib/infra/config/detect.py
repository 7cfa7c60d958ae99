"""Autodetection: the configuration a project implies by its layout alone."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Mapping

from releaselib.core.config_types import (
    Config,
    VersionFile,
)
from releaselib.core.errors import ConfigError
from releaselib.infra.config.meaning import _freeze, _glob_matches_a_file, _package_name
from releaselib.infra.config.schema import (
    _DOCS_CANDIDATES,
    _LOCAL_LABEL_RE,
    _LOOKS_LIKE_VERSION,
    _SKIPPED_PACKAGE_DIRS,
    CHANGELOG_CANDIDATES,
    PYPROJECT,
    TABLE,
    VERSION,
    VERSION_TUPLE,
    _read_text,
    _read_toml,
    pattern_regex,
)

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]


# -- autodetection ----------------------------------------------------------------

_DUNDER_VERSION_RE = re.compile(r"^(__version__\s*(?::\s*str\s*)?=\s*)([\"'])([^\s\"']+)\2", re.MULTILINE)
_VERSION_TUPLE_RE = re.compile(r"^((?:__)?version_tuple(?:__)?\s*(?::[^=\n]*)?=\s*)\([^()]*\)", re.MULTILINE)
_TOML_VERSION_RE = re.compile(r"^(version\s*=\s*)([\"'])([^\s\"']+)\2", re.MULTILINE)
_SETUP_PY_VERSION_RE = re.compile(r"(\bversion\s*=\s*)([\"'])([^\s\"']+)\2")


def detect_config(repo: Path) -> Config:
    """The configuration autodetected from the layout of ``repo``, ignoring any table.

    Finds the version files (``__version__`` in ``<pkg>/__init__.py`` or
    ``<pkg>/_version.py``, under ``src/`` or not; a ``version_tuple`` line
    beside it; a static ``[project].version``; ``version=`` in setup.py), the
    changelog, the docs globs, the development scheme (from the current
    version) and the branch (git's current branch, else ``main``).
    ``Config.detected`` is True.

    Raises :class:`ConfigError` when nothing holding a version is found, the
    package name cannot be told, or pyproject.toml is not valid TOML.
    """
    root = Path(repo).resolve()
    pyproject = root / PYPROJECT
    data = _read_toml(pyproject) if pyproject.is_file() else {}
    package = _package_name(root, data)
    version_files, current, package_dir = _detect_version_files(root, data, package)
    if not version_files:
        raise ConfigError(
            f"Found nothing holding the version of {package} in {root}: no __version__ = \"...\" in "
            f"<package>/__init__.py or <package>/_version.py, no static [project].version, no version= in setup.py.",
            hint=f"Add a [{TABLE}] table naming the version files; see `releaselib init` for a starting point.",
        )
    values: dict[str, Any] = {
        "package": package,
        "version_files": tuple(version_files),
        "changelog": next((c for c in CHANGELOG_CANDIDATES if (root / c).is_file()), None),
        "branch": _current_branch(root) or "main",
    }
    if package_dir is not None:
        values["import_name"] = package_dir.name
    docs = [pattern for pattern in _DOCS_CANDIDATES if _glob_matches_a_file(root, pattern)]
    if package_dir is not None and any(package_dir.glob("**/*.py")):
        docs.append(f"{package_dir.relative_to(root).as_posix()}/**/*.py")
    values["docs"] = tuple(docs)
    if current is not None:
        if ".dev" in current:
            values["dev_scheme"] = "dev"
        else:
            values["dev_scheme"] = "plus"
            label = current.partition("+")[2]
            if label and _LOCAL_LABEL_RE.match(label):
                values["plus_label"] = label
    return _freeze(root, data, values, detected=True)


def _candidate_package_dirs(root: Path, package: str) -> list[Path]:
    guess = re.sub(r"[-.]", "_", package)
    dirs: list[Path] = []
    for base in (root / "src", root):
        if (base / guess / "__init__.py").is_file():
            dirs.append(base / guess)
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if (
                child.is_dir()
                and child.name.isidentifier()
                and child.name not in _SKIPPED_PACKAGE_DIRS
                and (child / "__init__.py").is_file()
                and child not in dirs
            ):
                dirs.append(child)
    return dirs


def _matches_once(text: str, pattern: str) -> bool:
    return len(pattern_regex(pattern).findall(text)) == 1


def _detect_version_files(
    root: Path, data: Mapping[str, Any], package: str
) -> tuple[list[VersionFile], str | None, Path | None]:
    """Version files found, the current version string, and the package folder."""
    found: list[VersionFile] = []
    current: str | None = None
    package_dir: Path | None = None
    for candidate in _candidate_package_dirs(root, package):
        for name in ("_version.py", "__init__.py"):
            path = candidate / name
            if not path.is_file():
                continue
            try:
                text = _read_text(path, name)
            except ConfigError:
                continue
            relpath = path.relative_to(root).as_posix()
            match = _DUNDER_VERSION_RE.search(text)
            if match is None:
                continue
            pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
            if not _matches_once(text, pattern):
                continue
            found.append(VersionFile(relpath, pattern))
            current = current or match.group(3)
            package_dir = package_dir or candidate
            tuple_match = _VERSION_TUPLE_RE.search(text)
            if tuple_match is not None:
                tuple_pattern = f"{tuple_match.group(1)}{VERSION_TUPLE}"
                if _matches_once(text, tuple_pattern):
                    found.append(VersionFile(relpath, tuple_pattern))
        if found:
            break
    if package_dir is None:
        dirs = _candidate_package_dirs(root, package)
        package_dir = dirs[0] if dirs else None

    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("version"), str):
        text = _read_text(root / PYPROJECT, PYPROJECT)
        project_pattern = _project_version_pattern(text)
        if project_pattern is not None:
            found.append(VersionFile(PYPROJECT, project_pattern))
            current = current or str(project["version"])

    setup_py = root / "setup.py"
    if setup_py.is_file():
        try:
            text = _read_text(setup_py, "setup.py")
        except ConfigError:
            text = ""
        matches = list(_SETUP_PY_VERSION_RE.finditer(text))
        if len(matches) == 1 and _LOOKS_LIKE_VERSION.match(matches[0].group(3)):
            match = matches[0]
            pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
            if _matches_once(text, pattern):
                found.append(VersionFile("setup.py", pattern))
                current = current or match.group(3)
    return found, current, package_dir


def _project_version_pattern(text: str) -> str | None:
    """The pattern for ``version = "..."`` in the [project] table, if it matches once in the file."""
    headers = [(m.start(), m.group(1).strip()) for m in re.finditer(r"^\s*\[+\s*([^\]]+?)\s*\]+", text, re.MULTILINE)]
    for match in _TOML_VERSION_RE.finditer(text):
        table = next((name for start, name in reversed(headers) if start < match.start()), None)
        if table != "project":
            continue
        pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
        return pattern if _matches_once(text, pattern) else None
    return None


def _current_branch(root: Path) -> str | None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    # symbolic-ref also names the branch of a repository without commits yet,
    # where rev-parse --abbrev-ref HEAD fails; a detached HEAD gives None.
    try:
        result = subprocess.run(
            ["git", "symbolic-ref", "--short", "-q", "HEAD"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    branch = result.stdout.strip()
    return branch if result.returncode == 0 and branch else None


