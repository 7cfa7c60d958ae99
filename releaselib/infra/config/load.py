"""Loading: find the configuration (file, table or detection), merge overrides, freeze."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

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


