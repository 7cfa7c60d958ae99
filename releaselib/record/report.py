"""Static HTML pages of release records, readable offline.

``write_report`` writes ``outputs/<package>/<version>/report.html`` (the
whole release on one page: the summary first, then every phase's executed
notebook, code collapsible) and ``outputs/index.html`` (every release found
under ``outputs/``). The pages carry their own CSS and a few lines of inline
script; they load nothing from the network and need no server: open them
from disk, or from the record committed to version control.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from releaselib.core.errors import RecordError, UsageError
from releaselib.record.audit import (
    PhaseSummary,
    _cell_counts,
    _cell_label,
    _seconds,
    _size,
    _when,
    _who,
    docs_summary,
    find_releases,
    load_release,
    phase_summaries,
    release_facts,
    unusual,
)
from releaselib.core.secrets import strip_userinfo
from releaselib.record.store import SUCCEEDED, Record, write_atomic

__all__ = ["render_notebook", "write_index", "write_release_report", "write_report"]

REPORT_NAME = "report.html"
INDEX_NAME = "index.html"

# Wraps every input area in <details> so code folds away; the rest is nbconvert's
# own "classic" body markup, which needs no external CSS or script.
_TEMPLATE = """{%- extends 'classic/base.html.j2' -%}
{% block input_group -%}
<details class="code" open><summary>code{% if cell.execution_count %} · In [{{ cell.execution_count }}]{% endif %}</summary>
<div class="input">
{{ super() }}
</div>
</details>
{% endblock input_group %}
"""

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa;
  --ok:#1a7f37; --ok-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9; --hand:#9a6700; --hand-bg:#fff8c5;
  --dry:#57606a; --dry-bg:#eaeef2; --accent:#0969da; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 80px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
.subtitle { color: var(--muted); margin: 0 0 20px; }
code, pre, .mono, .hash { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
.hash { word-break: break-all; color: #424a53; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.filename { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; font-weight: 600; word-break: break-all; }
#files .hash { font-size: 12px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600;
  line-height: 20px; white-space: nowrap; border: 1px solid transparent; }
.badge.succeeded, .badge.passed { color: var(--ok); background: var(--ok-bg); border-color: #aceebb; }
.badge.failed, .badge.error, .badge.timeout { color: var(--bad); background: var(--bad-bg); border-color: #ffcecb; }
.badge.manual { color: var(--hand); background: var(--hand-bg); border-color: #f5e0a0; }
.badge.dry-run, .badge.empty, .badge.other { color: var(--dry); background: var(--dry-bg); border-color: #d0d7de; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 8px 0 16px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.unusual { background: var(--hand-bg); border: 1px solid #f5e0a0; border-radius: 8px; padding: 10px 16px; }
.unusual ul { margin: 6px 0; padding-left: 20px; }
.toolbar { position: sticky; top: 0; background: rgba(255,255,255,.95); border-bottom: 1px solid var(--line);
  padding: 8px 32px; font-size: 13px; z-index: 5; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
.toolbar button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); background: var(--soft); border-radius: 6px; cursor: pointer; }
section.phase { margin-top: 28px; }
.phase-head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.phase-meta { color: var(--muted); font-size: 13px; margin: 2px 0 12px; }
.notebook { border: 1px solid var(--line); border-radius: 8px; padding: 8px 18px; background: #fff; }
details.attempt { margin: 10px 0; } details.attempt > summary { cursor: pointer; color: var(--muted); }
/* nbconvert classic body markup */
.notebook .cell { margin: 10px 0; }
.notebook .prompt { display: none; }
.notebook details.code > summary { cursor: pointer; color: var(--muted); font-size: 12px; user-select: none; }
.notebook .input_area { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; overflow-x: auto; }
.notebook .input_area pre { margin: 0; }
.notebook .output_area { margin: 6px 0 0; }
.notebook .output_area pre { margin: 0; padding: 6px 10px; white-space: pre-wrap; word-break: break-word; border-left: 3px solid var(--line); }
.notebook .output_stderr pre { background: #fff8f0; border-left-color: #f0b37e; }
.notebook .output_error pre { background: var(--bad-bg); border-left-color: var(--bad); }
.notebook .rendered_html table { width: auto; font-size: 13px; }
.notebook .rendered_html td, .notebook .rendered_html th { padding: 3px 10px; }
.notebook .rendered_html th { text-transform: none; letter-spacing: 0; color: var(--fg); }
.notebook .output_area { overflow-x: auto; }
.notebook .rendered_html td { word-break: break-word; }
.notebook .text_cell_render h1 { font-size: 22px; } .notebook .text_cell_render h2 { font-size: 17px; border: 0; margin: 18px 0 6px; }
.notebook .anchor-link { display: none; }
.notebook img { max-width: 100%; }
.ansi-red-fg { color: #cf222e; } .ansi-green-fg { color: #1a7f37; } .ansi-yellow-fg { color: #9a6700; }
.ansi-blue-fg { color: #0969da; } .ansi-cyan-fg { color: #1b7c83; } .ansi-magenta-fg { color: #8250df; }
.ansi-bold { font-weight: 700; }
body.hide-code details.code { display: none; }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; }
"""

_SCRIPT = """
document.getElementById('toggle-code').addEventListener('click', function () {
  var hidden = document.body.classList.toggle('hide-code');
  this.textContent = hidden ? 'Show code' : 'Hide code';
});
"""

# Anything that would make the page fetch from the network is dropped.
_EXTERNAL = re.compile(
    r"<(?:script|link|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>(?:\s*</(?:script|iframe)>)?",
    re.IGNORECASE,
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(result: Any, label: str | None = None) -> str:
    kind = str(result) if str(result) in ("succeeded", "failed", "passed", "error", "timeout", "empty") else "other"
    return f'<span class="badge {kind}">{_e(label or result)}</span>'


@lru_cache(maxsize=1)
def _exporter() -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="classic",
        template_file="releaselib_report.html.j2",
        extra_loaders=[DictLoader({"releaselib_report.html.j2": _TEMPLATE})],
        embed_images=True,
    )


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]

    return str(HtmlFormatter(style="default").get_style_defs(".notebook .highlight"))


def render_notebook(path: Path) -> str:
    """The body of an executed notebook as HTML (nbconvert, inputs in ``<details>``),
    with anything that would load from the network removed.

    Raises :class:`RecordError` when the notebook cannot be read or rendered.
    """
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        body, _ = _exporter().from_notebook_node(nb)
    except Exception as exc:
        raise RecordError(
            f"Cannot render {path}: {type(exc).__name__}: {exc}",
            hint="Check the notebook with `releaselib verify`; open it in JupyterLab to see what is wrong.",
        ) from exc
    return _EXTERNAL.sub("", str(body))


def _page(title: str, body: str, *, toolbar: str = "", script: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}{_pygments_css()}</style></head>\n<body>"
        f"{toolbar}<main>{body}</main>"
        + (f"<script>{script}</script>" if script else "")
        + "</body></html>\n"
    )


def _write_page(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))
    path.chmod(0o644)  # a page is for reading: not the private mode of the temporary file


# --------------------------------------------------------------------------- one release


def _summary_table(summaries: Sequence[PhaseSummary]) -> str:
    rows = []
    for s in summaries:
        badges = _badge(s.result)
        if s.manual:
            badges += " " + '<span class="badge manual">by hand</span>'
        if s.latest.get("dry_run"):
            badges += " " + '<span class="badge dry-run">dry run</span>'
        failed_before = sum(1 for a in s.attempts[:-1] if a.get("result") != SUCCEEDED)
        attempts = f"{len(s.attempts)}" + (f" ({failed_before} failed)" if failed_before else "")
        rows.append(
            f'<tr class="phase-row" data-phase="{_e(s.phase)}"><td><a href="#phase-{_e(s.phase)}">{_e(s.phase)}</a></td>'
            f"<td>{badges}</td><td class=\"num\">{_e(attempts)}</td><td class=\"num\">{_e(_seconds(s.duration))}</td></tr>"
        )
    return (
        '<table id="summary"><thead><tr><th>phase</th><th>result</th><th class="num">attempts</th>'
        '<th class="num">duration</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _facts_list(items: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in items) + "</dl>"


def _summary(record: Record) -> str:
    facts = release_facts(record)
    summaries = phase_summaries(record)
    parts = [
        f"<h1>{_e(facts['package'])} {_e(facts['version'])} {_badge(facts['result'])}</h1>",
        f'<p class="subtitle">Release record, {_e(_when(facts["created"]))} → {_e(_when(facts["ended"]))}</p>',
        "<h2>Phases</h2>",
        _summary_table(summaries) if summaries else "<p>No phase has run.</p>",
    ]
    repo = facts["repo"]
    people = [
        ("operator", _e(_who(facts["operator"]))),
        ("repository", f'<span class="mono">{_e(repo.get("path"))}</span>'),
        ("remote", f'{_e(repo.get("remote"))} <span class="mono">{_e(strip_userinfo(repo.get("remote_url") or "(no URL)"))}</span>'),
        ("tools", _e(", ".join(f"{k} {v}" for k, v in facts["tools"].items()))),
    ]
    parts += ["<h2>Who, where, with what</h2>", _facts_list(people)]

    commits = [("before the release", f'<span class="hash">{_e(facts["commit_before"] or "-")}</span>')]
    if facts["bump_commit"] or facts["tag"]:
        commits.append(("BUMP commit", f'<span class="hash">{_e(facts["bump_commit"] or "-")}</span>'))
        commits.append(("tag", f'<span class="mono">{_e(facts["tag"] or "-")}</span>'))
    if facts["post_release_commit"] or facts["next_version"]:
        commits.append(
            ("post-release", (f'<span class="hash">{_e(facts["post_release_commit"] or "-")}</span> '
                              f'(next version <span class="mono">{_e(facts["next_version"] or "-")}</span>)'))
        )
    commits.append(("after the release", f'<span class="hash">{_e(facts["commit_after"] or "-")}</span>'))
    parts += ["<h2>Commits</h2>", _facts_list(commits)]

    if facts["matrix"]:
        passed = sum(1 for c in facts["matrix"] if c.get("result") == "passed")
        rows = "".join(
            f"<tr><td>{_e(_cell_label(c))}</td><td>{_badge(c.get('result'))}</td><td>{_e(_cell_counts(c))}</td>"
            f"<td class=\"num\">{_e(_seconds(c.get('duration')))}</td>"
            f"<td>{_log_link(c.get('log'))}</td></tr>"
            for c in facts["matrix"]
        )
        parts += [
            f"<h2>Test matrix <small>({passed} of {len(facts['matrix'])} cells passed)</small></h2>",
            ('<table id="matrix"><thead><tr><th>cell</th><th>result</th><th>tests</th><th class="num">duration</th>'
             f"<th>log</th></tr></thead><tbody>{rows}</tbody></table>"),
        ]
        if facts["skipped_interpreters"]:
            parts.append(f"<p>Skipped interpreters: {_e(', '.join(facts['skipped_interpreters']))}</p>")

    if facts["files"]:
        rows = "".join(
            f"<tr><td><div class=\"filename\">{_e(f['filename'])}</div>"
            f"<div class=\"hash\">sha256 {_e(f.get('sha256') or '?')}</div></td>"
            f"<td class=\"num\">{_e(_size(f.get('size')))}</td></tr>"
            for f in facts["files"]
        )
        parts += [
            f"<h2>Files <small>({_e(facts['files_phase'])})</small></h2>",
            ('<table id="files"><thead><tr><th>file and sha256</th><th class="num">size</th></tr></thead>'
             f"<tbody>{rows}</tbody></table>"),
        ]

    if facts["message_id"] or facts["docs"]:
        items = []
        if facts["message_id"]:
            items.append(("announcement", f'Message-ID <span class="mono">{_e(facts["message_id"])}</span>'))
        if facts["docs"]:
            docs = facts["docs"]
            url = docs.get("url")
            link = f'<a class="mono" href="{_e(url)}">{_e(url)}</a>' if url else "?"
            items.append(("docs", f"{link} ({_e(docs_summary(docs))})"))
        parts += ["<h2>Announcement and docs</h2>", _facts_list(items)]

    notes = unusual(record)
    parts.append("<h2>Unusual</h2>")
    if notes:
        parts.append('<div class="unusual"><ul>' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul></div>")
    else:
        parts.append("<p>Nothing: every phase ran headless, once, for real, and succeeded.</p>")
    return "\n".join(parts)


def _log_link(log: Any) -> str:
    if not log:
        return ""
    return f'<a class="mono" href="{_e(log)}">{_e(Path(str(log)).name)}</a>'


def _attempt_meta(entry: Mapping[str, Any]) -> str:
    bits = [f"attempt {entry.get('attempt')}", _seconds(entry.get("duration"))]
    if entry.get("mode") == "manual":
        bits.append(f"run by hand by {_who(entry.get('run_by'))}")
    else:
        bits.append("headless")
    if entry.get("dry_run"):
        bits.append("dry run")
    bits.append(f"started {_when(entry.get('started'))}")
    meta = " · ".join(_e(b) for b in bits)
    if entry.get("notebook"):
        meta += (
            f' · <a class="mono" href="{_e(entry["notebook"])}">{_e(entry["notebook"])}</a>'
            f' sha256 <span class="hash">{_e(entry.get("notebook_sha256"))}</span>'
        )
    if entry.get("reason"):
        meta += f"<br>reason: {_e(entry['reason'])}"
    return meta


def _notebook_html(record: Record, entry: Mapping[str, Any]) -> str:
    name = entry.get("notebook")
    if not name:
        return "<p>No notebook was archived for this attempt.</p>"
    path = record.directory / str(name)
    if not path.is_file():
        return f"<p><strong>The notebook {_e(name)} is missing from the record.</strong></p>"
    return f'<div class="notebook">{render_notebook(path)}</div>'


def _phase_section(record: Record, summary: PhaseSummary) -> str:
    latest = summary.latest
    badges = _badge(summary.result)
    if summary.manual:
        badges += ' <span class="badge manual">by hand</span>'
    if latest.get("dry_run"):
        badges += ' <span class="badge dry-run">dry run</span>'
    parts = [
        f'<section class="phase" id="phase-{_e(summary.phase)}">',
        f'<div class="phase-head"><h2>{_e(summary.phase)}</h2>{badges}</div>',
        f'<p class="phase-meta">{_attempt_meta(latest)}</p>',
        _notebook_html(record, latest),
    ]
    for entry in reversed(summary.attempts[:-1]):
        parts.append(
            f'<details class="attempt"><summary>Earlier attempt {_e(entry.get("attempt"))}: '
            f"{_badge(entry.get('result'))} {_e(entry.get('reason') or '')}</summary>"
            f'<p class="phase-meta">{_attempt_meta(entry)}</p>{_notebook_html(record, entry)}</details>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def write_release_report(record_dir: Path) -> Path:
    """Write ``report.html`` into the record folder ``record_dir`` and return its path.

    Raises :class:`RecordError` when the record cannot be read.
    """
    record = Record.load(Path(record_dir))
    if not record.exists:
        raise RecordError(f"No record in {record_dir}.", hint="Run the release first: releaselib run VERSION.")
    summaries = phase_summaries(record)
    title = f"{record.data.get('package')} {record.data.get('version')}: release record"
    links = " ".join(f'<a href="#phase-{_e(s.phase)}">{_e(s.phase.split("_", 1)[-1] or s.phase)}</a>' for s in summaries)
    toolbar = (
        '<nav class="toolbar"><a href="../../index.html">all releases</a>'
        f'<span>{links}</span><button id="toggle-code" type="button">Hide code</button></nav>'
    )
    body = _summary(record) + "\n" + "\n".join(_phase_section(record, s) for s in summaries)
    body += '<footer>Written by releaselib from <span class="mono">record.json</span>; ' \
            "the record, not this page, is the authority (check it with <code>releaselib verify</code>).</footer>"
    path = record.directory / REPORT_NAME
    _write_page(path, _page(title, body, toolbar=toolbar, script=_SCRIPT))
    return path


# --------------------------------------------------------------------------- the index


def write_index(outputs: Path) -> Path:
    """Write ``outputs/index.html`` listing every release under ``outputs``; return its path."""
    outputs = Path(outputs)
    rows = []
    for package, version, folder in sorted(find_releases(outputs), key=lambda r: (r[0], r[2].stat().st_mtime), reverse=True):
        try:
            record = Record.load(folder)
            facts = release_facts(record)
            result, created = facts["result"], _when(facts["created"])
            phases = len(phase_summaries(record))
        except RecordError:
            result, created, phases = "unreadable", "?", 0
        report = folder / REPORT_NAME
        link = (
            f'<a href="{_e(report.relative_to(outputs).as_posix())}">report</a>' if report.is_file() else "(no report yet)"
        )
        rows.append(
            f"<tr><td>{_e(package)}</td><td class=\"mono\">{_e(version)}</td><td>{_e(created)}</td>"
            f"<td>{_badge(result)}</td><td class=\"num\">{phases}</td><td>{link}</td></tr>"
        )
    body = (
        "<h1>Releases</h1>"
        f'<p class="subtitle">Every release record under <span class="mono">{_e(outputs.resolve())}</span></p>'
        '<table id="releases"><thead><tr><th>package</th><th>version</th><th>started</th><th>result</th>'
        '<th class="num">phases</th><th>report</th></tr></thead><tbody>'
        + ("".join(rows) or '<tr><td colspan="6">No release records yet.</td></tr>')
        + "</tbody></table>"
    )
    path = outputs / INDEX_NAME
    _write_page(path, _page("Releases", body))
    return path


def write_report(outputs: Path, package: str | None = None, version: str | None = None) -> Path:
    """Write the HTML pages and return the one asked for.

    With ``version``: that release's ``report.html`` (``package`` required),
    plus the index; returns the release page. Without: every release's page
    under ``outputs`` (of ``package`` only, when given), plus the index;
    returns ``outputs/index.html``. Raises :class:`RecordError` when the
    release has no readable record, :class:`UsageError` for a version without
    a package.
    """
    outputs = Path(outputs)
    if version is not None:
        if not package:
            raise UsageError("A report of one version needs its package.", hint="Pass --package.")
        record = load_release(outputs, package, version)
        page = write_release_report(record.directory)
        write_index(outputs)
        return page
    releases = [r for r in find_releases(outputs) if package is None or r[0] == package]
    if not releases:
        raise RecordError(
            f"No release records in {outputs}" + (f" for {package}" if package else "") + ".",
            hint="Run a release first (releaselib run VERSION), or pass --outputs.",
        )
    for _, _, folder in releases:
        write_release_report(folder)
    return write_index(outputs)
