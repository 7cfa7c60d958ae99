"""Static HTML pages of release records, readable offline.

``write_report`` writes ``outputs/<package>/<version>/report.html``, the
release on one short page: the summary first (who, what, when, commits, a
timeline of every attempt, the test matrix as a grid, files and hashes, the
announcement as sent, API changes, unusual things), then each phase folded,
with its recorded values as tables and a link to its executed notebook. The
notebooks are pages of their own under ``report_files/``, rendered once and
kept (:mod:`releaselib.record.notebook_pages`). ``outputs/index.html`` lists
every release, with its history in pictures (time and tests per release).

The pages carry their own CSS and pictures (inline SVG); they need no script
to be read, load nothing from the network and need no server.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from releaselib.core.errors import RecordError, UsageError
from releaselib.core.secrets import environment_secrets, scrubbed, strip_userinfo
from releaselib.record import notebook_pages
from releaselib.record.charts import ReleaseRow, history_html, matrix_svg, timeline_html
from releaselib.record.notebook_pages import FILES_DIR, log_page, notebook_page, page_manifest, render_notebook
from releaselib.record.readable import strip_ansi, value_html
from releaselib.record.report_style import CSS, SCRIPT
from releaselib.record.store import SUCCEEDED, Record, write_atomic
from releaselib.record.summary import (
    PhaseSummary,
    ReleaseState,
    _seconds,
    _size,
    _when,
    _who,
    configured_phases,
    docs_summary,
    find_releases,
    load_release,
    matrix_totals,
    phase_summaries,
    release_facts,
    release_state,
    status_word,
    unusual,
)

__all__ = ["FILES_DIR", "render_notebook", "write_index", "write_release_report", "write_report"]

REPORT_NAME = "report.html"
INDEX_NAME = "index.html"


def _e(value: Any) -> str:
    return html.escape(strip_ansi("" if value is None else str(value)))


def _badge(result: Any, label: str | None = None) -> str:
    result = str(result)
    kind = {"succeeded": "ok", "passed": "ok", "complete": "ok", "failed": "bad", "error": "bad", "timeout": "bad",
            "interrupted": "bad", "in progress": "warn"}.get(result, "other")
    return f'<span class="badge {kind}">{_e(label or status_word(result))}</span>'


def _page(title: str, body: str, *, toolbar: str = "", script: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>"
        f"{toolbar}<main>{body}</main>"
        + (f"<script>{script}</script>" if script else "")
        + "</body></html>\n"
    )


def _write_page(path: Path, text: str) -> None:
    write_atomic(path, scrubbed(text).encode("utf-8"))
    path.chmod(0o644)  # a page is for reading: not the private mode of the temporary file


def _facts_list(items: Sequence[tuple[str, str]], css: str = "facts") -> str:
    return f'<dl class="{css}">' + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in items) + "</dl>"


def _hash(value: Any) -> str:
    return f'<span class="hash">{_e(value or "-")}</span>'


def _short_name(phase: str) -> str:
    return phase.split("_", 1)[-1] or phase


# --------------------------------------------------------------------------- the summary


def _state_line(state: ReleaseState) -> str:
    text = state.describe()
    return _badge(state.state, ("✔ " if state.complete else "◐ " if state.state == "in progress" else "· ") + text)


def _phases_table(summaries: Sequence[PhaseSummary], not_run: Sequence[str]) -> str:
    rows = []
    for s in summaries:
        notes = []
        if s.manual:
            notes.append('<span class="badge hand">by hand</span>')
        if s.latest.get("dry_run"):
            notes.append('<span class="badge other">dry run</span>')
        failed_before = sum(1 for a in s.attempts[:-1] if a.get("result") != SUCCEEDED)
        attempts = ""
        if len(s.attempts) > 1:
            attempts = f' <span class="muted">({len(s.attempts)} attempts' + (
                f', <span class="bad">{failed_before} failed</span>' if failed_before else "") + ")</span>"
        rows.append(
            f'<tr class="phase-row" data-phase="{_e(s.phase)}"><td><a href="#phase-{_e(s.phase)}">{_e(s.phase)}</a></td>'
            f"<td>{_badge(s.result)} {' '.join(notes)}</td><td>{_e(_seconds(s.duration))}{attempts}</td></tr>"
        )
    for phase in not_run:
        rows.append(f'<tr class="phase-row not-run" data-phase="{_e(phase)}"><td>{_e(phase)}</td>'
                    f'<td>{_badge("not run")}</td><td>-</td></tr>')
    return (
        '<div class="scroll"><table id="phases-table"><thead><tr><th>phase</th><th>result</th>'
        '<th>duration</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>"
    )


def _log_link(log: Any) -> str:
    if not log:
        return ""
    return f'<a class="mono" href="{_e(log)}">{_e(Path(str(log)).name)}</a>'


def _commits(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    commits = [("before the release", _hash(facts["commit_before"]))]
    if facts["bump_commit"] or facts["tag"]:
        commits.append(("BUMP commit", f'{_hash(facts["bump_commit"])} tag <span class="mono">{_e(facts["tag"] or "-")}</span>'))
    if facts["post_release_commit"] or facts["next_version"]:
        commits.append(("post-release", (f'{_hash(facts["post_release_commit"])} (next version '
                                        f'<span class="mono">{_e(facts["next_version"] or "-")}</span>)')))
    commits.append(("after the release", _hash(facts["commit_after"])))
    return commits


def _matrix_section(facts: Mapping[str, Any], directory: Path) -> str:
    matrix = facts["matrix"]
    if not matrix:
        return ""
    passed = sum(1 for c in matrix if c.get("result") == "passed")
    totals = matrix_totals(matrix)
    tests = f", {totals[0]} tests passed, {totals[1]} failed" if totals else ""
    skipped = (f'<p class="muted">Skipped interpreters (not found on the machine): '
               f'{_e(", ".join(facts["skipped_interpreters"]))}</p>' if facts["skipped_interpreters"] else "")
    # Cells link to a clean copy of their log (no terminal codes), made once.
    cells = [{**c, "log": log_page(directory, str(c["log"])) or c["log"]} if c.get("log") else c for c in matrix]
    return (f'<section id="matrix"><h2>Test matrix <small>{passed} of {len(matrix)} cells passed{_e(tests)}</small></h2>'
            f'<figure class="chart">{matrix_svg(cells, facts["skipped_interpreters"])}'
            '<figcaption class="muted small">Each cell links to its log.</figcaption></figure>'
            f"{skipped}</section>")


def _files_section(facts: Mapping[str, Any]) -> str:
    if not facts["files"]:
        return ""
    rows = "".join(
        f'<tr><td><div class="filename">{_e(f["filename"])}</div>'
        f'<div><span class="muted small">sha256</span> {_hash(f.get("sha256") or "?")}</div></td>'
        f'<td>{_e(f.get("kind") or "")}</td><td class="nowrap">{_e(_size(f.get("size")))}</td></tr>'
        for f in facts["files"]
    )
    return (f'<section id="files"><h2>Files <small>as recorded by {_e(facts["files_phase"])}</small></h2>'
            '<div class="scroll"><table class="files"><thead><tr><th>file and sha256</th><th>kind</th><th>size</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div></section>")


def _announcement_section(facts: Mapping[str, Any]) -> str:
    mail = facts["announcement"]
    docs = facts["docs"]
    if not mail and not docs:
        return ""
    parts = ['<section id="announcement"><h2>Announcement and docs</h2>']
    if mail:
        items = [("sent", _badge("succeeded", "✔ sent") if mail.get("sent") else _badge("other", "· not sent"))]
        for label, key in (("subject", "subject"), ("from", "sender"), ("Message-ID", "message_id"), ("date", "date")):
            if mail.get(key):
                items.append((label, f'<span class="mono">{_e(mail[key])}</span>' if key == "message_id" else _e(mail[key])))
        if mail.get("to"):
            items.append(("to", _e(", ".join(mail["to"]))))
        if mail.get("error"):
            items.append(("problem", _e(mail["error"])))
        parts.append(_facts_list(items))
        if mail.get("body"):
            parts.append(f'<details class="mail" open><summary>The text as sent</summary><pre class="mail">{_e(mail["body"])}</pre></details>')
    if docs:
        url = strip_userinfo(str(docs["url"])) if docs.get("url") else None
        link = f'<a class="mono" href="{_e(url)}">{_e(url)}</a>' if url else "?"
        parts.append(_facts_list([("docs", f"{link} ({_e(docs_summary(docs))})")]))
    parts.append("</section>")
    return "".join(parts)


def _api_section(facts: Mapping[str, Any]) -> str:
    api = facts["api"]
    if not api:
        return ""
    details = {k: v for k, v in api.items() if k not in ("summary", "against") and v not in (None, [], {})}
    return (f'<section id="api"><h2>API changes <small>against {_e(api.get("against") or "no earlier release")}'
            f'</small></h2><p>{_e(api.get("summary") or "")}</p>'
            + (f'<details><summary>Changes, waivers, ledger</summary>{value_html(details)}</details>' if details else "")
            + "</section>")


def _summary(record: Record, summaries: Sequence[PhaseSummary]) -> str:
    facts = release_facts(record)
    state: ReleaseState = facts["state"]
    repo = facts["repo"]
    duration = ""
    entries = [e for e in record.entries if e.get("duration")]
    if entries:
        duration = f" · {_seconds(sum(float(e['duration']) for e in entries))} of phase time"
    tools = ", ".join(f"{k} {v}" for k, v in facts["tools"].items())
    who = [
        ("operator", _e(_who(facts["operator"]))),
        ("when", f"{_e(_when(facts['created']))} → {_e(_when(facts['ended']))}{_e(duration)}"),
        ("repository", f'<span class="mono">{_e(repo.get("path"))}</span>'),
        ("remote", f'{_e(repo.get("remote"))} <span class="mono">{_e(strip_userinfo(repo.get("remote_url") or "(no URL)"))}</span>'),
        *_commits(facts),
        ("tools", f'<details><summary>{len(facts["tools"])} tool versions</summary>{_e(tools)}</details>'),
    ]
    notes = unusual(record)
    unusual_html = (
        '<div class="unusual"><ul>' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul></div>"
        if notes else "<p>Nothing: every phase ran headless, once, for real, and succeeded.</p>"
    )
    return "\n".join([
        (f'<header><h1>{_e(facts["package"])} {_e(facts["version"])} {_badge(state.state, status_word(state.state))}</h1>'
        f'<p class="subtitle">{_e(state.describe())}</p></header>'),
        f'<section id="summary"><h2>Summary</h2>{_facts_list(who)}',
        _phases_table(summaries, state.not_run),
        "</section>",
        ('<section id="timeline"><h2>Timeline <small>one bar per attempt, each linking to its phase</small></h2>'
        f'<figure class="chart">{timeline_html(summaries, state.not_run)}</figure></section>'),
        _matrix_section(facts, record.directory),
        _files_section(facts),
        _announcement_section(facts),
        _api_section(facts),
        f'<section id="unusual-things"><h2>Unusual</h2>{unusual_html}</section>',
    ])


# --------------------------------------------------------------------------- phases, folded


def _attempt_meta(entry: Mapping[str, Any]) -> str:
    bits = [f"attempt {entry.get('attempt')}", _seconds(entry.get("duration"))]
    bits.append(f"run by hand by {_who(entry.get('run_by'))}" if entry.get("mode") == "manual" else "headless")
    if entry.get("dry_run"):
        bits.append("dry run")
    bits.append(f"started {_when(entry.get('started'))}")
    meta = " · ".join(_e(b) for b in bits)
    if entry.get("reason"):
        meta += f'<br><span class="bad">reason:</span> {_e(entry["reason"])}'
    return meta


def _notebook_link(record: Record, entry: Mapping[str, Any], anchor: str, rendered: list[str], *,
                   short: bool = False) -> str:
    name = entry.get("notebook")
    if not name:
        return "<p>No notebook was archived for this attempt.</p>"
    path = record.directory / str(name)
    if not path.is_file():
        return f"<p><strong>The notebook {_e(name)} is missing from the record.</strong></p>"
    title = f"{record.data.get('package')} {record.data.get('version')}: {entry.get('phase')} attempt {entry.get('attempt')}"
    try:
        page, fresh = notebook_page(record.directory, str(name), title=title, back=f"{REPORT_NAME}#{anchor}", css=CSS,
                                    recorded_sha256=entry.get("notebook_sha256"))
    except RecordError as exc:
        return f"<p><strong>{_e(exc.message)}</strong></p>"
    if fresh:
        rendered.append(page)
    if short:
        return f' <a href="{_e(page)}">its notebook</a> <span class="muted">(<a class="mono" href="{_e(name)}">{_e(name)}</a>)</span>'
    return (f'<p class="nb-links"><a class="button" href="{_e(page)}">Open the executed notebook</a> '
            f'<a class="mono" href="{_e(name)}">{_e(name)}</a> <span class="muted">sha256</span> '
            f"{_hash(entry.get('notebook_sha256'))}</p>")


def _values(entry: Mapping[str, Any]) -> str:
    values = entry.get("values") or {}
    if not values:
        return '<p class="muted">No values recorded.</p>'
    return '<div class="recorded">' + value_html(values, link_prefix="") + "</div>"


def _phase_section(record: Record, summary: PhaseSummary, rendered: list[str]) -> str:
    anchor = f"phase-{summary.phase}"
    latest = summary.latest
    extra = ""
    if summary.manual:
        extra += ' <span class="badge hand">by hand</span>'
    if latest.get("dry_run"):
        extra += ' <span class="badge other">dry run</span>'
    earlier = ""
    if len(summary.attempts) > 1:
        earlier = f' · <span class="muted">{len(summary.attempts)} attempts</span>'
    parts = [
        (f'<details class="phase" id="{_e(anchor)}"><summary><span class="phase-name">{_e(summary.phase)}</span> '
        f"{_badge(summary.result)}{extra} <span class=\"muted\">{_e(_seconds(summary.duration))}</span>{earlier}</summary>"),
        f'<div class="phase-body"><p class="meta">{_attempt_meta(latest)}</p>',
        _notebook_link(record, latest, anchor, rendered),
        _values(latest),
    ]
    if len(summary.attempts) > 1:
        # Earlier attempts a line each: their values are on their notebook's page, one click on.
        items = []
        for entry in reversed(summary.attempts[:-1]):
            items.append(
                f"<li>Earlier attempt {_e(entry.get('attempt'))}: {_badge(entry.get('result'))} "
                f'<span class="meta">{_attempt_meta(entry)}</span>{_notebook_link(record, entry, anchor, rendered, short=True)}</li>'
            )
        parts.append(f'<h3>Earlier attempts ({len(items)})</h3><ul class="attempts">{"".join(items)}</ul>')
    parts.append("</div></details>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- a page kept while current

#: The modules whose code shapes a release page: a change to any of them makes every page stale.
_PAGE_CODE = ("report", "charts", "summary", "readable", "report_style", "notebook_pages", "values")
_INPUTS = re.compile(r"<!-- releaselib report inputs=([0-9a-f]{64}) -->")


def _stamps(folder: str) -> list[tuple[str, int, int]]:
    try:
        with os.scandir(folder) as found:
            return sorted((e.name, *_stat(e)) for e in found if e.name != REPORT_NAME)
    except OSError:
        return []


def _stat(entry: os.DirEntry[str]) -> tuple[int, int]:
    status = entry.stat(follow_symlinks=False)
    return status.st_mtime_ns, status.st_size


def page_inputs(record: Record) -> str:
    """A digest of everything a release page is made from: the files of the record folder
    (record.json, notebooks, the announcement, ``logs/``, the notebook pages' manifest; by
    name, size and modification time) and the code that renders it (and the notebooks' renderer).

    A record's attempts never change once written, so a page whose digest matches is
    current and is not rendered again: that keeps ``report`` flat as records grow.
    """
    folder = os.fspath(record.directory)
    here = os.path.dirname(os.path.abspath(__file__))
    code = []
    for name in _PAGE_CODE:
        try:
            status = os.stat(os.path.join(here, f"{name}.py"))
            code.append((name, status.st_mtime_ns, status.st_size))
        except OSError:
            code.append((name, 0, 0))
    parts = [code, notebook_pages.RENDERER, _stamps(folder), _stamps(os.path.join(folder, "logs")), _stamps(os.path.join(folder, FILES_DIR))]
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def _page_is_current(path: Path, digest: str) -> bool:
    """Whether the page at ``path`` was written from inputs of ``digest`` and holds no secret of this environment."""
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(200)
            match = _INPUTS.search(head)
            if match is None or match.group(1) != digest:
                return False
            if environment_secrets():  # rare: a secret in this environment must not stay on a page
                return _clean(path)
    except OSError:
        return False
    return True


def _clean(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return scrubbed(text) == text


def render_pages(record_dir: Path) -> int:
    """Render the page of every archived notebook of the record whose page is not current, as the
    report would; return how many were rendered.

    A caller may run it while a release goes on (the demo does, after each phase), so that the
    report written at the end has only itself to write. Not concurrently with another writer of
    the same record's pages.
    """
    record = Record.load(Path(record_dir))
    rendered: list[str] = []
    with page_manifest(record.directory):
        for entry in record.entries:
            _notebook_link(record, entry, f"phase-{entry.get('phase')}", rendered)
    return len(rendered)


def write_release_report(record_dir: Path | Record) -> Path:
    """Write ``report.html`` (and any notebook page not yet current under ``report_files/``)
    into the record folder ``record_dir`` (or of the loaded record); return the report's path.

    Raises :class:`RecordError` when the record cannot be read.
    """
    record = record_dir if isinstance(record_dir, Record) else Record.load(Path(record_dir))
    if not record.exists:
        raise RecordError(f"No record in {record_dir}.", hint="Run the release first: releaselib run VERSION.")
    path = record.directory / REPORT_NAME
    digest = page_inputs(record)
    if _page_is_current(path, digest):
        return path
    summaries = phase_summaries(record)
    title = f"{record.data.get('package')} {record.data.get('version')}: release record"
    links = [("#summary", "Summary"), ("#timeline", "Timeline")]
    facts_links = [("#matrix", "Tests", "01_test"), ("#files", "Files", None), ("#announcement", "Mail", None)]
    links += [(href, label) for href, label, _ in facts_links]
    links += [("#unusual-things", "Unusual"), ("#phases", "Phases")]
    toolbar = (
        '<nav class="toolbar"><a href="../../index.html">All releases</a><span class="sep">|</span>'
        + "".join(f'<a href="{href}">{label}</a>' for href, label in links) + "</nav>"
    )
    rendered: list[str] = []
    with page_manifest(record.directory):
        phases = "\n".join(_phase_section(record, s, rendered) for s in summaries)
    body = (
        _summary(record, summaries)
        + '\n<section id="phases"><h2>Phases <small>each folded: open one for its values and its notebook</small></h2>'
        + '<p class="muted small"><a href="#" id="open-all">open all</a></p>'
        + (phases or "<p>No phase has run.</p>") + "</section>"
        + '<footer>Written by releaselib from <span class="mono">record.json</span>; '
        "the record, not this page, is the authority (check it with <code>releaselib verify</code>).</footer>"
    )
    # Drop the links to sections this release does not have.
    for href, label, _ in facts_links:
        if f'id="{href[1:]}"' not in body:
            toolbar = toolbar.replace(f'<a href="{href}">{label}</a>', "")
    page = _page(title, body, toolbar=toolbar, script=SCRIPT)
    _write_page(path, page.replace("\n", f"\n<!-- releaselib report inputs={page_inputs(record)} -->\n", 1))
    return path


# --------------------------------------------------------------------------- the index


def _release_row(record: Record, href: str | None) -> ReleaseRow:
    seconds: dict[str, float] = {}
    for entry in record.entries:
        if isinstance(entry.get("duration"), (int, float)):
            seconds[str(entry.get("phase"))] = seconds.get(str(entry.get("phase")), 0.0) + float(entry["duration"])
    facts = release_facts(record)
    totals = matrix_totals(facts["matrix"])
    return ReleaseRow(str(record.data.get("version")), release_state(record).state, seconds,
                      totals[0] if totals else None, totals[1] if totals else None, href)


def _loaded(releases: Sequence[tuple[str, str, Path]], known: Sequence[Record] = ()
            ) -> list[tuple[str, str, Path, Record | None]]:
    """Each release with its record (None when unreadable; ``known`` ones are not read
    again); per package, the newest first (by the record's start, else the folder's time)."""
    loaded = []
    by_folder = {record.directory.resolve(): record for record in known}
    for package, version, folder in releases:
        try:
            record: Record | None = by_folder.get(folder.resolve()) or Record.load(folder)
        except RecordError:
            record = None
        started = str(record.data.get("created") or "") if record is not None else ""
        loaded.append((package, started or str(folder.stat().st_mtime), version, folder, record))
    loaded.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(package, version, folder, record) for package, _, version, folder, record in
            sorted(loaded, key=lambda item: item[0])]


def write_index(outputs: Path, known: Sequence[Record] = ()) -> Path:
    """Write ``outputs/index.html``: every release under ``outputs`` (state, time, tests,
    link to its report) and, per package, its history as pictures; return its path.
    ``known``: records already loaded, not read again."""
    outputs = Path(outputs)
    rows = []
    history: dict[str, list[tuple[str, ReleaseRow, list[str]]]] = {}
    for package, version, folder, loaded in _loaded(find_releases(outputs), known):
        report = folder / REPORT_NAME
        href = report.relative_to(outputs).as_posix() if report.is_file() else None
        link = f'<a href="{_e(href)}">report</a>' if href else "(no report yet)"
        try:
            if loaded is None:
                raise RecordError(f"{folder}: unreadable record")
            record = loaded
            state = release_state(record)
            created = str(record.data.get("created") or "")
            row = _release_row(record, href)
            tests = f"{row.tests_passed} passed" + (f", {row.tests_failed} failed" if row.tests_failed else "") \
                if row.tests_passed is not None else "-"
            if not version.endswith("-dry-run"):
                history.setdefault(package, []).append((created, row, configured_phases(record)))
            cells = (f"<td>{_e(_when(created))}</td><td>{_state_line(state)}</td>"
                     f"<td>{_e(_seconds(sum(row.phase_seconds.values())))}</td><td>{_e(tests)}</td>")
        except RecordError:
            cells = f"<td>?</td><td>{_badge('failed', '✘ unreadable record')}</td><td>-</td><td>-</td>"
        rows.append(f"<tr><td>{_e(package)}</td><td class=\"mono\">{_e(version)}</td>{cells}<td>{link}</td></tr>")
    charts = []
    for package in sorted(history):
        items = sorted(history[package], key=lambda item: item[0])
        phases = list(dict.fromkeys(p for _, row, configured in items for p in [*configured, *row.phase_seconds]))
        charts.append(f'<section class="history" id="history-{_e(package)}"><h2>{_e(package)}: release history</h2>'
                      f"{history_html([row for _, row, _ in items], phases)}</section>")
    body = (
        "<h1>Releases</h1>"
        f'<p class="subtitle">Every release record under <span class="mono">{_e(outputs.resolve())}</span></p>'
        '<div class="scroll"><table id="releases"><thead><tr><th>package</th><th>version</th><th>started</th>'
        "<th>state</th><th>phase time</th><th>tests</th><th>report</th></tr></thead><tbody>"
        + ("".join(rows) or '<tr><td colspan="7">No release records yet.</td></tr>')
        + "</tbody></table></div>" + "".join(charts)
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
        page = write_release_report(record)
        write_index(outputs, [record])
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
