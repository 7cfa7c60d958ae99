"""``releaselib diff``: two releases side by side, from their records alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from releaselib.record.summary import (
    PhaseSummary,
    _cell_counts,
    _cell_label,
    _seconds,
    _size,
    _when,
    _who,
    load_release,
    phase_summaries,
    release_facts,
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


def diff_text(outputs: Path, package: str, v1: str, v2: str) -> str:
    """Two releases side by side: phase results and durations, the matrix, files (names
    and sizes), tool versions, operator and remote. Lines that differ start with ``*``.

    Raises :class:`RecordError` when either record is missing or unreadable.
    """
    left, right = load_release(outputs, package, v1), load_release(outputs, package, v2)
    lf, rf = release_facts(left), release_facts(right)
    out = [f"{package}: {v1} vs {v2}  (* marks a difference)", ""]

    phases_l = {s.phase: s for s in phase_summaries(left)}
    phases_r = {s.phase: s for s in phase_summaries(right)}
    from releaselib.engine.runner import PHASES

    names = [p for p in PHASES if p in phases_l or p in phases_r]
    names += sorted((set(phases_l) | set(phases_r)) - set(names))

    # Durations always move a little: a row is marked when the outcome differs
    # (result, attempts, by hand; a matrix cell's result and counts; a file's presence).
    def describe(s: PhaseSummary | None) -> str | None:
        if s is None:
            return None
        attempts = f", {len(s.attempts)} attempts" if len(s.attempts) > 1 else ""
        return f"{s.result} {_seconds(s.duration)}{attempts}" + (" by hand" if s.manual else "")

    def outcome(s: PhaseSummary | None) -> Any:
        return None if s is None else (s.result, len(s.attempts), s.manual)

    out += _section(
        "phase",
        [(p, describe(phases_l.get(p)), describe(phases_r.get(p)), outcome(phases_l.get(p)) != outcome(phases_r.get(p)))
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

    out += _section(
        "matrix cell",
        [(label, cell_text(cl.get(label)), cell_text(cr.get(label)),
          (cl.get(label) or ("",))[0] != (cr.get(label) or ("",))[0]) for label in labels],
        v1, v2,
    )

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
            ("result", lf["result"], rf["result"]),
            ("started", _when(lf["created"]), _when(rf["created"])),
            ("operator", _who({**lf["operator"], "host": None}), _who({**rf["operator"], "host": None})),
            ("host", lf["operator"].get("host"), rf["operator"].get("host")),
            ("remote", lf["repo"].get("remote_url"), rf["repo"].get("remote_url")),
            ("tag", lf["tag"], rf["tag"]),
            ("skipped interpreters", ", ".join(lf["skipped_interpreters"]) or None,
             ", ".join(rf["skipped_interpreters"]) or None),
        ],
        v1,
        v2,
    )
    return "\n".join(out).rstrip() + "\n"
