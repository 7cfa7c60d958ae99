"""``releaselib diff``: two releases side by side, from their records alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from releaselib.core.registry import phase_order
from releaselib.record.summary import (
    PhaseSummary,
    _cell_counts,
    _cell_label,
    _seconds,
    _size,
    _when,
    _who,
    configured_phases,
    load_release,
    matrix_totals,
    phase_summaries,
    release_facts,
    untested_overrides,
)

__all__ = ["diff_text"]

def _section(title: str, rows: Sequence[tuple[Any, ...]], v1: str, v2: str) -> list[str]:
    """Rows are ``(label, left, right)`` or ``(label, left, right, differs)``; by default
    a row differs when its two texts do."""
    if not rows:
        return []
    texts = []
    for row in rows:
        label, a, b = row[0], "-" if row[1] is None else str(row[1]), "-" if row[2] is None else str(row[2])
        texts.append((label, a, b, row[3] if len(row) > 3 else a != b))
    width = max(len(title), *(len(label) for label, *_ in texts))
    middle = max(len(v1), *(len(a) for _, a, _, _ in texts))
    lines = [f"  {title:<{width}}  {v1:<{middle}}  {v2}"]
    for label, a, b, differs in texts:
        lines.append(f"{'*' if differs else ' '} {label:<{width}}  {a:<{middle}}  {b}")
    return lines + [""]


def _files_by_role(files: Iterable[Mapping[str, Any]], version: str) -> dict[str, Mapping[str, Any]]:
    """Files keyed by name with the version replaced, so bsonlite-1.1.tar.gz meets bsonlite-1.2.tar.gz."""
    return {str(f["filename"]).replace(version, "{version}"): f for f in files}


def _compact(value: Any) -> str | None:
    """A recorded value in a few words, for one side of a row."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, Mapping):
        parts = [f"{k} {v}" for k, v in value.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 30]
        text = ", ".join(parts)
        return text if parts and len(text) <= 70 else f"{len(value)} entries"
    text = str(value).splitlines()[0] if str(value) else ""
    return text if len(text) <= 70 else text[:70].rsplit(" ", 1)[0] + " … (shortened)"


def diff_text(outputs: Path, package: str, v1: str, v2: str) -> str:
    """Two releases side by side: phase results and durations, the matrix, files (names
    and sizes), tool versions, operator and remote. Lines that differ start with ``*``.

    Raises :class:`RecordError` when either record is missing or unreadable.
    """
    left, right = load_release(outputs, package, v1), load_release(outputs, package, v2)
    lf, rf = release_facts(left), release_facts(right)
    out = [
        f"{package}: {v1} vs {v2}  (* marks a difference)",
        f"  {v1}: {lf['state'].describe()}",
        f"  {v2}: {rf['state'].describe()}",
        "",
    ]

    phases_l = {s.phase: s for s in phase_summaries(left)}
    phases_r = {s.phase: s for s in phase_summaries(right)}
    configured = [*configured_phases(left), *configured_phases(right)]
    names = sorted(set(phases_l) | set(phases_r) | set(configured), key=phase_order)
    not_run_l, not_run_r = set(lf["state"].not_run), set(rf["state"].not_run)

    # Durations always move a little: a row is marked when the outcome differs
    # (result, attempts, by hand; a matrix cell's result and counts; a file's presence).
    def describe(s: PhaseSummary | None, not_run: set[str], phase: str) -> str | None:
        if s is None:
            return "not run" if phase in not_run else None
        attempts = f", {len(s.attempts)} attempts" if len(s.attempts) > 1 else ""
        return f"{s.result} {_seconds(s.duration)}{attempts}" + (" by hand" if s.manual else "")

    def outcome(s: PhaseSummary | None) -> Any:
        return None if s is None else (s.result, len(s.attempts), s.manual)

    out += _section(
        "phase",
        [(p, describe(phases_l.get(p), not_run_l, p), describe(phases_r.get(p), not_run_r, p),
          outcome(phases_l.get(p)) != outcome(phases_r.get(p)))
         for p in names],
        v1, v2,
    )

    def cells(facts: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            _cell_label(c): (f"{c.get('result')} {_cell_counts(c)}", _seconds(c.get("duration"))) for c in facts["matrix"]
        }

    cl, cr = cells(lf), cells(rf)
    labels = list(dict.fromkeys([*cl, *cr]))

    def cell_text(cell: tuple[str, str] | None) -> str | None:
        return None if cell is None else " ".join(cell)

    def totals(facts: Mapping[str, Any]) -> str | None:
        counted = matrix_totals(facts["matrix"])
        return None if counted is None else f"{counted[0]} passed / {counted[1]} failed"

    matrix_rows: list[tuple[Any, ...]] = [(label, cell_text(cl.get(label)), cell_text(cr.get(label)),
                    (cl.get(label) or ("",))[0] != (cr.get(label) or ("",))[0]) for label in labels]
    if labels:
        matrix_rows.append(("tests, all cells", totals(lf), totals(rf)))
    out += _section("matrix cell", matrix_rows, v1, v2)

    al: dict[str, Any] = lf["api"] or {}
    ar: dict[str, Any] = rf["api"] or {}
    api_keys = list(dict.fromkeys([*al, *ar]))
    out += _section("API check", [(key, _compact(al.get(key)), _compact(ar.get(key))) for key in api_keys], v1, v2)

    fl, fr = _files_by_role(lf["files"], v1), _files_by_role(rf["files"], v2)
    roles = list(dict.fromkeys([*fl, *fr]))

    def file_cell(f: Mapping[str, Any] | None) -> str | None:
        return None if f is None else _size(f.get("size"))

    out += _section(
        "file (version as {version})",
        [(role, file_cell(fl.get(role)), file_cell(fr.get(role)), (role in fl) != (role in fr)) for role in roles],
        v1, v2,
    )

    tl, tr = lf["tools"], rf["tools"]
    tools = list(dict.fromkeys([*tl, *tr]))
    out += _section("tool", [(t, tl.get(t), tr.get(t)) for t in tools], v1, v2)

    out += _section(
        "release",
        [
            ("result", lf["state"].describe(), rf["state"].describe()),
            ("started", _when(lf["created"]), _when(rf["created"])),
            ("operator", _who({**lf["operator"], "host": None}), _who({**rf["operator"], "host": None})),
            ("host", lf["operator"].get("host"), rf["operator"].get("host")),
            ("remote", lf["repo"].get("remote_url"), rf["repo"].get("remote_url")),
            ("tag", lf["tag"], rf["tag"]),
            ("skipped interpreters", ", ".join(lf["skipped_interpreters"]) or None,
             ", ".join(rf["skipped_interpreters"]) or None),
            ("allowed untested", untested_overrides(left), untested_overrides(right)),
        ],
        v1,
        v2,
    )
    return "\n".join(out).rstrip() + "\n"
