"""Read ``[tool.releaselib]``: parse, check shape, check meaning, freeze.

The schema is :mod:`releaselib.core.config_types`: every dataclass field is a key,
spelled with ``-`` instead of ``_`` (``commit_message`` -> ``commit-message``),
and the nested dataclasses are the sub-tables ``[tool.releaselib.matrix]``,
``.publish``, ``.docs-check`` and ``.announce``. A project without the table
is autodetected (:func:`detect_config`); ``releaselib init``
(:func:`write_init`) writes what was detected into ``pyproject.toml`` so the
maintainer can read and adjust it.

Every problem is a :class:`~releaselib.core.errors.ConfigError` naming the table,
the key or the file, with a hint saying what to write instead.
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlparse

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
from releaselib.infra import processes

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]

__all__ = [
    "TABLE",
    "CHANGELOG_CANDIDATES",
    "OVERRIDES_ENV",
    "config_overrides",
    "load_config",
    "detect_config",
    "render_table",
    "write_init",
    "pattern_regex",
    "suggest",
]

TABLE = "tool.releaselib"
PYPROJECT = "pyproject.toml"
VERSION = "{version}"
VERSION_TUPLE = "{version_tuple}"
DEV_SCHEMES = ("plus", "dev")

#: Where a changelog usually lives, in the order autodetection tries them.
CHANGELOG_CANDIDATES = (
    "CHANGELOG.md",
    "CHANGES.md",
    "CHANGELOG.rst",
    "CHANGES.rst",
    "HISTORY.rst",
    "doc/changelog.rst",
    "docs/changelog.rst",
)
_DOCS_CANDIDATES = ("doc/**/*.rst", "docs/**/*.rst", "docs/**/*.md")

# Fields of Config that are not keys of the table: where the project is, and
# whether the table was autodetected, are facts about the load, not settings.
_NOT_KEYS = {"root", "detected"}
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

_PLACEHOLDER_RE = re.compile(r"\{version(?:_tuple)?\}")
_CAPTURES = {
    # No braces: a version never holds one, and a pattern quoted in
    # pyproject.toml (pattern = 'version = "{version}"') must not match itself.
    VERSION: r"(?P<value>[^\s\"'{}]+)",
    # Version tuples hold only ints and short strings, never nested parentheses.
    VERSION_TUPLE: r"(?P<value>\([^()]*\))",
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
    ``{version_tuple}`` captures a parenthesised tuple literal ``\\([^()]*\\)``.
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
            f"The version-file pattern {pattern!r}{where} must contain exactly one {{version}} "
            f"or {{version_tuple}} placeholder, found {len(placeholders)}.",
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


# -- loading -------------------------------------------------------------------


def load_config(repo: Path) -> Config:
    """The validated, frozen configuration of the project at ``repo``.

    Reads ``[tool.releaselib]`` from ``repo/pyproject.toml``; when the file has
    no such table the layout is autodetected (``Config.detected`` is True).

    Raises :class:`ConfigError` when pyproject.toml is missing or not TOML, a
    key is unknown or of the wrong type, a template lacks ``{version}``, a
    version file, changelog or docs glob names nothing, a version pattern does
    not match exactly once, or the package name cannot be found.
    """
    root = Path(repo).resolve()
    path = root / PYPROJECT
    if not path.is_file():
        raise ConfigError(
            f"No {PYPROJECT} in {root}.",
            hint="Run `releaselib init` in the project to write one with a detected [tool.releaselib] table.",
        )
    data = _read_toml(path)
    table = data.get("tool", {}).get("releaselib") if isinstance(data.get("tool"), dict) else None
    overrides = config_overrides()
    if table is None and overrides:
        raise ConfigError(
            f"{OVERRIDES_ENV} is set, but {path} has no [{TABLE}] table to override.",
            hint="Run `releaselib init` to write one (and commit it), or unset the variable.",
        )
    if table is None:
        return detect_config(root)
    if overrides and isinstance(table, dict):
        table = _merged(table, overrides)
        data = {**data, "tool": {**data["tool"], "releaselib": table}}
    if not isinstance(table, dict):
        raise ConfigError(
            f"[{TABLE}] in {path} must be a table, got {_describe(table)}.",
            hint="Write it as a [tool.releaselib] section with one key per line.",
        )
    values = _shape(table)
    return _freeze(root, data, values)


#: Environment variable holding a JSON object merged over ``[tool.releaselib]``
#: (sub-tables key by key). A rehearsal points a release at local servers with
#: it without committing anything; it reaches kernels through their
#: environment. Credentials never go here: the table only names variables.
OVERRIDES_ENV = "RELEASELIB_CONFIG_OVERRIDES"


def config_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The overrides in :data:`OVERRIDES_ENV` (``{}`` when unset). ConfigError when not a JSON object."""
    import json

    raw = (os.environ if environ is None else environ).get(OVERRIDES_ENV, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{OVERRIDES_ENV} is not valid JSON: {exc}",
            hint=f'Set it to a JSON object in the shape of [{TABLE}], e.g. {{"publish": {{"index-url": "..."}}}}, or unset it.',
        ) from exc
    if not isinstance(value, dict):
        raise ConfigError(
            f"{OVERRIDES_ENV} must hold a JSON object, got {_describe(value)}.",
            hint=f"Write it in the shape of [{TABLE}], or unset it.",
        )
    return value


def _merged(table: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(table)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


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


# -- meaning -----------------------------------------------------------------------


def _freeze(root: Path, data: Mapping[str, Any], values: dict[str, Any], *, detected: bool = False) -> Config:
    """Check what the values mean, derive package names, and build the Config."""
    values = dict(values)
    if "package" not in values:
        values["package"] = _package_name(root, data)
    if "import_name" not in values:
        values["import_name"] = _import_name(values.get("version_files", ()), values["package"])
    config = Config(root=root, detected=detected, **values)
    _check_meaning(config, data)
    return config


def _check_meaning(config: Config, data: Mapping[str, Any]) -> None:
    where = f"[{TABLE}]"
    if config.dev_scheme not in DEV_SCHEMES:
        raise ConfigError(
            f"`dev-scheme` in {where} must be one of {', '.join(map(repr, DEV_SCHEMES))}, got {config.dev_scheme!r}.",
            hint='Use dev-scheme = "plus" (2.1 -> 2.1+dev after releasing 2.1) or "dev" (2.2.dev0).',
        )
    if config.plus_label and not _LOCAL_LABEL_RE.match(config.plus_label):
        raise ConfigError(
            f"`plus-label` in {where} must be a PEP 440 local label (letters, digits, and . _ - between them), "
            f"got {config.plus_label!r}.",
            hint='Use plus-label = "dev" (2.1+dev), or "" for the literal 2.1+ of a legacy setup.py project.',
        )
    from releaselib.core.versions import check_buildable

    check_buildable(config)

    for key, template in (
        ("tag", config.tag),
        ("commit-message", config.commit_message),
        ("post-release-message", config.post_release_message),
    ):
        _check_template(key, where, template, ("version",), require="version")
    _check_template("subject", f"[{TABLE}.announce]", config.announce.subject, ("version", "package"))

    for name in ("package", "import_name", "branch", "remote"):
        if not getattr(config, name).strip():
            raise ConfigError(f"`{_toml_key(name)}` in {where} must not be empty.", hint=f"Set {_toml_key(name)} = \"...\".")
    if not config.import_name.isidentifier():
        raise ConfigError(
            f"`import-name` {config.import_name!r} is not a Python identifier.",
            hint='Set import-name = "<the name you import>" in [tool.releaselib].',
        )

    _check_version_files(config)
    _check_static_project_version(config, data)

    if config.changelog is not None:
        path = _inside(config.root, config.changelog, "changelog")
        if not path.is_file() and config.changelog_required:
            raise ConfigError(
                f"The changelog {config.changelog} (`changelog` in {where}) does not exist.",
                hint=f"Create {config.changelog}, or set changelog-required = false in {where}.",
            )

    for pattern in config.docs:
        if not _glob_matches_a_file(config.root, pattern):
            raise ConfigError(
                f"The docs glob {pattern!r} (`docs` in {where}) matches no file.",
                hint="Fix or remove the glob; globs are relative to the project root, e.g. \"doc/**/*.rst\".",
            )

    if config.runbooks is not None and not _inside(config.root, config.runbooks, "runbooks").is_dir():
        raise ConfigError(
            f"The runbooks folder {config.runbooks} (`runbooks` in {where}) does not exist.",
            hint="Create it with the phase notebooks that override the bundled ones, or remove the key.",
        )
    for name in config.secrets:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(
                f"`secrets` in {where} must hold environment variable names, got {name!r}.",
                hint='List names, never values: secrets = ["MY_TOKEN"].',
            )
    _check_positive("push-timeout", where, config.push_timeout)
    _check_matrix(config.matrix)
    _check_publish(config.publish)
    _check_docs_check(config.docs_check)
    _check_announce(config)
    if config.api.deprecation_period < 0:
        raise ConfigError(
            f"`deprecation-period` in [{TABLE}.api] must be 0 or more releases, got {config.api.deprecation_period}.",
            hint="The seed's policy is deprecation-period = 4.",
        )


def _check_template(key: str, where: str, template: str, names: tuple[str, ...], require: str | None = None) -> None:
    if require and "{" + require + "}" not in template:
        raise ConfigError(
            f"`{key}` in {where} must contain {{{require}}}, got {template!r}.",
            hint=f'Write e.g. {key} = "{_TEMPLATE_EXAMPLES.get(key, "{version}")}".',
        )
    try:
        template.format(**{name: "1.0" for name in names})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"`{key}` in {where} is not a valid template ({template!r}): {exc!r}.",
            hint=f"Only {', '.join('{' + n + '}' for n in names)} may appear in braces; write a literal brace as {{{{ or }}}}.",
        ) from exc


_TEMPLATE_EXAMPLES = {"tag": "{version}", "commit-message": "BUMP {version}", "post-release-message": "BUMP {version}"}


def _inside(root: Path, relpath: str, key: str) -> Path:
    """``root / relpath``, refusing a path that leaves the project."""
    path = Path(relpath)
    if path.is_absolute() or ".." in path.parts or not relpath.strip():
        raise ConfigError(
            f"`{key}` path {relpath!r} must be relative to the project root and stay inside it.",
            hint=f'Write it relative to {root}, e.g. "src/pkg/__init__.py".',
        )
    return root / path


def _glob_matches_a_file(root: Path, pattern: str) -> bool:
    """Whether ``pattern`` matches a file outside ``.git``; stops at the first one."""
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise ConfigError(
            f"The docs glob {pattern!r} must stay inside the project.",
            hint='Write globs relative to the project root, e.g. "doc/**/*.rst".',
        )
    try:
        return any(
            path.is_file() and ".git" not in path.relative_to(root).parts for path in root.glob(pattern)
        )
    except (ValueError, NotImplementedError) as exc:
        raise ConfigError(f"The docs glob {pattern!r} is not valid: {exc}", hint="Fix the glob.") from exc


def _check_version_files(config: Config) -> None:
    where = f"[[{TABLE}.version-files]]"
    seen: set[VersionFile] = set()
    for vf in config.version_files:
        if vf in seen:
            raise ConfigError(
                f"The version file {vf.path} with pattern {vf.pattern!r} is listed twice in {where}.",
                hint="Remove the duplicate entry.",
            )
        seen.add(vf)
        regex = pattern_regex(vf)
        path = _inside(config.root, vf.path, "version-files")
        if not path.is_file():
            raise ConfigError(
                f"The version file {vf.path} (in {where}) does not exist.",
                hint="Fix the path; paths are relative to the project root.",
            )
        text = _read_text(path, vf.path)
        matches = list(regex.finditer(text))
        if not matches:
            raise ConfigError(
                f"The pattern {vf.pattern!r} matches nothing in {vf.path}.",
                hint="The pattern must match the line exactly (spaces included), with {version} "
                "or {version_tuple} where the version stands.",
            )
        if len(matches) > 1:
            lines = sorted({text.count("\n", 0, m.start()) + 1 for m in matches})
            raise ConfigError(
                f"The pattern {vf.pattern!r} matches {len(matches)} times in {vf.path} "
                f"(lines {', '.join(map(str, lines))}).",
                hint="Make the pattern more specific so it matches exactly one place, e.g. include the whole assignment.",
            )


def _check_static_project_version(config: Config, data: Mapping[str, Any]) -> None:
    # A static [project].version that no version file rewrites would build
    # the release under the old number: refuse before anything changes.
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("version"), str):
        return
    if not any(Path(vf.path) == Path(PYPROJECT) for vf in config.version_files):
        raise ConfigError(
            f"[project].version is set in {PYPROJECT} ({project['version']!r}), but {PYPROJECT} is not among "
            f"the version files, so the release would be built as the old version.",
            hint=f'Add [[{TABLE}.version-files]] with path = "{PYPROJECT}" and pattern = \'version = "{{version}}"\'.',
        )


def _read_text(path: Path, display: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display} is not UTF-8 text.", hint="Save it as UTF-8 or remove it from the configuration.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read {display}: {exc}", hint="Check the file's permissions.") from exc


def _check_positive(key: str, where: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"`{key}` in {where} must be greater than 0, got {value}.", hint=f"Set {key} to a number of seconds, e.g. 60.")


def _check_subset(key: str, subset_of: str, where: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    extra = [value for value in values if value not in allowed]
    if extra:
        raise ConfigError(
            f"`{key}` in {where} names {', '.join(map(repr, extra))}, which is not in `{subset_of}`.",
            hint=f"List only entries of `{subset_of}` ({', '.join(allowed) or 'empty'}) in `{key}`.",
        )


def _check_extension_switch(matrix: MatrixConfig, where: str) -> None:
    switches = [key for key, on in (
        ("no-extension-env", matrix.no_extension_env is not None),
        ("no-extension-config-settings", bool(matrix.no_extension_config_settings)),
        ("tests-both-implementations", matrix.tests_both_implementations),
    ) if on]
    if len(switches) > 1:
        raise ConfigError(
            f"{' and '.join(f'`{k}`' for k in switches)} in {where} are different ways to switch the extension; "
            "choose one.",
            hint="Keep the one your build reads; remove the others.",
        )
    for setting in matrix.no_extension_config_settings:
        if "=" not in setting:
            raise ConfigError(
                f"`no-extension-config-settings` in {where} holds {setting!r}, not KEY=VALUE.",
                hint='Write e.g. no-extension-config-settings = ["--build-option=--without-speedups"].',
            )


def _check_matrix(matrix: MatrixConfig) -> None:
    where = f"[{TABLE}.matrix]"
    _check_positive("timeout", where, matrix.timeout)
    _check_subset("allow-missing", "python", where, matrix.allow_missing, matrix.python)
    _check_subset("allow-missing-platforms", "platforms", where, matrix.allow_missing_platforms, matrix.platforms)
    if matrix.no_extension_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", matrix.no_extension_env):
        raise ConfigError(
            f"`no-extension-env` in {where} must be an environment variable name, got {matrix.no_extension_env!r}.",
            hint='Write e.g. no-extension-env = "PKG_NO_EXT".',
        )
    _check_extension_switch(matrix, where)
    if not matrix.test_command.strip():
        raise ConfigError(f"`test-command` in {where} must not be empty.", hint='Write e.g. test-command = "python -m pytest -q".')


def _check_url(key: str, where: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"`{key}` in {where} must be an http(s) URL, got {url!r}.", hint=f'Write e.g. {key} = "https://example.org/".')


def _check_publish(publish: PublishConfig) -> None:
    where = f"[{TABLE}.publish]"
    _check_url("repository-url", where, publish.repository_url)
    _check_url("index-url", where, publish.index_url)
    for key, value in (("username-env", publish.username_env), ("password-env", publish.password_env)):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ConfigError(
                f"`{key}` in {where} must be an environment variable name, got {value!r}.",
                hint="Name the variable that holds the credential, never the credential itself.",
            )


def _check_docs_check(docs_check: DocsCheckConfig) -> None:
    where = f"[{TABLE}.docs-check]"
    if docs_check.url is not None:
        _check_url("url", where, docs_check.url)
    _check_positive("timeout", where, docs_check.timeout)
    _check_positive("interval", where, docs_check.interval)


def _check_announce(config: Config) -> None:
    announce = config.announce
    where = f"[{TABLE}.announce]"
    if not 0 < announce.smtp_port < 65536:
        raise ConfigError(f"`smtp-port` in {where} must be between 1 and 65535, got {announce.smtp_port}.", hint="Use 587 (STARTTLS), 465 or 25.")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", announce.password_env):
        raise ConfigError(
            f"`password-env` in {where} must be an environment variable name, got {announce.password_env!r}.",
            hint="Name the variable that holds the SMTP password, never the password itself.",
        )
    for key, address in [("sender", announce.sender), *(("to", item) for item in announce.to)]:
        if address is not None and "@" not in address:
            raise ConfigError(f"`{key}` in {where} must be a mail address, got {address!r}.", hint=f'Write e.g. {key} = "dev@example.org".')
    if announce.template is not None and not _inside(config.root, announce.template, "template").is_file():
        raise ConfigError(
            f"The announcement template {announce.template} (`template` in {where}) does not exist.",
            hint="Create it, or remove the key to use the bundled template.",
        )


# -- names ----------------------------------------------------------------------


def _package_name(root: Path, data: Mapping[str, Any]) -> str:
    name = _package_name_or_none(root, data)
    if name is None:
        raise ConfigError(
            f"Cannot tell the package name of {root}: no [project].name in {PYPROJECT}, "
            "no name in setup.cfg [metadata], no name= in setup.py.",
            hint=f'Set package = "<name on the index>" in [{TABLE}].',
        )
    return name


def _package_name_or_none(root: Path, data: Mapping[str, Any]) -> str | None:
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str) and project["name"].strip():
        return str(project["name"]).strip()
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            name = parser.get("metadata", "name", fallback="").strip()
        except (configparser.Error, UnicodeDecodeError):
            name = ""
        if name:
            return name
    setup_py = root / "setup.py"
    if setup_py.is_file():
        try:
            text = setup_py.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        found = re.search(r"\bname\s*=\s*([\"'])([A-Za-z0-9][A-Za-z0-9._-]*)\1", text)
        if found:
            return found.group(2)
    return None


def _import_name(version_files: Iterable[VersionFile], package: str) -> str:
    for vf in version_files:
        parts = Path(vf.path).parts
        top = parts[1] if len(parts) > 2 and parts[0] == "src" else parts[0] if len(parts) > 1 else ""
        if top.isidentifier() and top != "src":
            return top
    return re.sub(r"[-.]", "_", package)


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
    # symbolic-ref also names the branch of a repository without commits yet,
    # where rev-parse --abbrev-ref HEAD fails; a detached HEAD gives None.
    try:
        result = processes.run(["git", "symbolic-ref", "--short", "-q", "HEAD"], cwd=root, timeout=30,
                               merge_stderr=False)  # fmt: skip
    except (OSError, processes.CommandTimeout):
        return None
    branch = result.stdout.strip()
    return branch if result.returncode == 0 and branch else None


# -- writing the table -------------------------------------------------------------


def render_table(config: Config) -> str:
    """The ``[tool.releaselib]`` TOML text for ``config``.

    Holds every key whose value differs from the default (or from what would
    be derived, for ``package`` and ``import-name``), and always ``dev-scheme``,
    ``tag``, ``commit-message``, ``branch``, ``changelog`` (when set),
    ``docs`` and ``version-files``. Loading the text back gives ``config``.
    """
    import tomlkit

    releaselib = tomlkit.table()
    defaults = Config(root=config.root, package="", import_name="")
    data = _read_toml(config.root / PYPROJECT) if (config.root / PYPROJECT).is_file() else {}
    derived_package = _package_name_or_none(config.root, data)
    sub_tables: list[tuple[str, Any]] = []
    version_files = None
    for f in dataclasses.fields(Config):
        name = f.name
        if name in _NOT_KEYS:
            continue
        value = getattr(config, name)
        if name == "package":
            if value != derived_package:
                releaselib.add("package", value)
            continue
        if name == "import_name":
            if value != _import_name(config.version_files, config.package):
                releaselib.add("import-name", value)
            continue
        if name in _SUBTABLES:
            sub = _render_subtable(value, _SUBTABLES[name]())
            if sub is not None:
                sub_tables.append((_toml_key(name), sub))
            continue
        if name == "version_files":
            version_files = value
            continue
        if value is None:
            continue  # TOML has no null: an absent key is None
        if name in _ALWAYS_RENDERED or value != getattr(defaults, name):
            releaselib.add(_toml_key(name), _toml_value(value))
    if version_files:
        entries = tomlkit.aot()
        for vf in version_files:
            entry = tomlkit.table()
            entry.add("path", vf.path)
            entry.add("pattern", _string_item(vf.pattern))
            entries.append(entry)
        releaselib.add("version-files", entries)
    for key, sub in sub_tables:
        releaselib.add(key, sub)
    tool = tomlkit.table(is_super_table=True)
    tool.add("releaselib", releaselib)
    document = tomlkit.document()
    document.add("tool", tool)
    return tomlkit.dumps(document)


def _render_subtable(value: Any, default: Any) -> Any:
    import tomlkit

    table = tomlkit.table()
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if item is not None and item != getattr(default, f.name):
            table.add(_toml_key(f.name), _toml_value(item))
    return table if len(table) else None


def _string_item(text: str) -> Any:
    import tomlkit

    # A pattern full of double quotes reads best as a TOML literal string.
    if '"' in text and "'" not in text and "\n" not in text:
        return tomlkit.string(text, literal=True)
    return tomlkit.string(text)


def _toml_value(value: Any) -> Any:
    import tomlkit

    if isinstance(value, str):
        return _string_item(value)
    if isinstance(value, tuple):
        array = tomlkit.array()
        array.extend(_string_item(item) for item in value)
        if sum(len(item) + 4 for item in value) > 60:
            array.multiline(True)
        return array
    if isinstance(value, float) and value.is_integer():
        return int(value)  # load_config reads 60 back as 60.0
    return value


def write_init(repo: Path) -> Path:
    """Append the detected ``[tool.releaselib]`` table to ``repo/pyproject.toml``; return its path.

    Every existing byte of the file stays as it was: the table is added at
    the end (a pyproject.toml is created when the project has none, as in a
    setup.py-only project). The result loads back to the detected
    configuration.

    Raises :class:`ConfigError` when the file already has the table, is not
    valid TOML, or nothing holding a version is found.
    """
    import tomlkit

    root = Path(repo).resolve()
    path = root / PYPROJECT
    original = path.read_bytes() if path.is_file() else b""
    try:
        original_text = original.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text.", hint="Save it as UTF-8.") from exc
    data = _parse_toml(original_text, path)
    tool = data.get("tool")
    if isinstance(tool, dict) and "releaselib" in tool:
        raise ConfigError(
            f"{path} already has a [{TABLE}] table.",
            hint="Edit the existing table; `releaselib init` only writes a new one.",
        )
    config = detect_config(root)
    table = render_table(config)
    # Keep the file's own line endings so the diff shows only the new table.
    newline = "\r\n" if "\r\n" in original_text else "\n"
    if newline != "\n":
        table = table.replace("\n", newline)
    separator = ""
    if original_text:
        separator = newline if original_text.endswith(("\n", "\r")) else newline * 2
    new_text = original_text + separator + table
    try:
        tomlkit.parse(new_text)
    except Exception as exc:  # tomlkit raises several unrelated types
        raise ConfigError(
            f"Adding [{TABLE}] to {path} would not give valid TOML: {exc}",
            hint=f"Add the table by hand:\n{table}",
        ) from exc
    path.write_bytes(new_text.encode("utf-8"))
    return path
