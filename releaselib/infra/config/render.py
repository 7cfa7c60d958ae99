"""`releaselib init`: render a configuration as TOML and write it where the project keeps it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from releaselib.core.config_types import (
    Config,
)
from releaselib.core.errors import ConfigError
from releaselib.infra.config.detect import detect_config
from releaselib.infra.config.meaning import _import_name, _package_name_or_none
from releaselib.infra.config.schema import (
    _ALWAYS_RENDERED,
    _NOT_KEYS,
    _SUBTABLES,
    PYPROJECT,
    TABLE,
    _parse_toml,
    _read_toml,
    _toml_key,
)

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]


# -- writing the table -------------------------------------------------------------


def render_table(config: Config) -> str:
    """The ``[tool.releaselib]`` TOML text for ``config`` (for pyproject.toml).

    See :func:`_releaselib_table` for what it holds; :func:`render_file` gives
    the same keys at the top level, for ``releaselib.toml``.
    """
    import tomlkit

    tool = tomlkit.table(is_super_table=True)
    tool.add("releaselib", _releaselib_table(config))
    document = tomlkit.document()
    document.add("tool", tool)
    return tomlkit.dumps(document) + _placeholders(config, "tool.releaselib.")


def render_file(config: Config) -> str:
    """The ``releaselib.toml`` text for ``config``: the keys of the table at the top level."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("releaselib configuration (every key: docs/configuration.md in releaselib)"))
    for key, value in _releaselib_table(config).items():
        document.add(key, value)
    return tomlkit.dumps(document) + _placeholders(config, "")


def table_of(config: Config) -> dict[str, Any]:
    """``config`` as the plain dict its table would load as (keys dashed, sub-tables nested)."""
    table: dict[str, Any] = _releaselib_table(config).unwrap()
    return table


#: What init writes where only the maintainer knows the value; preflight refuses a value still holding it.
PLACEHOLDER = "FILL-IN"


def _placeholders(config: Config, prefix: str) -> str:
    """The tables detection cannot fill, written commented out for the maintainer to complete.

    Left commented, ``plan`` reports them missing for a run that includes
    their phase; uncommented as written, it reports the ``FILL-IN`` values
    (never a table that looks complete and fails phases later).
    """
    blocks = []
    if config.docs_check.url is None:
        blocks.append(
            f"# [{prefix}docs-check]            # 07_docs: the page that must show the new version\n"
            '# url = "https://FILL-IN.readthedocs.io/en/latest/"\n'
        )
    if config.announce.smtp_host is None:
        blocks.append(
            f"# [{prefix}announce]              # 09_announce: the release mail\n"
            '# smtp-host = "FILL-IN.example.org"\n'
            "# user = \"FILL-IN\"               # the password comes from RELEASELIB_SMTP_PASSWORD only\n"
            '# sender = "FILL-IN@example.org"\n'
            '# to = ["FILL-IN@example.org"]\n'
        )
    if not config.matrix.python:
        blocks.append(
            f"# [{prefix}matrix]                # 01_test, 05_build: the Pythons to test and build on\n"
            '# python = ["3.12"]\n'
        )
    if not blocks:
        return ""
    return "\n# Fill these in (then uncomment), or leave their phases out with --phases:\n" + "\n".join(blocks)


def _releaselib_table(config: Config) -> Any:
    """The table's items for ``config``.

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
    return releaselib


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


def write_init(repo: Path, target: str | os.PathLike[str] | None = None) -> Path:
    """Write the detected configuration where the project keeps it; return the file's path.

    ``target`` (``init --config FILE``) gets the keys at the top level. Else a
    project with a ``pyproject.toml`` gets a ``[tool.releaselib]`` table
    appended (every existing byte stays as it was, line endings included),
    and a project without one (setup.py era) gets ``releaselib.toml``: adding
    a pyproject.toml would change how pip builds it. The result loads back to
    the detected configuration.

    Raises :class:`ConfigError` when the table or file already exists, a file
    is not valid TOML, or the layout cannot be detected.
    """
    import tomlkit

    root = Path(repo).resolve()
    path = root / PYPROJECT
    if target is not None or not path.is_file():
        out = Path(target).expanduser().resolve() if target is not None else root / "releaselib.toml"
        if out.exists():
            raise ConfigError(
                f"{out} already exists.",
                hint="Edit it; `releaselib init` only writes a new configuration (remove the file to start over).",
            )
        out.write_text(render_file(detect_config(root)), encoding="utf-8")
        return out
    original = path.read_bytes()
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
