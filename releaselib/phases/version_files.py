"""Version files and docs markers: reading the version a project holds, and the actions that
rewrite only the version text they target (every other byte of the file stays as it was).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releaselib.core.config_types import Config, VersionFile
from releaselib.core.errors import ConfigError, VersionError
from releaselib.core.plan import Action
from releaselib.core.versions import (
    format_version_tuple,
    parse_version_tuple,
    version_from_tuple,
    version_tuple,
)
from releaselib.infra.config import pattern_regex

if TYPE_CHECKING:
    pass

VERSION = "{version}"
VERSION_TUPLE = "{version_tuple}"
VERSION_SHORT = "{version_short}"


# -- files ------------------------------------------------------------------


def _read_text(path: Path, display: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{display} does not exist.",
            hint="Fix the path in [tool.releaselib] (paths are relative to the project root).",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read {display}: {exc}") from exc
    try:
        # Decoding then re-encoding valid UTF-8 gives back the same bytes,
        # BOM and \r\n included, so edits touch nothing but the version.
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display} is not UTF-8 text.", hint="Save it as UTF-8 or remove it from the configuration.") from exc


def _inside(root: Path, relpath: str) -> Path:
    """``root / relpath``, refusing (ConfigError) a path that is, or passes through, a link leaving ``root``."""
    path = Path(root) / relpath
    target = path.resolve()
    if target != Path(root).resolve() and Path(root).resolve() not in target.parents:
        raise ConfigError(
            f"{relpath} is a link to {target}, outside the repository; releaselib never writes through it.",
            hint="Point the configuration at the file inside the repository, or make the link point inside it.",
        )
    return path


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 through a temporary file, so a crash never leaves half a file.

    A symbolic link (inside the repository, see :func:`_inside`) stays a link:
    its target is written.
    """
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- patterns ---------------------------------------------------------------


def pattern_placeholder(vf: VersionFile) -> str:
    """The placeholder in ``vf.pattern``: ``{version}``, ``{version_tuple}`` or ``{version_short}``.

    Raises :class:`ConfigError` unless the pattern holds exactly one of them.
    """
    count = sum(vf.pattern.count(p) for p in (VERSION, VERSION_TUPLE, VERSION_SHORT))
    if count != 1:
        raise ConfigError(
            f"The pattern {vf.pattern!r} for {vf.path} must contain exactly one placeholder, found {count}.",
            hint='Write e.g. pattern = \'__version__ = "{version}"\' or "version_tuple = {version_tuple}".',
        )
    return next(p for p in (VERSION, VERSION_TUPLE, VERSION_SHORT) if p in vf.pattern)


def short_version(version: str, old_value: str) -> str:
    """``version``'s release numbers, as many as the short form ``old_value`` holds.

    Short stays short: ``2.3.1.dev0`` over ``2.2`` gives ``2.3``; ``3.0`` over ``2.2.1`` gives ``3.0.0``.
    """
    match = re.match(r"\d+(?:\.\d+)*", version.partition("!")[2] or version)
    if match is None:
        raise VersionError(f"{version!r} does not start with release numbers.")
    numbers = match.group(0).split(".")
    width = old_value.count(".") + 1
    return ".".join((numbers + ["0"] * width)[:width])


def _label(vf: VersionFile) -> str:
    """A short name for what the pattern sets, for descriptions: ``__version__``."""
    placeholder = pattern_placeholder(vf)
    before = vf.pattern.partition(placeholder)[0]
    name = before.strip().rstrip("=:\"' ").strip()
    return name or vf.pattern


def _find_one(text: str, vf: VersionFile) -> re.Match[str]:
    matches = list(pattern_regex(vf).finditer(text))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(
            f"The pattern {vf.pattern!r} matches nothing in {vf.path}.",
            hint="Check the path and the pattern in [[tool.releaselib.version-files]]; "
            "the pattern must match the line exactly, with {version} where the version stands.",
        )
    lines = sorted({text.count("\n", 0, m.start()) + 1 for m in matches})
    raise ConfigError(
        f"The pattern {vf.pattern!r} matches {len(matches)} times in {vf.path} (lines {', '.join(map(str, lines))}).",
        hint="Make the pattern more specific so it matches exactly one place, e.g. include the whole assignment.",
    )


def _render(placeholder: str, version: str, old_value: str) -> str:
    """The text that replaces ``old_value`` for ``version``, in the old text's quote and shape.

    A tuple that joined the marker to its last part (``(2, 2, 'rc1+')``) keeps
    doing so: ``2.3rc1+`` becomes ``(2, 3, 'rc1+')``, not ``(2, 3, 'rc1', '+')``.
    """
    if placeholder == VERSION:
        return version
    if placeholder == VERSION_SHORT:
        return short_version(version, old_value)
    quote = next((char for char in old_value if char in "\"'"), "'")
    parts = list(version_tuple(version))
    joined = re.search(r"[\"'][A-Za-z]+\d*\+[\"']", old_value) is not None
    if joined and len(parts) >= 2 and parts[-1] == "+" and isinstance(parts[-2], str):
        parts[-2:] = [f"{parts[-2]}+"]
    quoted_numbers = re.match(r"\(\s*[\"']\d", old_value) is not None  # ("2", "4", "0", "rc1")
    return format_version_tuple(tuple(parts), quote, quote_numbers=quoted_numbers)


def _same_value(placeholder: str, old_value: str, new_value: str) -> bool:
    if placeholder != VERSION_TUPLE:
        return old_value == new_value
    try:
        return parse_version_tuple(old_value) == parse_version_tuple(new_value)
    except VersionError:
        return False


# -- reading ----------------------------------------------------------------


def reading_file(config: Config) -> VersionFile:
    """The version file the current version is read from: the first ``{version}`` one, else a tuple.

    A short ``{version_short}`` form never tells the whole version. Raises
    :class:`ConfigError` when only short forms are configured.
    """
    for wanted in (VERSION, VERSION_TUPLE):
        for vf in config.version_files:
            if pattern_placeholder(vf) == wanted:
                return vf
    raise ConfigError(
        "Every version file holds the short form ({version_short}); none tells the whole version.",
        hint="Add the file that holds the full version: [[version-files]] with a {version} or {version_tuple} pattern.",
    )


def read_current_version(config: Config) -> str:
    """The version the project holds now, as a string.

    Read from the first version file whose pattern has ``{version}``; when
    there is none, from the first ``{version_tuple}`` file, rendered back to a
    string (``(2, 1, 1, '+')`` -> ``2.1.1+dev`` with ``plus_label = "dev"``).
    Raises :class:`ConfigError` when no version files are configured, or a
    file is missing or its pattern matches nothing or more than once.
    """
    if not config.version_files:
        raise ConfigError(
            "No version files are configured.",
            hint='Add [[tool.releaselib.version-files]] with path = "src/pkg/__init__.py" and '
            "pattern = '__version__ = \"{version}\"'.",
        )
    vf = reading_file(config)
    text = _read_text(_inside(config.root, vf.path), vf.path)
    value = _find_one(text, vf).group("value")
    if pattern_placeholder(vf) == VERSION:
        return value
    return version_from_tuple(parse_version_tuple(value), config.plus_label)


# -- actions ----------------------------------------------------------------


@dataclass
class VersionFileEdit(Action):
    """Set the version in one version file, rewriting only the version text."""

    config: Config
    file: VersionFile
    version: str
    placeholder: str = field(init=False)
    old_value: str = field(init=False)
    new_value: str = field(init=False)

    def __post_init__(self) -> None:
        self.placeholder = pattern_placeholder(self.file)
        self.old_value = self._current().group("value")
        self.new_value = _render(self.placeholder, self.version, self.old_value)

    @property
    def path(self) -> Path:
        return _inside(self.config.root, self.file.path)

    def _current(self) -> re.Match[str]:
        return _find_one(_read_text(self.path, self.file.path), self.file)

    def describe(self) -> str:
        if self.placeholder == VERSION:
            change = f'"{self.old_value}" -> "{self.new_value}"'
        else:
            change = f"{self.old_value} -> {self.new_value}"
        return f"{self.file.path}: {_label(self.file)} {change}"

    def is_done(self) -> bool:
        return _same_value(self.placeholder, self._current().group("value"), self.new_value)

    def apply(self) -> None:
        text = _read_text(self.path, self.file.path)
        match = _find_one(text, self.file)
        new_value = _render(self.placeholder, self.version, match.group("value"))
        start, end = match.span("value")
        _write_text(self.path, text[:start] + new_value + text[end:])


def marker_regex(markers: list[str]) -> re.Pattern[str]:
    """A regex matching any of ``markers`` as a whole version, longest first.

    Not preceded by a word character or ``.``, not followed by a word
    character or by ``.`` and a digit: ``2.1+`` does not match in ``12.1+``,
    ``Python 2.5+`` (a different version) or ``2.1+dev`` (a longer one).
    """
    ordered = sorted(dict.fromkeys(markers), key=len, reverse=True)
    alternatives = "|".join(re.escape(marker) for marker in ordered)
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w|\.\d)")


@dataclass
class MarkerReplace(Action):
    """Replace every development-version marker in one file with the release version.

    ``protected`` are version-file patterns for the same file: the versions
    they capture belong to a :class:`VersionFileEdit` and are left alone here.
    """

    config: Config
    relpath: str
    markers: list[str]
    version: str
    protected: tuple[VersionFile, ...] = ()
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self._matches(self._text()))

    @property
    def path(self) -> Path:
        return _inside(self.config.root, self.relpath)

    def _text(self) -> str:
        return _read_text(self.path, self.relpath)

    def _matches(self, text: str) -> list[re.Match[str]]:
        spans: list[tuple[int, int]] = []
        for vf in self.protected:
            spans.extend(m.span("value") for m in pattern_regex(vf).finditer(text))
        return [
            m
            for m in marker_regex(self.markers).finditer(text)
            if not any(start < m.end() and m.start() < end for start, end in spans)
        ]

    def describe(self) -> str:
        shown = " / ".join(f'"{marker}"' for marker in self.markers)
        plural = "" if self.count == 1 else "s"
        return f'{self.relpath}: {self.count} marker{plural} {shown} -> "{self.version}"'

    def is_done(self) -> bool:
        return not self._matches(self._text())

    def apply(self) -> None:
        text = self._text()
        pieces: list[str] = []
        last = 0
        for match in self._matches(text):
            pieces.append(text[last : match.start()])
            pieces.append(self.version)
            last = match.end()
        pieces.append(text[last:])
        _write_text(self.path, "".join(pieces))
