"""Pictures of a release record, as static inline SVG: no script, nothing from the network.

- :func:`timeline_html`: one bar per phase attempt on a time axis; long idle
  stretches (a release resumed the next day) are cut out and labelled.
- :func:`matrix_svg`: the test matrix as a grid, Python × extension state,
  coloured by result, with test counts, each cell linking to its log.
- :func:`history_html`: phase durations and test counts per release, for the index page.

The charts are rows of HTML (labels, values: they wrap and stay legible at any
width) around SVG tracks whose shapes are placed in percentages of the track,
so a chart fits a phone and a wide screen alike without scaling its text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import median
from typing import Any

from releaselib.record.readable import strip_ansi
from releaselib.record.summary import PhaseSummary, _seconds, status_word

__all__ = ["Bar", "history_html", "matrix_svg", "timeline_bars", "timeline_html"]

#: Fill colours by result (the badge colours of the page).
FILL = {
    "succeeded": "#2da44e", "passed": "#2da44e",
    "failed": "#cf222e", "error": "#cf222e", "timeout": "#cf222e", "interrupted": "#cf222e",
    "manual": "#bf8700", "dry-run": "#8c959f", "skipped": "#d0d7de", "other": "#8c959f",
}
CELL_BG = {"passed": "#dafbe1", "failed": "#ffebe9", "error": "#ffebe9", "timeout": "#ffebe9", "skipped": "#f6f8fa"}
CELL_FG = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e", "timeout": "#cf222e", "skipped": "#59636e"}
#: One colour per phase in the history chart, in release order (colour-blind friendly cycle).
PHASE_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac", "#86bcb6", "#d37295")
#: An idle stretch longer than this (and than the release's busy time) is cut out of the axis.
IDLE_CUT_SECONDS = 600.0
#: The width, in percent of the track, that a cut idle stretch keeps.
CUT_WIDTH = 6.0


def _e(value: Any) -> str:
    return html.escape(strip_ansi("" if value is None else str(value)))


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value)):.2f}%"


def _time(stamp: Any) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class Bar:
    """One attempt placed in time (seconds since the epoch)."""

    phase: str
    attempt: int
    result: str
    start: float
    end: float
    manual: bool
    dry_run: bool
    reason: str | None


def timeline_bars(summaries: Sequence[PhaseSummary]) -> tuple[list[Bar], list[str]]:
    """Every attempt that knows when it ran, and a note for each that does not."""
    bars: list[Bar] = []
    untimed: list[str] = []
    for summary in summaries:
        for entry in summary.attempts:
            started, ended = _time(entry.get("started")), _time(entry.get("ended"))
            duration = entry.get("duration") if isinstance(entry.get("duration"), (int, float)) else None
            if started is None and ended is not None and duration is not None:
                start, end = ended.timestamp() - duration, ended.timestamp()
            elif started is not None:
                start = started.timestamp()
                end = ended.timestamp() if ended is not None else start + float(duration or 0)
            else:
                untimed.append(f"{summary.phase} attempt {entry.get('attempt')}")
                continue
            bars.append(Bar(summary.phase, int(entry.get("attempt") or 0), str(entry.get("result")), start,
                            max(end, start), entry.get("mode") == "manual", bool(entry.get("dry_run")),
                            entry.get("reason")))
    return bars, untimed


@dataclass(frozen=True)
class _Axis:
    """Busy stretches of the release, laid side by side with cut idle stretches between."""

    spans: list[tuple[float, float, float, float]]  # (start, end, x0 %, x1 %)
    cuts: list[tuple[float, float, float]]  # (idle from, idle to, x %) for each cut

    def x(self, moment: float) -> float:
        for start, end, x0, x1 in self.spans:
            if moment <= end or (start, end, x0, x1) == self.spans[-1]:
                if end <= start:
                    return x0
                return x0 + (x1 - x0) * (min(max(moment, start), end) - start) / (end - start)
        return 100.0


def _axis(bars: Sequence[Bar]) -> _Axis:
    clusters: list[list[float]] = []
    for bar in sorted(bars, key=lambda b: b.start):
        if clusters and bar.start - clusters[-1][1] <= IDLE_CUT_SECONDS:
            clusters[-1][1] = max(clusters[-1][1], bar.end)
        else:
            clusters.append([bar.start, bar.end])
    busy = sum(end - start for start, end in clusters)
    # Only idle stretches longer than the busy time itself are worth cutting out.
    merged: list[list[float]] = []
    for cluster in clusters:
        if merged and cluster[0] - merged[-1][1] <= max(IDLE_CUT_SECONDS, busy):
            merged[-1][1] = max(merged[-1][1], cluster[1])
        else:
            merged.append(cluster)
    busy = sum(max(end - start, 1.0) for start, end in merged)
    room = 100.0 - CUT_WIDTH * (len(merged) - 1)
    spans: list[tuple[float, float, float, float]] = []
    cuts: list[tuple[float, float, float]] = []
    x = 0.0
    for n, (start, end) in enumerate(merged):
        if n:
            cuts.append((merged[n - 1][1], start, x + CUT_WIDTH / 2))
            x += CUT_WIDTH
        width = room * max(end - start, 1.0) / busy
        spans.append((start, end, x, x + width))
        x += width
    return _Axis(spans, cuts)


def _clock(moment: float, with_date: bool) -> str:
    stamp = datetime.fromtimestamp(moment, tz=timezone.utc)
    return stamp.strftime("%b %d %H:%M" if with_date else "%H:%M:%S")


def _bar_fill(bar: Bar) -> str:
    if bar.result != "succeeded":
        return FILL.get(bar.result, FILL["failed"])
    if bar.dry_run:
        return FILL["dry-run"]
    return FILL["manual"] if bar.manual else FILL["succeeded"]


def timeline_html(summaries: Sequence[PhaseSummary], not_run: Sequence[str] = ()) -> str:
    """The release on a time axis: a row per phase (configured phases that never ran
    included, empty), a bar per attempt, coloured by result; by-hand runs hatched."""
    bars, untimed = timeline_bars(summaries)
    if not bars:
        return "<p>No attempt recorded when it ran, so there is no timeline.</p>"
    axis = _axis(bars)
    first, last = min(b.start for b in bars), max(b.end for b in bars)
    with_date = datetime.fromtimestamp(first, tz=timezone.utc).date() != datetime.fromtimestamp(last, tz=timezone.utc).date()
    rows = []
    cut_lines = "".join(
        f'<line x1="{_pct(x)}" x2="{_pct(x)}" y1="0" y2="100%" class="cut"/>' for _, _, x in axis.cuts
    )
    by_phase: dict[str, list[Bar]] = {}
    for bar in bars:
        by_phase.setdefault(bar.phase, []).append(bar)
    for summary in summaries:
        shapes = []
        for bar in by_phase.get(summary.phase, []):
            x0, x1 = axis.x(bar.start), axis.x(bar.end)
            width = max(x1 - x0, 0.6)
            x0 = min(x0, 100.0 - width)
            kind = "by hand" if bar.manual else "headless"
            dry = ", dry run" if bar.dry_run else ""
            title = (f"{bar.phase} attempt {bar.attempt}: {bar.result} ({kind}{dry}), {_seconds(bar.end - bar.start)}, "
                     f"started {_clock(bar.start, True)} UTC" + (f". {bar.reason}" if bar.reason else ""))
            hatch = ' class="hand"' if bar.manual else ""
            shapes.append(
                f'<a href="#phase-{_e(bar.phase)}"><rect x="{_pct(x0)}" y="3" width="{_pct(width)}" height="14" rx="2" '
                f'fill="{_bar_fill(bar)}"{hatch}><title>{_e(title)}</title></rect></a>'
            )
            if bar.manual:
                shapes.append(f'<rect x="{_pct(x0)}" y="3" width="{_pct(width)}" height="14" rx="2" '
                              'fill="url(#hatch)" pointer-events="none"/>')
        failed = sum(1 for b in by_phase.get(summary.phase, []) if b.result != "succeeded")
        value = _seconds(sum(b.end - b.start for b in by_phase.get(summary.phase, [])))
        if failed:
            value += f' <span class="bad">({failed} failed)</span>'
        rows.append(_row(f'<a href="#phase-{_e(summary.phase)}">{_e(summary.phase)}</a>',
                         f'<svg class="track" width="100%" height="20" aria-hidden="true">{cut_lines}{"".join(shapes)}</svg>',
                         value))
    for phase in not_run:
        rows.append(_row(f'<span class="muted">{_e(phase)}</span>',
                         f'<svg class="track" width="100%" height="20" aria-hidden="true">{cut_lines}'
                         '<line x1="0" x2="100%" y1="10" y2="10" class="none"/></svg>',
                         '<span class="muted">not run</span>'))
    ticks = [f'<text x="0" y="12" text-anchor="start">{_e(_clock(first, with_date))}</text>',
             f'<text x="100%" y="12" text-anchor="end">{_e(_clock(last, with_date))}</text>']
    for idle_from, idle_to, x in axis.cuts:
        # A second line, so it never runs into the times at either end on a phone.
        ticks.append(f'<text x="{_pct(x)}" y="27" text-anchor="middle" class="cut-label">'
                     f'⋯ {_e(_seconds(idle_to - idle_from))} idle ⋯</text>')
    height = 32 if axis.cuts else 16
    rows.append(_row("", f'<svg class="track axis" width="100%" height="{height}" aria-hidden="true">{"".join(ticks)}</svg>',
                     f'<span class="muted">{_e(_seconds(last - first))}</span>', "axis"))
    legend = _legend([("succeeded", FILL["succeeded"]), ("failed", FILL["failed"]),
                      ("by hand", FILL["manual"]), ("dry run", FILL["dry-run"])])
    note = (f'<p class="muted small">Not on the axis (no times recorded): {_e(", ".join(untimed))}.</p>'
            if untimed else "")
    defs = ('<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
            '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2" stroke-opacity=".6"/></pattern>'
            "</defs></svg>")
    return f'{defs}<div class="chart rows">{"".join(rows)}</div>{legend}{note}'


def _row(label: str, track: str, value: str, extra: str = "") -> str:
    return (f'<div class="row {extra}"><div class="label">{label}</div><div class="bar">{track}</div>'
            f'<div class="value">{value}</div></div>')


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return '<p class="legend">' + "".join(
        f'<span><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" fill="{colour}"/>'
        f"</svg> {_e(label)}</span>" for label, colour in items) + "</p>"


# --------------------------------------------------------------------------- the matrix


_STATES = ((True, "with extension"), (False, "without extension"), (None, "pure Python"))


def _python_key(python: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in python.split("."))


def matrix_svg(cells: Sequence[Mapping[str, Any]], skipped: Sequence[str] = ()) -> str:
    """The matrix as a grid: a row per Python, a column per extension state; each cell
    coloured by result, with its word, test counts and duration, linking to its log."""
    pythons = sorted({str(c.get("python")) for c in cells} | set(skipped), key=_python_key)
    states = [(value, label) for value, label in _STATES if any(c.get("extension") is value for c in cells)]
    if not states:
        states = [(True, "with extension")]
    by_key = {(str(c.get("python")), c.get("extension")): c for c in cells}
    label_w, gap = 15.0, 1.5
    width = (100.0 - label_w - gap * len(states)) / len(states)
    row_h, head_h = 46, 22
    height = head_h + row_h * len(pythons)
    parts = []
    parts.append('<text x="0" y="15" class="head">Python</text>')
    for n, (_, label) in enumerate(states):
        x = label_w + gap + n * (width + gap)
        parts.append(f'<text x="{_pct(x + width / 2)}" y="15" text-anchor="middle" class="head">{_e(label)}</text>')
    for r, python in enumerate(pythons):
        y = head_h + r * row_h
        version = next((str(c.get("version")) for c in cells if str(c.get("python")) == python and c.get("version")), "")
        parts.append(f'<text x="0" y="{y + 20}" class="py">{_e(python)}</text>')
        if version and version != python:
            parts.append(f'<text x="0" y="{y + 36}" class="sub">{_e(version)}</text>')
        for n, (state, state_label) in enumerate(states):
            x = label_w + gap + n * (width + gap)
            cell = by_key.get((python, state))
            if cell is None:
                result = "skipped" if python in skipped else "none"
                line1 = "· skipped (not found)" if python in skipped else "· not in the matrix"
                line2 = ""
                link = None
            else:
                result = str(cell.get("result"))
                passed, failed = cell.get("tests_passed"), cell.get("tests_failed")
                counts = (f"{int(passed or 0) + int(failed or 0)} tests" + (f", {failed} failed" if failed else "")
                          if passed is not None or failed is not None else "tests not counted")
                line1 = f"{status_word(result)} · {counts}"
                line2 = _seconds(cell.get("duration")) + (" · log" if cell.get("log") else "")
                link = cell.get("log")
            bg = CELL_BG.get(result, "#f6f8fa")
            fg = CELL_FG.get(result, "#59636e")
            title = f"Python {python}, {state_label}: {line1}" + (f". {cell.get('reason')}" if cell and cell.get("reason") else "")
            shape = (f'<rect x="{_pct(x)}" y="{y + 3}" width="{_pct(width)}" height="{row_h - 6}" rx="5" fill="{bg}" '
                     f'stroke="{fg}" stroke-opacity=".35"><title>{_e(title)}</title></rect>'
                     f'<text x="{_pct(x + width / 2)}" y="{y + 20}" text-anchor="middle" fill="{fg}" class="cell">{_e(line1)}</text>'
                     + (f'<text x="{_pct(x + width / 2)}" y="{y + 36}" text-anchor="middle" class="sub">{_e(line2)}</text>'
                        if line2 else ""))
            if link:
                shape = f'<a href="{_e(link)}">{shape}</a>'
            parts.append(shape)
    return (f'<svg class="matrix-grid" width="100%" height="{height}" role="img" '
            f'aria-label="Test matrix: {len(cells)} cells">{"".join(parts)}</svg>')


# --------------------------------------------------------------------------- history (index page)


@dataclass(frozen=True)
class ReleaseRow:
    """One release on the index page's history chart."""

    version: str
    state: str
    phase_seconds: Mapping[str, float]  # every attempt's time, summed per phase
    tests_passed: int | None
    tests_failed: int | None
    href: str | None


def history_html(rows: Sequence[ReleaseRow], phases: Sequence[str]) -> str:
    """Phase durations (stacked, one colour per phase) and test counts per release, oldest
    first, with the median marked, so a slow release or one that ran fewer tests stands out."""
    if not rows:
        return ""
    colours = {phase: PHASE_COLOURS[n % len(PHASE_COLOURS)] for n, phase in enumerate(phases)}
    totals = [sum(r.phase_seconds.values()) for r in rows]
    longest = max(totals) or 1.0
    typical = median(totals)
    duration_rows = []
    for row, total in zip(rows, totals):
        x = 0.0
        shapes = []
        for phase in phases:
            seconds = row.phase_seconds.get(phase, 0.0)
            if seconds <= 0:
                continue
            width = 100.0 * seconds / longest
            shapes.append(f'<rect x="{_pct(x)}" y="3" width="{_pct(max(width, 0.3))}" height="14" fill="{colours[phase]}">'
                          f"<title>{_e(row.version)} {_e(phase)}: {_e(_seconds(seconds))}</title></rect>")
            x += width
        marker = f'<line x1="{_pct(100.0 * typical / longest)}" x2="{_pct(100.0 * typical / longest)}" y1="0" y2="20" class="median"/>'
        label = f'<a href="{_e(row.href)}">{_e(row.version)}</a>' if row.href else _e(row.version)
        if row.state != "complete":
            label += f' <span class="muted small">{_e(status_word(row.state))}</span>'
        ratio = f" ({total / typical:.1f}× median)" if typical and total > 1.5 * typical else ""
        duration_rows.append(_row(label, f'<svg class="track" width="100%" height="20" aria-hidden="true">{"".join(shapes)}{marker}</svg>',
                                  _e(_seconds(total)) + (f'<span class="bad">{_e(ratio)}</span>' if ratio else "")))
    counted = [(r.tests_passed or 0) + (r.tests_failed or 0) for r in rows if r.tests_passed is not None]
    most = max(counted, default=0) or 1
    typical_tests = median(counted) if counted else 0
    test_rows = []
    for row in rows:
        if row.tests_passed is None:
            test_rows.append(_row(_e(row.version), '<svg class="track" width="100%" height="20" aria-hidden="true"></svg>',
                                  '<span class="muted">no tests recorded</span>'))
            continue
        passed, failed = row.tests_passed or 0, row.tests_failed or 0
        pw, fw = 100.0 * passed / most, 100.0 * failed / most
        bars = (f'<rect x="0" y="3" width="{_pct(pw)}" height="14" fill="{FILL["passed"]}"><title>{passed} passed</title></rect>'
                  f'<rect x="{_pct(pw)}" y="3" width="{_pct(fw)}" height="14" fill="{FILL["failed"]}"><title>{failed} failed</title></rect>'
                  f'<line x1="{_pct(100.0 * typical_tests / most)}" x2="{_pct(100.0 * typical_tests / most)}" y1="0" y2="20" class="median"/>')
        fewer = passed + failed < 0.9 * typical_tests
        value = f"{passed + failed}" + (f', <span class="bad">{failed} ✘</span>' if failed else "")
        if fewer:
            value += ' <span class="bad">(fewer than usual)</span>'
        test_rows.append(_row(_e(row.version), f'<svg class="track" width="100%" height="20" aria-hidden="true">{bars}</svg>', value))
    legend = _legend([(phase, colours[phase]) for phase in phases if any(r.phase_seconds.get(phase) for r in rows)])
    return (
        '<h3>Time per release <span class="muted small">(every attempt, stacked by phase; the line marks the median)</span></h3>'
        f'<div class="chart rows history">{"".join(duration_rows)}</div>{legend}'
        '<h3>Tests per release <span class="muted small">(all matrix cells; the line marks the median)</span></h3>'
        f'<div class="chart rows history">{"".join(test_rows)}</div>'
    )
