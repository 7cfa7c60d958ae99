"""The release a runbook is working on.

Every runbook's first call is :func:`start`, which validates the parameters,
loads the project's configuration and returns a :class:`Release`. The phase
functions all take that object; nothing passes between phases through
globals, only through the release record on disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releaselib.core.config_types import Config
from releaselib.core.errors import RecordError, UsageError
from releaselib.core.plan import Plan
from releaselib.record.notebooks import VALUE_MIME
from releaselib.record.values import declared_keys


def outputs_root(outputs: str | os.PathLike[str] | None) -> Path:
    """The folder records go to: ``--outputs``, else ``outputs/`` in the current directory."""
    return Path(outputs if outputs is not None else "outputs").resolve()


def record_dir_for(outputs: str | os.PathLike[str] | None, package: str, version: str) -> Path:
    return outputs_root(outputs) / package / version


@dataclass
class Release:
    """One phase's view of a release in progress."""

    version: str
    repo: Path
    config: Config
    dry_run: bool
    record_dir: Path
    phase: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def logs_dir(self) -> Path:
        path = self.record_dir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def tag(self) -> str:
        return self.config.tag.format(version=self.version)

    def __str__(self) -> str:
        mode = "DRY RUN: nothing will change" if self.dry_run else "REAL RUN: changes will be made"
        return (
            f"{self.config.package} {self.version} ({mode})\n"
            f"  project: {self.repo}\n"
            f"  record:  {self.record_dir}"
        )

    def __repr__(self) -> str:
        return str(self)

    # -- plans -----------------------------------------------------------
    def execute(self, plan: Plan) -> Plan:
        """Show and execute ``plan`` (or only show it, in a dry run)."""
        return plan.execute(dry_run=self.dry_run)

    # -- values ----------------------------------------------------------
    def record(self, key: str, value: Any) -> None:
        """Record a value of this phase: shown once in the notebook, and kept in the record.

        The value must be JSON-serialisable. Returns nothing, so a cell that
        ends with this call shows the value once (as "recorded KEY"), not
        again as the cell's result.
        """
        declared = declared_keys(self.phase) if self.phase else None
        if declared is not None and key not in declared:
            raise RecordError(
                f"Phase {self.phase} records no value named {key!r}.",
                hint=f"Its values are {', '.join(declared)} (releaselib.record.values); "
                "declare a new one there first.",
            )
        try:
            encoded = json.loads(json.dumps(value))
        except TypeError as exc:
            raise RecordError(f"Cannot record {key!r}: {exc}", hint="Record strings, numbers, lists or dicts.") from exc
        self.values[key] = encoded
        _show_value(key, encoded)

    def recorded(self, phase: str, key: str, default: Any = ...) -> Any:
        """A value an earlier phase recorded, read from ``record.json``."""
        from releaselib.record.store import Record

        record = Record.load(self.record_dir)
        return record.value(phase, key, default)


#: How many lines of a recorded value a notebook shows; the whole value is in record.json.
SHOWN_LINES = 40


def value_lines(value: Any) -> list[str]:
    """A recorded value as lines a person reads: a scalar on one line; a mapping of
    booleans as checks (``✔ name`` / ``✘ name``); anything else as indented JSON."""
    if _all_checks(value):
        return [f"{'✔ ok    ' if ok else '✘ failed'}  {name}" for name, ok in value.items()]
    if isinstance(value, (dict, list)) and value:
        return json.dumps(value, indent=2, ensure_ascii=False).splitlines()
    if isinstance(value, str) and "\n" in value:
        return value.splitlines()
    return [json.dumps(value, ensure_ascii=False)]


def _shown(lines: list[str]) -> list[str]:
    """At most :data:`SHOWN_LINES` whole lines, then a line that says what was left out."""
    if len(lines) <= SHOWN_LINES:
        return lines
    return [*lines[:SHOWN_LINES], f"… {len(lines) - SHOWN_LINES} more lines (the whole value is in record.json)"]


def value_text(key: str, value: Any) -> str:
    lines = _shown(value_lines(value))
    if len(lines) == 1:
        return f"recorded {key} = {lines[0]}"
    return f"recorded {key}:\n" + "\n".join(f"  {line}" for line in lines)


def _all_checks(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, bool) for v in value.values())


def value_html(key: str, value: Any) -> str:
    import html

    from releaselib.core.display import html_table, status

    if _all_checks(value):
        rows = [(status("ok" if ok else "failed"), html.escape(name)) for name, ok in value.items()]
        return f"<div>recorded <code>{html.escape(key)}</code>:</div>" + html_table(["result", "check"], rows)
    lines = _shown(value_lines(value))
    if len(lines) == 1:
        return f"<div>recorded <code>{html.escape(key)}</code> = <code>{html.escape(lines[0])}</code></div>"
    body = html.escape("\n".join(lines))
    return (
        f"<div>recorded <code>{html.escape(key)}</code>:</div>"
        f"<pre style='text-align:left;font-family:monospace;white-space:pre-wrap;overflow-wrap:break-word;margin:2px 0 0 1em'>{body}</pre>"
    )


def _show_value(key: str, value: Any) -> None:
    text = value_text(key, value)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with jupyter
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display(
        {"text/plain": text, "text/html": value_html(key, value), VALUE_MIME: {"key": key, "value": value}},
        raw=True,
    )


def start(
    phase: str,
    version: Any,
    *,
    repo: str | os.PathLike[str] = ".",
    dry_run: bool = True,
    outputs: str | os.PathLike[str] | None = None,
) -> Release:
    """Validate a runbook's parameters and open the release it works on.

    Raises :class:`UsageError` when ``version`` is missing or not a string
    (papermill's ``-p version 1.10`` would give the float ``1.1``), and
    whatever :func:`releaselib.infra.config.load_config` and
    :func:`releaselib.core.versions.parse_release` raise.
    """
    from releaselib.core.versions import parse_release
    from releaselib.infra.config import load_config

    if version is None:
        raise UsageError(
            "The parameter `version` is not set.",
            hint='Edit the parameters cell: version = "2.2" (a string), then run all cells.',
        )
    if not isinstance(version, str):
        raise UsageError(
            f"The parameter `version` must be a string, got {type(version).__name__} {version!r}.",
            hint='Quote it: version = "1.10" (a float 1.10 is 1.1). With papermill use -r, not -p.',
        )
    if not isinstance(dry_run, bool):
        raise UsageError(f"`dry_run` must be True or False, got {dry_run!r}.")
    repo_path = Path(repo).resolve()
    config = load_config(repo_path)
    parse_release(version)
    env_outputs = os.environ.get("RELEASELIB_OUTPUTS")
    suffix = "-dry-run" if dry_run else ""
    record_dir = record_dir_for(outputs if outputs is not None else env_outputs, config.package, version + suffix)
    return Release(
        version=version,
        repo=repo_path,
        config=config,
        dry_run=dry_run,
        record_dir=record_dir,
        phase=phase,
    )
