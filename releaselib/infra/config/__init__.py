"""Read the project's release configuration: find it, parse, check shape, check meaning, freeze.

The schema is :mod:`releaselib.core.config_types`: every dataclass field is a key,
spelled with ``-`` instead of ``_`` (``commit_message`` -> ``commit-message``),
and the nested dataclasses are the sub-tables ``matrix``, ``publish``,
``docs-check`` and ``announce``. The reference of every key is
``docs/configuration.md``.

Where the configuration comes from, first found wins (:func:`load_config`):
a file named by ``--config`` (:data:`CONFIG_FILE_ENV`), ``releaselib.toml`` at
the repository root (the same keys, top-level), ``[tool.releaselib]`` in
``pyproject.toml``, else autodetection from the layout (:func:`detect_config`).
``releaselib init`` (:func:`write_init`) writes what was detected so the
maintainer can read and adjust it.

The modules, one concern each: :mod:`.schema` (TOML, keys, types),
:mod:`.meaning` (checks past the shape), :mod:`.detect` (the layout),
:mod:`.render` (init), :mod:`.load` (finding and merging).

Every problem is a :class:`~releaselib.core.errors.ConfigError` naming the table,
the key or the file, with a hint saying what to write instead.
"""

from __future__ import annotations

from releaselib.infra.config.detect import detect_config
from releaselib.infra.config.load import OVERRIDES_ENV, config_overrides, load_config
from releaselib.infra.config.render import render_table, write_init
from releaselib.infra.config.schema import CHANGELOG_CANDIDATES, TABLE, pattern_regex, suggest

__all__ = [
    "CHANGELOG_CANDIDATES",
    "OVERRIDES_ENV",
    "TABLE",
    "config_overrides",
    "detect_config",
    "load_config",
    "pattern_regex",
    "render_table",
    "suggest",
    "write_init",
]
