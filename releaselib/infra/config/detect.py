"""Autodetection: the configuration a project implies by its layout alone.

Each finder looks in one kind of place and says what it found and where, so
``plan`` can show the maintainer the source of every detected setting
(``Config.detection``). What the layout cannot tell (where announcements go,
which docs page to watch) stays unset; ``init`` writes those as placeholders.
"""

from __future__ import annotations

import configparser
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from releaselib.core.config_types import Config, VersionFile
from releaselib.core.errors import ConfigError
from releaselib.infra import processes
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
    VERSION_SHORT,
    VERSION_TUPLE,
    _read_text,
    _read_toml,
    pattern_regex,
)
from releaselib.infra.config.towncrier import towncrier_settings

_DUNDER_VERSION_RE = re.compile(r"^(__version__\s*(?::\s*str\s*)?=\s*)([\"'])([^\s\"']+)\2", re.MULTILINE)
# The names a package gives its version tuple, at the start of a line.
_TUPLE_NAMES = r"(?:__version_info__|__version_tuple__|version_tuple|version_info|VERSION_INFO|VERSION|version|__version__)"
# Numbers or numbers in quotes: (1, 2, 1) and ("2", "4", "0", "rc1").
_VERSION_TUPLE_RE = re.compile(rf"^({_TUPLE_NAMES}\s*(?::[^=\n]*)?=\s*)\(\s*[\"']?\d[^()]*\)", re.MULTILINE)
_TOML_VERSION_RE = re.compile(r"^(version\s*=\s*)([\"'])([^\s\"']+)\2", re.MULTILINE)
_SETUP_PY_VERSION_RE = re.compile(r"(\b(?:version|VERSION|__version__)\s*=\s*)([\"'])([^\s\"']+)\2")
_SPHINX_VERSION_RE = re.compile(r"^((?:release|version)\s*=\s*)([\"'])([^\s\"']+)\2", re.MULTILINE)
_SPHINX_CONFS = ("doc/conf.py", "docs/conf.py", "doc/source/conf.py", "docs/source/conf.py", "conf.py")
_SCM_BACKENDS = ("setuptools_scm", "setuptools-scm", "hatch-vcs", "hatch_vcs", "versioneer", "pdm-backend", "flit_scm")
# Names of environment variables a setup.py reads to build without the C extension.
_NO_EXT_ENV_RE = re.compile(
    r"""(?:environ(?:\.get)?\s*[(\[]|getenv\s*\()\s*["']([A-Z0-9_]*(?:NO_?EXT|NO_?CEXT|PURE_?PYTHON|DISABLE_[A-Z_]*SPEEDUPS|NO_?SPEEDUPS|WITHOUT_[A-Z_]*EXT[A-Z_]*)[A-Z0-9_]*)["']"""
)
# Variables read the other way round: the extension is built unless they say "false" (WRAPT_INSTALL_EXTENSIONS).
_ENABLE_EXT_ENV_RE = re.compile(
    r"""(?:environ(?:\.get)?\s*[(\[]|getenv\s*\()\s*["']([A-Z0-9_]*(?:INSTALL|BUILD|WITH|USE|ENABLE)_[A-Z_]*(?:EXT|EXTENSIONS|CEXT|SPEEDUPS))["']"""
)
_FALSE_COMPARISON_RE = re.compile(r"""==\s*["'](false|0|no|off)["']""", re.IGNORECASE)
# In an in-tree build backend (frozenlist: PURE_PYTHON_ENV_VAR = 'FROZENLIST_NO_EXTENSIONS'), any string naming one.
_NO_EXT_NAME_RE = re.compile(
    r"""["']([A-Z0-9_]*(?:NO_?EXT|NO_?CEXT|PURE_?PYTHON|DISABLE_[A-Z_]*SPEEDUPS|NO_?SPEEDUPS)[A-Z0-9_]*)["']"""
)
_CLASSIFIER_RE = re.compile(r"Programming Language :: Python :: (3\.\d+)\b")


def detect_config(repo: Path) -> Config:
    """The configuration autodetected from the layout of ``repo``, ignoring any table.

    Finds the package and its version: a tag-derived version (setuptools-scm,
    hatch-vcs, versioneer: nothing to rewrite), ``__version__`` in
    ``<pkg>/__init__.py`` or ``<pkg>/_version.py``, a version tuple
    (``version_info = (1, 2, 1)``, ``version_tuple``...), a static
    ``[project].version``, ``version=``/``VERSION =`` in setup.py, the Sphinx
    ``conf.py`` ``release``/``version``, or the files of an existing
    bump-my-version / tbump configuration. Then the development marker style
    from the version held now, the tag format from the existing tags, the
    changelog, the docs globs, the extension switch read by setup.py, the
    Pythons of the classifiers, and the branch. ``Config.detected`` is True;
    ``Config.detection`` lists what was found where.

    Raises :class:`ConfigError` when nothing holding a version is found (naming
    the places looked and the keys to write), the package name cannot be told,
    or pyproject.toml is not valid TOML.
    """
    root = Path(repo).resolve()
    pyproject = root / PYPROJECT
    data = _read_toml(pyproject) if pyproject.is_file() else {}
    package = _package_name(root, data)
    notes: list[str] = []
    values: dict[str, Any] = {"package": package}
    package_dir = _package_dir(root, package)
    if package_dir is not None:
        values["import_name"] = package_dir.name
        notes.append(f"import name: {package_dir.name} (folder {package_dir.relative_to(root).as_posix()}/)")

    scm = _scm_backend(root, data)
    version_files: list[VersionFile] = []
    current: str | None = None
    if scm is not None:
        values["version_source"] = "scm"
        values["dev_scheme"] = "none"
        notes.append(f"version: from the git tag ({scm}); no file to rewrite")
    else:
        version_files, current = _bumpversion_files(root, data, notes)
        if not version_files:
            version_files, current = _detect_version_files(root, data, package_dir, notes)
        if not version_files:
            if package_dir is not None:
                target, pattern = (package_dir / "__init__.py").relative_to(root).as_posix(), '__version__ = "{version}"'
            elif (root / "setup.py").is_file():
                target, pattern = "setup.py", 'version="{version}"'
            else:
                target, pattern = f"{re.sub(r'[-.]', '_', package)}/__init__.py", '__version__ = "{version}"'
            raise ConfigError(
                f"Found nothing holding the version of {package} in {root}. Looked for: __version__ = \"...\" or a "
                "version tuple (version_info = (1, 2, 0)) in <package>/__init__.py and <package>/_version.py, a static "
                "[project].version, version = \"...\" / VERSION = '...' in setup.py, release = '...' in the Sphinx "
                "conf.py, a .bumpversion.cfg / [tool.bumpversion] / tbump.toml, and a setuptools-scm/hatch-vcs setup.",
                hint=f"Write a releaselib.toml at the project root (or a [{TABLE}] table) naming the file that holds "
                f"the version as a literal: [[version-files]] path = \"{target}\" pattern = '{pattern}' "
                "(or pattern = \"version_info = {version_tuple}\"); or version-source = \"scm\" when the tag is the version.",
            )
    values["version_files"] = tuple(version_files)
    if current is not None:
        values.update(_marker_style(current, root, notes))

    tag = _tag_template(root)
    if tag is not None:
        values["tag"] = tag
        notes.append(f"tag format: {tag} (from the existing tags)")
    towncrier = towncrier_settings(root)
    if towncrier is not None:  # towncrier builds the changelog from news fragments
        values["changelog"], values["changelog_tool"] = towncrier.filename, "towncrier"
        where = f"{towncrier.directory}/" if towncrier.directory else "its news fragments"
        notes.append(f"changelog: {towncrier.filename} (built by towncrier from {where}; [tool.towncrier] in {towncrier.source})")
    else:
        changelog = next((c for c in CHANGELOG_CANDIDATES if (root / c).is_file()), None)
        values["changelog"] = changelog
        notes.append(f"changelog: {changelog}" if changelog else f"changelog: none of {', '.join(CHANGELOG_CANDIDATES[:6])}, ...")
    values["branch"] = _current_branch(root) or "main"
    docs = [pattern for pattern in _DOCS_CANDIDATES if _glob_matches_a_file(root, pattern)]
    if package_dir is not None and any(package_dir.glob("**/*.py")):
        docs.append(f"{package_dir.relative_to(root).as_posix()}/**/*.py")
    values["docs"] = tuple(docs)
    matrix = _matrix(root, data, notes)
    if matrix:
        from releaselib.core.config_types import MatrixConfig

        values["matrix"] = MatrixConfig(**matrix)
    return _freeze(root, data, values, detected=True, source="detected from the layout", detection=tuple(notes))


# -- where the version is ---------------------------------------------------------


def _package_dir(root: Path, package: str) -> Path | None:
    dirs = _candidate_package_dirs(root, package)
    return dirs[0] if dirs else None


def _candidate_package_dirs(root: Path, package: str) -> list[Path]:
    guess = re.sub(r"[-.]", "_", package)
    dirs: list[Path] = []
    for base in (root / "src", root):
        for name in (guess, guess.lower()):
            if (base / name / "__init__.py").is_file() and base / name not in dirs:
                dirs.append(base / name)
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


def _safe_text(path: Path) -> str | None:
    try:
        return _read_text(path, path.name)
    except ConfigError:
        return None


def _detect_version_files(
    root: Path, data: Mapping[str, Any], package_dir: Path | None, notes: list[str]
) -> tuple[list[VersionFile], str | None]:
    """Version files found, and the current version string (from a string, else a tuple)."""
    found: list[VersionFile] = []
    current: str | None = None
    tuple_current: str | None = None
    places = [package_dir / name for name in ("_version.py", "__version__.py", "version.py", "__init__.py")] \
        if package_dir is not None else []
    if package_dir is None:  # one top-level module (six.py, py_modules=["six"]) holding its own __version__
        name = re.sub(r"[-.]", "_", _package_name(root, data))
        modules = dict.fromkeys((name, name.lower()))
        places = [base / f"{module}.py" for base in (root / "src", root) for module in modules]
    for path in places:
        text = _safe_text(path) if path.is_file() else None
        if text is None:
            continue
        relpath = path.relative_to(root).as_posix()
        match = _DUNDER_VERSION_RE.search(text)
        # __version__ = ".".join(...) is code, not a version string.
        if match is not None and _LOOKS_LIKE_VERSION.match(match.group(3)):
            pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
            if _matches_once(text, pattern):
                found.append(VersionFile(relpath, pattern))
                current = current or match.group(3)
                notes.append(f"version: {match.group(3)} in {relpath} ({match.group(1).split('=')[0].strip()})")
        for tuple_match in _VERSION_TUPLE_RE.finditer(text):
            tuple_pattern = f"{tuple_match.group(1)}{VERSION_TUPLE}"
            if not _matches_once(text, tuple_pattern):
                continue
            found.append(VersionFile(relpath, tuple_pattern))
            literal = text[tuple_match.end(1) : tuple_match.end()]
            notes.append(f"version tuple: {literal} in {relpath}")
            if tuple_current is None:
                tuple_current = _tuple_version(literal)
            break
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("version"), str):
        project_pattern = _project_version_pattern(_read_text(root / PYPROJECT, PYPROJECT))
        if project_pattern is not None:
            found.append(VersionFile(PYPROJECT, project_pattern))
            current = current or str(project["version"])
            notes.append(f"version: {project['version']} in {PYPROJECT} [project].version")
    setup_py = root / "setup.py"
    text = _safe_text(setup_py) if setup_py.is_file() else None
    if text:
        matches = [m for m in _SETUP_PY_VERSION_RE.finditer(text) if _LOOKS_LIKE_VERSION.match(m.group(3))]
        if len(matches) == 1:
            match = matches[0]
            pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
            if _matches_once(text, pattern):
                found.append(VersionFile("setup.py", pattern))
                current = current or match.group(3)
                notes.append(f"version: {match.group(3)} in setup.py ({match.group(1).split('=')[0].strip()})")
    current = current or tuple_current
    for conf in _SPHINX_CONFS:
        text = _safe_text(root / conf) if (root / conf).is_file() else None
        if not text:
            continue
        # release (the full version) before version (often its short X.Y form).
        matches = sorted(_SPHINX_VERSION_RE.finditer(text), key=lambda m: not m.group(1).startswith("release"))
        for match in matches:
            name = match.group(1).split("=")[0].strip()
            if not _LOOKS_LIKE_VERSION.match(match.group(3)):
                continue  # version = ".".join(version_info[:2]) is code that derives it, not a version to rewrite
            pattern = f"{match.group(1)}{match.group(2)}{VERSION}{match.group(2)}"
            if current is not None and match.group(3) != current:
                short = f"{match.group(1)}{match.group(2)}{VERSION_SHORT}{match.group(2)}"
                if name == "version" and _is_short_form(match.group(3), current) and _matches_once(text, short):
                    found.append(VersionFile(conf, short))
                    notes.append(f"version: {match.group(3)} in {conf} (version, the short form: kept short)")
                else:
                    notes.append(f"{conf}: {name} = {match.group(3)!r} differs from {current!r}; left alone")
                continue
            if _matches_once(text, pattern):
                found.append(VersionFile(conf, pattern))
                current = current or match.group(3)
                notes.append(f"version: {match.group(3)} in {conf} ({name})")
        break
    return found, current


def _is_short_form(value: str, current: str) -> bool:
    """True when ``value`` is the leading release numbers of ``current``: ``1.4`` of ``1.4.2`` or ``1.4.dev0``."""
    numbers = re.match(r"\d+(?:\.\d+)*", current)
    if not re.fullmatch(r"\d+(?:\.\d+)*", value) or numbers is None:
        return False
    parts, held = value.split("."), numbers.group(0).split(".")
    return len(parts) <= len(held) and held[: len(parts)] == parts


def _tuple_version(literal: str) -> str | None:
    from releaselib.core.errors import VersionError
    from releaselib.core.versions import parse_version_tuple, version_from_tuple

    try:
        return version_from_tuple(parse_version_tuple(literal))
    except VersionError:
        return None


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


def _scm_backend(root: Path, data: Mapping[str, Any]) -> str | None:
    """The tool that takes the version from git tags, when the project uses one."""
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    if "setuptools_scm" in tool:
        return "setuptools-scm ([tool.setuptools_scm])"
    hatch_version = tool.get("hatch", {}).get("version", {}) if isinstance(tool.get("hatch"), dict) else {}
    if isinstance(hatch_version, dict) and hatch_version.get("source") == "vcs":
        return "hatch-vcs ([tool.hatch.version] source = \"vcs\")"
    project = data.get("project")
    dynamic = project.get("dynamic", []) if isinstance(project, dict) else []
    requires = data.get("build-system", {}).get("requires", []) if isinstance(data.get("build-system"), dict) else []
    if "version" in dynamic:
        for requirement in requires:
            for backend in _SCM_BACKENDS:
                if str(requirement).lower().startswith(backend):
                    return f"{backend} (dynamic version, build-system requires {requirement})"
    setup_py = _safe_text(root / "setup.py") if (root / "setup.py").is_file() else None
    if setup_py and re.search(r"\buse_scm_version\s*=", setup_py):
        return "setuptools-scm (use_scm_version in setup.py)"
    if (root / "versioneer.py").is_file():
        return "versioneer (versioneer.py)"
    return None


def _bumpversion_files(root: Path, data: Mapping[str, Any], notes: list[str]) -> tuple[list[VersionFile], str | None]:
    """The files and patterns of an existing bump-my-version / bumpversion / tbump configuration."""
    entries: list[tuple[str, str]] = []
    current: str | None = None
    where = ""
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    toml_sources: list[tuple[str, Any]] = [("[tool.bumpversion] in pyproject.toml", tool.get("bumpversion"))]
    if (root / ".bumpversion.toml").is_file():
        toml_sources.append((".bumpversion.toml", _read_toml(root / ".bumpversion.toml").get("tool", {}).get("bumpversion")))
    for name, table in toml_sources:
        if isinstance(table, dict):
            current = str(table.get("current_version", "")) or None
            default = str(table.get("search", "{current_version}"))
            for item in table.get("files", []):
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    entries.append((item["filename"], str(item.get("search", default))))
            where = name
            break
    for cfg_name in (".bumpversion.cfg", "setup.cfg"):
        if entries or not (root / cfg_name).is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / cfg_name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if not parser.has_section("bumpversion"):
            continue
        current = parser.get("bumpversion", "current_version", fallback="") or None
        for section in parser.sections():
            if section.startswith("bumpversion:file:"):
                search = parser.get(section, "search", fallback="{current_version}")
                entries.append((section.removeprefix("bumpversion:file:"), search))
        where = cfg_name
    if not entries and (root / "tbump.toml").is_file():
        table = _read_toml(root / "tbump.toml")
        current = str(table.get("version", {}).get("current", "")) or None
        for item in table.get("file", []):
            if isinstance(item, dict) and isinstance(item.get("src"), str):
                entries.append((item["src"], str(item.get("search", "{current_version}"))))
        where = "tbump.toml"
    found: list[VersionFile] = []
    # The tool's own record of the current version moves with the release too.
    own = {
        ".bumpversion.cfg": "current_version = {version}",
        "setup.cfg": "current_version = {version}",
        ".bumpversion.toml": 'current_version = "{version}"',
        "[tool.bumpversion] in pyproject.toml": 'current_version = "{version}"',
        "tbump.toml": 'current = "{version}"',
    }
    if entries and where in own:
        config_path = PYPROJECT if where.endswith(PYPROJECT) else where
        entries.append((config_path, own[where].replace("{version}", "{current_version}")))
    for path, search in entries:
        pattern = search.replace("{current_version}", VERSION).replace("{new_version}", VERSION)
        text = _safe_text(root / path) if (root / path).is_file() else None
        if text is None or VERSION not in pattern:
            continue
        if not _matches_once(text, pattern) and current:
            # The default search is the bare version: pin it to the one line that holds it.
            lines = [line.strip() for line in text.splitlines() if current in line]
            if len(lines) == 1 and lines[0].count(current) == 1:
                pattern = lines[0].replace(current, VERSION)
        if _matches_once(text, pattern):
            found.append(VersionFile(path, pattern))
        else:
            notes.append(f"{where}: the search {search!r} does not match exactly once in {path}; left out")
    if found:
        notes.append(f"version files: from {where} ({', '.join(vf.path for vf in found)})")
    return found, current


# -- how the project writes versions ------------------------------------------------


def _marker_style(current: str, root: Path, notes: list[str]) -> dict[str, Any]:
    """The development scheme, plus label and dev suffix the version held now is written in."""
    from releaselib.core.versions import build_backend, dev_suffix_of

    suffix = dev_suffix_of(current)
    if suffix is not None:
        if not re.search(r"\d$", suffix):
            notes.append(f"development marker: {current} ({suffix}, no number: kept)")
        else:
            notes.append(f"development marker: {current} (.devN)")
        return {"dev_scheme": "dev", "dev_suffix": suffix}
    if "+" in current:
        label = current.partition("+")[2]
        if label and _LOCAL_LABEL_RE.match(label):
            notes.append(f"development marker: {current} (+{label})")
            return {"dev_scheme": "plus", "plus_label": label}
        legacy = not (root / PYPROJECT).is_file() or "setup.py" in build_backend(root)
        notes.append(
            f"development marker: {current} (the literal '+', not PEP 440"
            + ("; kept, the setup.py build reads it)" if legacy else "; the build backend may refuse it)")
        )
        return {"dev_scheme": "plus", "plus_label": "", "allow_non_pep440": legacy}
    notes.append(f"development marker: none ({current} is a release version; the release sets the files)")
    return {"dev_scheme": "none"}


def _git_lines(root: Path, *args: str) -> list[str]:
    try:
        result = processes.run(["git", *args], cwd=root, timeout=30, merge_stderr=False)
    except (OSError, processes.CommandTimeout):
        return []
    return result.stdout.splitlines() if result.returncode == 0 else []


def _tag_template(root: Path) -> str | None:
    """``"v{version}"`` or another prefix when the newest release's tag carries it; None for a bare one.

    The newest by version, not the most common: a project that began with bare
    tags and moved to ``v1.0`` tags the next release as it tagged the last.
    Where both forms name the newest version, the more common prefix wins.
    """
    from packaging.version import InvalidVersion, Version

    prefixes: Counter[str] = Counter()
    newest: dict[str, Version] = {}
    tags = _git_lines(root, "tag", "--list")
    if not tags and _git_lines(root, "rev-parse", "--is-shallow-repository") == ["true"]:
        # A shallow CI checkout has no tags: the remote has them.
        refs = _git_lines(root, "ls-remote", "--tags", "--refs", "origin")
        tags = [line.partition("\t")[2].removeprefix("refs/tags/") for line in refs]
    for tag in tags:
        match = re.match(r"^(\D*?)(\d.*)$", tag.strip())
        if not match:
            continue
        try:
            version = Version(match.group(2))
        except InvalidVersion:
            continue
        prefix = match.group(1)
        prefixes[prefix] += 1
        newest[prefix] = max(version, newest.get(prefix, version))
    if not prefixes:
        return None
    prefix = max(prefixes, key=lambda p: (newest[p], prefixes[p]))
    return prefix + "{version}" if prefix else None


def _current_branch(root: Path) -> str | None:
    # symbolic-ref also names the branch of a repository without commits yet,
    # where rev-parse --abbrev-ref HEAD fails; a detached HEAD gives None.
    lines = _git_lines(root, "symbolic-ref", "--short", "-q", "HEAD")
    return lines[0].strip() if lines and lines[0].strip() else None


#: The CPython versions a project may test on today, for a requires-python without classifiers.
_CURRENT_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
_PYTHON_REQUIRES_RE = re.compile(r"""python_requires\s*=\s*['"]([^'"]+)['"]""")


def _requires_python(project: Mapping[str, Any], setup_py: str | None, root: Path) -> SpecifierSet | None:
    """``requires-python`` of [project], else ``python_requires`` of setup.py / setup.cfg; None when absent or unreadable."""
    text = project.get("requires-python")
    if not isinstance(text, str):
        sources = [setup_py or ""]
        if (root / "setup.cfg").is_file():
            sources.append(_safe_text(root / "setup.cfg") or "")
        found = next((m.group(1) for m in map(_PYTHON_REQUIRES_RE.search, sources) if m), None)
        if found is None:
            cfg = re.search(r"^python_requires\s*=\s*(\S.*)$", sources[-1], flags=re.MULTILINE) if len(sources) > 1 else None
            found = cfg.group(1).strip() if cfg else None
        text = found
    if not text:
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _matrix(root: Path, data: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The extension switch a setup.py reads, and the Pythons the classifiers name."""
    matrix: dict[str, Any] = {}
    setup_py = _safe_text(root / "setup.py") if (root / "setup.py").is_file() else None
    if setup_py:
        switch = _NO_EXT_ENV_RE.search(setup_py)
        enable = _ENABLE_EXT_ENV_RE.search(setup_py)
        off = _FALSE_COMPARISON_RE.search(setup_py)
        if switch:
            matrix["no_extension_env"] = switch.group(1)
            notes.append(f"extension switch: {switch.group(1)} (read in setup.py)")
        elif enable and off:
            # Built unless the variable says so: the "without" cells set the value setup.py compares with.
            matrix["no_extension_env"] = f"{enable.group(1)}={off.group(1)}"
            notes.append(f"extension switch: {enable.group(1)}={off.group(1)} (read in setup.py)")
    from releaselib.infra.config.test_requires import detect_test_requires

    tests = detect_test_requires(root, data)
    if tests is not None:
        matrix["test_requires"] = tests[0]
        notes.append(f"test requirements: {', '.join(tests[0])} (from {tests[1]})")
    if "no_extension_env" not in matrix:
        found = _backend_switch(root, data)
        if found is not None:
            matrix["no_extension_env"] = found[0]
            notes.append(f"extension switch: {found[0]} (read in {found[1]})")
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    classifiers = " ".join(str(c) for c in project.get("classifiers", []))
    if not classifiers:
        classifiers = (setup_py or "") + (_safe_text(root / "setup.cfg") or "" if (root / "setup.cfg").is_file() else "")
    pythons = sorted(set(_CLASSIFIER_RE.findall(classifiers)), key=lambda v: tuple(map(int, v.split("."))))
    requires = _requires_python(project, setup_py, root)
    if requires is not None:
        allowed = [v for v in (pythons or _CURRENT_PYTHONS) if requires.contains(f"{v}.0", prereleases=True)]
        if allowed != pythons:
            source = "the classifiers within requires-python" if pythons else "requires-python"
            pythons = allowed
            if pythons:
                matrix["python"] = tuple(pythons)
                matrix["allow_missing"] = tuple(pythons)
                notes.append(f"Pythons: {', '.join(pythons)} (from {source} {requires}; missing ones are skipped)")
                return matrix
    if pythons:
        matrix["python"] = tuple(pythons)
        # The classifiers say what the project supports, not what this machine has.
        matrix["allow_missing"] = tuple(pythons)
        notes.append(f"Pythons: {', '.join(pythons)} (from the classifiers; missing ones are skipped)")
    return matrix


def _backend_switch(root: Path, data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The variable an in-tree build backend (``backend-path``) reads to build without the extension, and where."""
    system = data.get("build-system")
    paths = system.get("backend-path") if isinstance(system, dict) else None
    if not isinstance(paths, list):
        return None
    for folder in paths:
        base = (root / str(folder)).resolve()
        if not base.is_dir() or root not in base.parents and base != root:
            continue
        for path in sorted(base.rglob("*.py")):
            text = _safe_text(path)
            found = _NO_EXT_NAME_RE.search(text) if text else None
            if found:
                return found.group(1), path.relative_to(root).as_posix()
    return None
