"""Replace the development version with the release, and set the next one.

Seed steps 3, 4 and 11: every ``2.1+`` in the docs becomes ``2.2``, the
version files say ``2.2``; after the release they say ``2.2+dev`` (or
``2.2+``, or ``2.3.dev0``).

Each edit rewrites only the version text it targets: every other byte of the
file (quotes, spacing, CRLF line endings, a missing final newline, a BOM)
stays as it was, so the BUMP commit's diff shows nothing but versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from releaselib.core.config_types import Config
from releaselib.core.errors import ConfigError, VersionError
from releaselib.core.plan import Action, Plan
from releaselib.core.versions import (
    check_writable,
    dev_markers,
    is_dev_version,
    next_dev_version,
    parse_version_tuple,
    release_base,
    version_from_tuple,
    version_tuple,
)
from releaselib.infra.config import pattern_regex

if TYPE_CHECKING:
    from releaselib.engine.context import Release

from releaselib.phases.version_files import (
    VERSION,
    MarkerReplace,
    VersionFileEdit,
    _find_one,
    _inside,
    _read_text,
    marker_regex,
    pattern_placeholder,
    read_current_version,
    reading_file,
)

# -- plans ------------------------------------------------------------------


def docs_files(config: Config) -> list[str]:
    """Repo-relative paths of the files the ``docs`` globs match, sorted, without ``.git``.

    Raises :class:`ConfigError` for a glob that is absolute or leaves the project.
    """
    found: set[str] = set()
    root = Path(config.root)
    for pattern in config.docs:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ConfigError(
                f"The docs glob {pattern!r} must stay inside the project.",
                hint='Write globs relative to the project root, e.g. "doc/**/*.rst".',
            )
        try:
            matches = list(root.glob(pattern))
        except (ValueError, NotImplementedError) as exc:
            raise ConfigError(f"The docs glob {pattern!r} is not valid: {exc}") from exc
        for path in matches:
            rel = path.relative_to(root)
            if ".git" in rel.parts or not path.is_file():
                continue
            found.add(rel.as_posix())
    return sorted(found)


def _docs_file_skipped(config: Config, relpath: str, markers: list[str]) -> str | None:
    """Why a docs-glob file is left alone (None: it is scanned for markers).

    A file git considers binary (a NUL byte in its first 8000 bytes) is never
    touched, and a link leaving the repository is never followed. A file that
    is not UTF-8 is skipped when it holds no marker and refused (ConfigError)
    when it does: skipping it would leave the stale marker in the release.
    """
    try:
        path = _inside(config.root, relpath)
    except ConfigError:
        return "a link that leaves the repository"
    data = path.read_bytes()
    if b"\0" in data[:8000]:
        return "binary (git treats it so); never rewritten"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        held = [marker for marker in markers if marker.encode("utf-8") in data]
        if held:
            raise ConfigError(
                f"{relpath} holds the development marker {held[0]!r} but is not UTF-8 text, so it cannot be "
                "rewritten safely.",
                hint=f"Save {relpath} as UTF-8 (or replace the marker by hand), or exclude it from the docs globs.",
            ) from None
        return "not UTF-8 text and holds no marker"
    return None


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return version_tuple(a) == version_tuple(b)
    except VersionError:
        return False


def _version_file_edits(config: Config, version: str) -> list[VersionFileEdit]:
    if any(pattern_placeholder(vf) == VERSION for vf in config.version_files):
        check_writable(version, config)
    return [VersionFileEdit(config, vf, version) for vf in config.version_files]


def plan_release_bump(release: Release) -> Plan:
    """The plan that replaces the development version with ``release.version``.

    Every file the ``docs`` globs match that holds a development marker
    (:func:`~releaselib.core.versions.dev_markers` of the current version) gets a
    :class:`MarkerReplace`; then every version file gets a
    :class:`VersionFileEdit` to the release (tuples become
    ``version_tuple(release.version)``). The version files come last, so an
    interrupted run still finds the old version and its markers when run again.
    Where the version files already hold the release, the plan has only the
    version-file edits, and they report done.

    Raises :class:`ConfigError` (no version files, a pattern that does not
    match exactly once, a version the build cannot read) and
    :class:`VersionError` when the version files hold neither a development
    version nor the release.
    """
    config: Config = release.config
    version: str = release.version
    if config.version_source == "scm":
        return _nothing_to_write(config, f"Bump {config.package} to {version}")
    edits = _version_file_edits(config, version)
    plan = Plan(f"Bump {config.package} to {version}")
    current = read_current_version(config)
    if not _same_version(current, version):
        if not is_dev_version(current, config.dev_scheme):
            # Files holding the last release (no development marker): the
            # release only sets the version files, when it is newer.
            if not (_is_pep440(current) and _is_pep440(version) and Version(version) > Version(current)):
                example = (
                    f" (e.g. {_dev_after(config, current, config.dev_scheme)!r})"
                    if _is_pep440(current) and config.dev_scheme != "none"
                    else ""
                )
                raise VersionError(
                    f"The version files hold {current!r}, which is neither a development version "
                    f"of the {config.dev_scheme!r} scheme nor a release older than {version}.",
                    hint=f"Set the development version{example} as the post-release phase would, "
                    f"or check dev-scheme in [tool.releaselib]; releasing {version} from {current} looks wrong.",
                )
            plan.extend(edits)
            return plan
        _check_release_follows(current, version, config.dev_scheme)
        markers = dev_markers(current, config.dev_scheme)
        for relpath in docs_files(config):
            skipped = _docs_file_skipped(config, relpath, markers)
            if skipped:
                plan.notes.append(f"{relpath}: skipped, {skipped}")
                continue
            protected = tuple(vf for vf in config.version_files if Path(vf.path).as_posix() == relpath)
            action = MarkerReplace(config, relpath, markers, version, protected)
            if action.count:
                plan.add(action)
    plan.extend(edits)
    return plan


def _check_release_follows(current: str, version: str, scheme: str) -> None:
    """Refuse a release the development version does not lead to (3.0.3 while main says 3.1.0.dev)."""
    base = release_base(current, scheme)
    if not (_is_pep440(base) and _is_pep440(version)):
        return
    if scheme == "dev":  # 2.2.dev0 leads to 2.2 (or a pre-release of it)
        wrong = Version(Version(version).base_version) < Version(Version(base).base_version)
    else:  # 2.1+ follows 2.1
        wrong = Version(version) <= Version(base)
    if wrong:
        relation = "leads to" if scheme == "dev" else "follows"
        raise VersionError(
            f"The version files hold the development version {current!r}, which {relation} {base}; "
            f"releasing {version} from it would go backwards.",
            hint=f"Release {version} from the branch that holds its development version (a maintenance branch), "
            f"or release a version of the {base} line.",
        )


def nothing_to_write(config: Config) -> str | None:
    """Why the version files need no edit at all (the tag is the version), or None."""
    if config.version_source == "scm":
        return "the version comes from the git tag (version-source = \"scm\"); no file holds it"
    if config.dev_scheme == "none":
        return "the files keep the release until the next one (dev-scheme = \"none\")"
    return None


def _nothing_to_write(config: Config, title: str) -> Plan:
    plan = Plan(title)
    reason = nothing_to_write(config) or ""
    plan.add(_Note(f"nothing to write: {reason}"))
    return plan


@dataclass
class _Note(Action):
    """A plan entry that changes nothing and says why."""

    text: str

    def describe(self) -> str:
        return self.text

    def is_done(self) -> bool:
        return True

    def apply(self) -> None:  # pragma: no cover - never pending
        pass


def _is_pep440(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _dev_after(config: Config, version: str, scheme: str, policy: str = "") -> str:
    """The development version after ``version``, in the project's own marker form."""
    return next_dev_version(version, scheme, config.plus_label, policy, config.dev_suffix)


def next_version(release: Release, override: str | None = None) -> str:
    """The development version that follows the release: ``override``, else the scheme's next."""
    config: Config = release.config
    if override:
        return override
    if nothing_to_write(config):
        return release.version
    return _dev_after(config, release.version, config.dev_scheme, config.next_version)


def plan_next_dev(release: Release, next_version: str | None = None) -> Plan:
    """The plan that sets the version files to the next development version.

    ``next_version`` defaults to :func:`~releaselib.core.versions.next_dev_version`
    of the release (``2.2+dev``, ``2.2+`` or ``2.3.dev0``). Raises
    :class:`ConfigError` when the build could not read it, and
    :class:`VersionError` when a given ``next_version`` is not a development
    version of the scheme, or (dev scheme) does not sort after the release.
    """
    config: Config = release.config
    scheme = config.dev_scheme
    if nothing_to_write(config) and (not next_version or next_version == release.version):
        return _nothing_to_write(config, f"Keep {config.package} at {release.version}")
    if scheme == "none":
        scheme = "dev"  # an explicit next_version on a "none" project is a .devN one
    target = next_version or _dev_after(config, release.version, scheme, config.next_version)
    if not is_dev_version(target, scheme):
        raise VersionError(
            f"{target!r} is not a development version of the {scheme!r} scheme.",
            hint=f"Use {_dev_after(config, release.version, scheme)!r}, or leave next_version unset.",
        )
    if scheme == "dev":
        try:
            newer = Version(target) > Version(release.version)
        except InvalidVersion as exc:
            raise VersionError(f"{target!r} is not a valid PEP 440 version.") from exc
        if not newer:
            raise VersionError(
                f"The next development version {target!r} does not sort after the release {release.version!r}.",
                hint=f"Use {_dev_after(config, release.version, scheme)!r}, or leave next_version unset.",
            )
    elif not _is_pep440(release_base(target, scheme)):
        raise VersionError(f"{target!r} does not start with a PEP 440 version.")
    plan = Plan(f"Set {config.package} to the next development version {target}")
    plan.extend(_version_file_edits(config, target))
    return plan


def changed_paths(plan: Plan) -> list[str]:
    """Repo-relative paths (posix) of every file the plan's edits touch, in plan order, once each."""
    paths: list[str] = []
    for action in plan.actions:
        if isinstance(action, VersionFileEdit):
            paths.append(Path(action.file.path).as_posix())
        elif isinstance(action, MarkerReplace):
            paths.append(Path(action.relpath).as_posix())
    return list(dict.fromkeys(paths))


# -- what the bump changed, robust to an interrupted earlier attempt ------------
#
# The bump phase commits nothing (04 does), so HEAD still holds the project as
# it was before the bump. Reading "before" from HEAD rather than from the
# working tree gives the same recorded values whether this attempt did the
# edits or an earlier, killed attempt did some of them.


def _head_text(config: Config, relpath: str) -> str | None:
    """``relpath``'s text at HEAD, None when the project is no git repository or HEAD lacks it."""
    from releaselib.infra import processes

    try:
        proc = processes.run(["git", "show", f"HEAD:{Path(relpath).as_posix()}"], cwd=config.root, timeout=60,
                             merge_stderr=False, text=False)  # fmt: skip
    except (OSError, processes.CommandTimeout):
        return None
    if proc.returncode != 0:
        return None
    return proc.data.decode("utf-8", errors="replace")


def version_before_bump(release: Release) -> str:
    """The version the project held before this release's bump: read from HEAD's version files.

    Falls back to the working tree (:func:`read_current_version`) when HEAD
    cannot be read. Raises :class:`ConfigError` as :func:`read_current_version`.
    """
    config: Config = release.config
    if config.version_source == "scm":
        from releaselib.phases.preflight import last_release

        return last_release(release) or "(none)"
    if not config.version_files:
        return read_current_version(config)
    vf = reading_file(config)
    text = _head_text(config, vf.path)
    if text is None:
        return read_current_version(config)
    try:
        value = _find_one(text, vf).group("value")
    except ConfigError:
        return read_current_version(config)
    if pattern_placeholder(vf) == VERSION:
        return value
    return version_from_tuple(parse_version_tuple(value), config.plus_label)


def bumped_paths(release: Release, plan: Plan) -> list[str]:
    """Every file the release bump changes, in plan order, whoever did the edit.

    The plan's own files, plus each docs file that held a development marker
    at HEAD and differs from HEAD now (an interrupted earlier attempt already
    replaced its markers, so this attempt's plan no longer lists it).
    """
    config: Config = release.config
    planned = changed_paths(plan)
    try:
        before = version_before_bump(release)
    except ConfigError:
        return planned
    if not is_dev_version(before, config.dev_scheme):
        return planned
    regex = marker_regex(dev_markers(before, config.dev_scheme))
    version_paths = [Path(vf.path).as_posix() for vf in config.version_files]
    planned_docs = {Path(a.relpath).as_posix() for a in plan.actions if isinstance(a, MarkerReplace)}
    docs: list[str] = []
    for relpath in docs_files(config):
        if relpath in planned_docs:
            docs.append(relpath)
            continue
        head = _head_text(config, relpath)
        if head is None:
            continue
        protected = [vf for vf in config.version_files if Path(vf.path).as_posix() == relpath]
        spans = [m.span("value") for vf in protected for m in pattern_regex(vf).finditer(head)]
        had_marker = any(
            not any(start < m.end() and m.start() < end for start, end in spans) for m in regex.finditer(head)
        )
        try:
            now = _read_text(config.root / relpath, relpath)
        except ConfigError:
            continue
        if had_marker and now != head:
            docs.append(relpath)
    rest = [path for path in planned if path not in docs]
    ordered = docs + [path for path in version_paths if path in rest] + [p for p in rest if p not in version_paths]
    return list(dict.fromkeys(ordered))
