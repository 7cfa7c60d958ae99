"""Loading: find the configuration (file, table or detection), merge overrides, freeze."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from releaselib.core.config_types import (
    Config,
)
from releaselib.core.errors import ConfigError
from releaselib.infra.config.detect import detect_config
from releaselib.infra.config.meaning import _freeze
from releaselib.infra.config.schema import (
    PYPROJECT,
    TABLE,
    _describe,
    _read_toml,
    _shape,
)

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]


# -- loading -------------------------------------------------------------------


#: Environment variable naming a configuration file outside the project
#: (``--config FILE``); the CLI sets it so that every kernel reads the same file.
CONFIG_FILE_ENV = "RELEASELIB_CONFIG"
#: The configuration file a project may keep at its root instead of a table in
#: pyproject.toml (an old setup.py project must not grow a pyproject.toml: pip
#: would then build it with PEP 517 isolation).
RELEASELIB_TOML = "releaselib.toml"


def config_file(root: Path, explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file that applies to ``root``, or None when the table or detection applies.

    ``explicit`` (``--config``), else :data:`CONFIG_FILE_ENV`, else
    ``root/releaselib.toml`` when it exists. Raises :class:`ConfigError` when
    a named file does not exist.
    """
    named = explicit if explicit is not None else os.environ.get(CONFIG_FILE_ENV) or None
    if named is not None:
        path = Path(named).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(
                f"The configuration file {path} (given with --config or {CONFIG_FILE_ENV}) does not exist.",
                hint=f"Pass an existing TOML file with the keys of [{TABLE}] at its top level, "
                f"or drop --config to use {RELEASELIB_TOML} / pyproject.toml / detection.",
            )
        return path
    local = root / RELEASELIB_TOML
    return local if local.is_file() else None


def load_config(repo: Path, config: str | os.PathLike[str] | None = None) -> Config:
    """The validated, frozen configuration of the project at ``repo``.

    The first of these wins: the file ``config`` (or :data:`CONFIG_FILE_ENV`),
    ``repo/releaselib.toml`` (both hold the keys at their top level),
    ``[tool.releaselib]`` in ``repo/pyproject.toml``, else the layout is
    autodetected (``Config.detected`` is True). A project needs no
    pyproject.toml at all. ``Config.source`` says which one applied.
    :data:`OVERRIDES_ENV` is merged over whichever it was.

    Raises :class:`ConfigError` when a file is not TOML, a key is unknown or
    of the wrong type, a template lacks ``{version}``, a version file,
    changelog or docs glob names nothing, a version pattern does not match
    exactly once, or the layout cannot be detected.
    """
    root = Path(repo).resolve()
    pyproject = root / PYPROJECT
    data = _read_toml(pyproject) if pyproject.is_file() else {}
    overrides = config_overrides()
    path = config_file(root, config)
    if path is not None:
        table: Any = _read_toml(path)
        source = str(path) if not path.is_relative_to(root) else path.relative_to(root).as_posix()
        where = f"{source} (top level)"
    else:
        tool = data.get("tool")
        table = tool.get("releaselib") if isinstance(tool, dict) else None
        source = f"[{TABLE}] in {PYPROJECT}"
        where = f"[{TABLE}] in {pyproject}"
    if table is None:
        detected = detect_config(root)
        if not overrides:
            return detected
        from releaselib.infra.config.render import table_of

        table = _merged(table_of(detected), overrides)
        return _freeze(root, data, _shape(table), detected=True, source=detected.source, detection=detected.detection)
    if not isinstance(table, dict):
        raise ConfigError(
            f"{where} must be a table, got {_describe(table)}.",
            hint="Write it as a [tool.releaselib] section with one key per line.",
        )
    if overrides:
        table = _merged(table, overrides)
    return _freeze(root, data, _shape(table), source=source)


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




#: The file, in a release's record folder, that holds what detection found
#: when the release started (see :func:`pin_detected`).
PINNED_NAME = "config.detected.toml"


def pin_detected(config: Config, record_dir: Path) -> Config:
    """Keep a detected configuration fixed for the whole release; return the configuration to use.

    Detection reads the files as they are now, and the release changes them
    (after the bump the files hold a release version, which alone would read
    as "no development marker"). So the first run writes what was detected
    into ``record_dir/config.detected.toml`` (part of the record) and every
    phase, and every later ``--resume``, reads that file instead of
    detecting again. A configuration that was not detected is returned as is.
    """
    if not config.detected:
        return config
    import dataclasses

    from releaselib.infra.config.render import render_file

    path = Path(record_dir) / PINNED_NAME
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_file(config), encoding="utf-8")
    pinned = load_config(config.root, path)
    return dataclasses.replace(
        pinned, detected=True, source=f"detected at the start of the release, kept in {path}", detection=config.detection
    )
