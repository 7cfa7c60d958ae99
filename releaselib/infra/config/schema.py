"""The shape of the configuration: TOML reading, keys, types, and the version-file pattern regex."""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from releaselib.core.config_types import (
    AnnounceConfig,
    ApiConfig,
    ApiWaiver,
    Config,
    DocsCheckConfig,
    MatrixConfig,
    PublishConfig,
    VersionFile,
)
from releaselib.core.errors import ConfigError

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]


TABLE = "tool.releaselib"
PYPROJECT = "pyproject.toml"
VERSION = "{version}"
VERSION_TUPLE = "{version_tuple}"
# The short form Sphinx's conf.py keeps beside the full release: version = "2.2" for release = "2.2.1".
VERSION_SHORT = "{version_short}"
DEV_SCHEMES = ("plus", "dev", "none")
VERSION_SOURCES = ("files", "scm")
NEXT_VERSION_POLICIES = ("", "patch", "minor", "major")
CHANGELOG_TOOLS = ("", "towncrier")

#: Where a changelog usually lives, in the order autodetection tries them.
CHANGELOG_CANDIDATES = (
    "CHANGELOG.md",
    "CHANGES.md",
    "CHANGELOG.rst",
    "CHANGES.rst",
    "HISTORY.rst",
    "HISTORY.md",
    "NEWS.rst",
    "NEWS.md",
    "CHANGES.txt",
    "CHANGELOG.txt",
    "HISTORY.txt",
    "NEWS.txt",
    "CHANGES",
    "CHANGELOG",
    "HISTORY",
    "NEWS",
    "doc/changelog.rst",
    "docs/changelog.rst",
    "doc/changes.rst",
    "docs/changes.rst",
    "docs/changelog.md",
    "docs/history.rst",
    "doc/history.rst",
)
_DOCS_CANDIDATES = ("doc/**/*.rst", "docs/**/*.rst", "docs/**/*.md")

# Fields of Config that are not keys of the table: where the project is, and
# whether the table was autodetected, are facts about the load, not settings.
_NOT_KEYS = {"root", "detected", "source", "detection"}
_SUBTABLES: dict[str, type] = {
    "matrix": MatrixConfig,
    "publish": PublishConfig,
    "docs_check": DocsCheckConfig,
    "announce": AnnounceConfig,
    "api": ApiConfig,
}
# Keys render_table always writes, so a maintainer sees the settings that
# matter most even when they hold the default.
_ALWAYS_RENDERED = ("dev_scheme", "tag", "commit_message", "branch", "changelog", "docs", "version_files")

_PLACEHOLDER_RE = re.compile(r"\{version(?:_tuple|_short)?\}")
_CAPTURES = {
    # No braces: a version never holds one, and a pattern quoted in
    # pyproject.toml (pattern = 'version = "{version}"') must not match itself.
    VERSION: r"(?P<value>[^\s\"'{}]+)",
    # Version tuples hold only ints and short strings, never nested parentheses.
    VERSION_TUPLE: r"(?P<value>\([^()]*\))",
    # Only release numbers: the short form never holds a marker.
    VERSION_SHORT: r"(?P<value>\d+(?:\.\d+)*)",
}
# A PEP 440 local label: what may follow the "+" of 2.1+dev.
_LOCAL_LABEL_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$", re.IGNORECASE)
_LOOKS_LIKE_VERSION = re.compile(r"^\d[\w.+!-]*$")
_SKIPPED_PACKAGE_DIRS = {"tests", "test", "testing", "doc", "docs", "examples", "benchmarks", "build", "dist"}


# -- small public helpers ------------------------------------------------------


def suggest(key: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``key`` (a likely typo's intent), or None.

    ``commit_message`` and ``commit-message`` count as the same spelling, so
    a key written with underscores is pointed at its dashed form.
    """
    known = list(known)
    for alternative in (key.replace("_", "-"), key.replace("-", "_")):
        if alternative != key and alternative in known:
            return alternative
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def pattern_regex(pattern: str | VersionFile) -> re.Pattern[str]:
    """The regex that finds a version-file ``pattern``, the version in group ``value``.

    Everything but the placeholder matches literally, except that ``"`` and
    ``'`` each match either quote (only the captured value is ever rewritten,
    so the file keeps its own quote). ``{version}`` captures ``[^\\s"'{}]+`` (braces excluded so that a
    pattern quoted in pyproject.toml never matches itself);
    ``{version_tuple}`` captures a parenthesised tuple literal ``\\([^()]*\\)``;
    ``{version_short}`` captures release numbers only (``2.2``).
    A pattern that starts or ends with a word character does not match inside
    a longer name: ``version = "{version}"`` finds neither ``min_version = ...``
    nor ``target-version = ...``. A :class:`VersionFile` may be passed for its
    pattern.

    Raises :class:`ConfigError` unless the pattern holds exactly one
    placeholder.
    """
    if isinstance(pattern, VersionFile):
        where = f" for {pattern.path}"
        pattern = pattern.pattern
    else:
        where = ""
    placeholders = _PLACEHOLDER_RE.findall(pattern)
    if len(placeholders) != 1:
        raise ConfigError(
            f"The version-file pattern {pattern!r}{where} must contain exactly one {{version}}, "
            f"{{version_tuple}} or {{version_short}} placeholder, found {len(placeholders)}.",
            hint='Write e.g. pattern = \'__version__ = "{version}"\' or pattern = "version_tuple = {version_tuple}".',
        )
    placeholder = placeholders[0]
    before, _, after = pattern.partition(placeholder)
    regex = _literal(before) + _CAPTURES[placeholder] + _literal(after)
    if before[:1].isalnum() or before[:1] == "_":
        regex = r"(?<![\w.-])" + regex
    if after[-1:].isalnum() or after[-1:] == "_":
        regex += r"(?![\w-])"
    return re.compile(regex)


def _literal(text: str) -> str:
    return "".join("[\"']" if char in "\"'" else re.escape(char) for char in text)



def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text.", hint="Save it as UTF-8.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", hint="Check the file's permissions.") from exc
    return _parse_toml(text, path)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    if _tomllib is not None:
        try:
            parsed: dict[str, Any] = _tomllib.loads(text)
            return parsed
        except _tomllib.TOMLDecodeError as exc:
            reason = str(exc)
            found = re.search(r"\(at line (\d+), column (\d+)\)", reason)
            line, column = (found.group(1), found.group(2)) if found else ("?", "?")
            reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", reason)
            raise _syntax_error(path, line, column, reason) from exc
    import tomlkit  # pragma: no cover - Python 3.10
    from tomlkit.exceptions import ParseError  # pragma: no cover

    try:  # pragma: no cover
        return tomlkit.parse(text).unwrap()
    except ParseError as exc:  # pragma: no cover
        raise _syntax_error(path, str(exc.line), str(exc.col), str(exc)) from exc


def _syntax_error(path: Path, line: str, column: str, reason: str) -> ConfigError:
    return ConfigError(
        f"{path} is not valid TOML: line {line}, column {column}: {reason}",
        hint=f"Fix the syntax at {path.name}:{line} (a missing quote, bracket or `=` is the usual cause).",
    )


# -- shape: keys and types ----------------------------------------------------


def _toml_key(name: str) -> str:
    return name.replace("_", "-")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name not in _NOT_KEYS}


def _shape(table: Mapping[str, Any]) -> dict[str, Any]:
    """Check keys and types of the whole table; return field names -> Python values."""
    values = _shape_table(table, Config, TABLE)
    for name, cls in _SUBTABLES.items():
        if name in values:
            values[name] = cls(**values[name])
    return values


def _shape_table(table: Mapping[str, Any], cls: type, where: str) -> dict[str, Any]:
    fields = _field_types(cls)
    known = {_toml_key(name): name for name in fields}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown_key(key, where, list(known))
        name = known[key]
        values[name] = _convert(value, fields[name], key, where)
    return values


def _unknown_key(key: str, where: str, known: list[str]) -> ConfigError:
    nearest = suggest(key, known)
    if nearest:
        return ConfigError(
            f"Unknown key `{key}` in [{where}]; did you mean `{nearest}`?",
            hint=f"Rename `{key}` to `{nearest}`. Known keys: {', '.join(sorted(known))}.",
        )
    return ConfigError(
        f"Unknown key `{key}` in [{where}].",
        hint=f"Remove it, or use one of the known keys: {', '.join(sorted(known))}.",
    )


def _convert(value: Any, typ: Any, key: str, where: str) -> Any:
    """``value`` as the Python value of a field of type ``typ``, or a ConfigError."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        # TOML has no null: an optional key is either absent or of the inner type.
        (inner,) = [arg for arg in typing.get_args(typ) if arg is not type(None)]
        return _convert(value, inner, key, where)
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise _wrong_type(key, where, "a boolean (true or false)", value, f"{key} = true")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong_type(key, where, "an integer", value, f"{key} = {_unquoted_example(value, '25')}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _wrong_type(key, where, "a number (seconds)", value, f"{key} = {_unquoted_example(value, '60')}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise _wrong_type(key, where, "a string", value, f'{key} = "..."')
    if origin is tuple:
        item_type = typing.get_args(typ)[0]
        if item_type is VersionFile:
            return _convert_version_files(value, key, where)
        if item_type is ApiWaiver:
            return _convert_waivers(value, key, where)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        example = f'{key} = ["{value}"]' if isinstance(value, str) else f'{key} = ["...", "..."]'
        raise _wrong_type(key, where, "an array of strings", value, example)
    if dataclasses.is_dataclass(typ):
        if not isinstance(value, dict):
            raise _wrong_type(key, where, "a table", value, f"a [{where}.{key}] section")
        return _shape_table(value, typing.cast(type, typ), f"{where}.{key}")
    raise AssertionError(f"config_types uses a type the parser does not know: {typ!r}")  # pragma: no cover


def _convert_version_files(value: Any, key: str, where: str) -> tuple[VersionFile, ...]:
    example = f'[[{where}.{key}]] sections, each with path = "..." and pattern = "..."'
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _wrong_type(key, where, "an array of tables", value, example)
    entries = []
    entry_where = f"[{where}.{key}]"
    known = ["path", "pattern"]
    for item in value:
        for entry_key in item:
            if entry_key not in known:
                raise _unknown_key(entry_key, entry_where, known)
        for entry_key in known:
            if entry_key not in item:
                raise ConfigError(
                    f"Missing key `{entry_key}` in an entry of [{entry_where}].",
                    hint='Each entry needs path = "src/pkg/__init__.py" and pattern = \'__version__ = "{version}"\'.',
                )
            if not isinstance(item[entry_key], str):
                raise _wrong_type(entry_key, entry_where, "a string", item[entry_key], f'{entry_key} = "..."')
        entries.append(VersionFile(path=item["path"], pattern=item["pattern"]))
    return tuple(entries)


def _convert_waivers(value: Any, key: str, where: str) -> tuple[ApiWaiver, ...]:
    example = f'[[{where}.{key}]] sections, each with object = "pkg.name" and reason = "why"'
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _wrong_type(key, where, "an array of tables", value, example)
    waivers = []
    for item in value:
        fields = _shape_table(item, ApiWaiver, f"{where}.{key}")
        for required in ("object", "reason"):
            if not str(fields.get(required) or "").strip():
                raise ConfigError(
                    f"An entry of [[{where}.{key}]] has no `{required}`"
                    + (f" (object {fields['object']!r})." if fields.get("object") else "."),
                    hint='A waiver names the object and says why: object = "pkg.old", reason = "removed early: ...".',
                )
        waivers.append(ApiWaiver(**fields))
    return tuple(waivers)


def _describe(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, dict):
        return kind
    shown = repr(value) if not isinstance(value, str) else f'"{value}"'
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{kind} ({shown})"


def _unquoted_example(value: Any, fallback: str) -> str:
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return value.strip()
    return fallback


def _wrong_type(key: str, where: str, expected: str, value: Any, example: str) -> ConfigError:
    return ConfigError(
        f"Key `{key}` in [{where}] must be {expected}, got {_describe(value)}.",
        hint=f"Write {example}.",
    )



def _read_text(path: Path, display: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display} is not UTF-8 text.", hint="Save it as UTF-8 or remove it from the configuration.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read {display}: {exc}", hint="Check the file's permissions.") from exc


