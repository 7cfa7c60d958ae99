"""``releaselib review``: the release at a glance, as plain text, from the record alone."""

from __future__ import annotations

from pathlib import Path

from releaselib.core.secrets import strip_userinfo
from releaselib.record.readable import strip_ansi
from releaselib.record.summary import (
    _cell_counts,
    _cell_label,
    _seconds,
    _size,
    _when,
    _who,
    docs_summary,
    load_release,
    matrix_totals,
    phase_summaries,
    release_facts,
    status_word,
    unusual,
)

__all__ = ["review_text"]


def review_text(outputs: Path, package: str, version: str) -> str:
    """The release at a glance, as plain text: operator, when, tools, repository and remote;
    each phase with result, duration and attempts; commits and tag; the matrix; the files
    with their sha256; the announcement; the docs; and an "Unusual" section.

    Raises :class:`RecordError` when there is no readable record.
    """
    record = load_release(outputs, package, version)
    facts = release_facts(record)
    lines: list[str] = []
    add = lines.append
    add(f"{facts['package']} {facts['version']}: {facts['state'].describe()}")
    add(f"  record     {record.directory}")
    add(f"  operator   {_who(facts['operator'])}")
    add(f"  when       {_when(facts['created'])} -> {_when(facts['ended'])}")
    repo = facts["repo"]
    add(f"  repository {repo.get('path') or '?'}")
    add(f"  remote     {repo.get('remote') or '?'} {strip_userinfo(repo.get('remote_url') or '(no URL)')}")
    tools = facts["tools"]
    add("  tools      " + ", ".join(f"{name} {tools[name]}" for name in tools))

    add("")
    add("Phases")
    summaries = phase_summaries(record)
    if not summaries:
        add("  (no phase has run)")
    not_run = facts["state"].not_run
    width = max((len(p) for p in [*(s.phase for s in summaries), *not_run]), default=0)
    for s in summaries:
        attempts = f"{len(s.attempts)} attempt" + ("s" if len(s.attempts) != 1 else "")
        notes = []
        if s.manual:
            notes.append(f"by hand: {_who(s.latest.get('run_by'))}")
        if s.latest.get("dry_run"):
            notes.append("dry run")
        tail = f"  ({'; '.join(notes)})" if notes else ""
        add(f"  {s.phase:<{width}}  {status_word(s.result):<11}  {_seconds(s.duration):>7}  {attempts}{tail}")
    for phase in not_run:
        add(f"  {phase:<{width}}  {status_word('not run')}")

    add("")
    add("Commits")
    add(f"  before the release  {facts['commit_before'] or '-'}")
    if facts["bump_commit"] or facts["tag"]:
        add(f"  BUMP commit         {facts['bump_commit'] or '-'}  tag {facts['tag'] or '-'}")
    if facts["post_release_commit"] or facts["next_version"]:
        add(f"  post-release        {facts['post_release_commit'] or '-'}  (next version {facts['next_version'] or '-'})")
    add(f"  after the release   {facts['commit_after'] or '-'}")

    matrix = facts["matrix"]
    if matrix:
        add("")
        passed = sum(1 for c in matrix if c.get("result") == "passed")
        totals = matrix_totals(matrix)
        tests = f"; {totals[0]} tests passed, {totals[1]} failed" if totals else ""
        add(f"Test matrix: {passed} of {len(matrix)} cells passed{tests}")
        labels = [_cell_label(c) for c in matrix]
        lw = max(len(label) for label in labels)
        for label, cell in zip(labels, matrix):
            add(f"  {label:<{lw}}  {status_word(cell.get('result')):<9}  {_cell_counts(cell):<22}  "
                f"{_seconds(cell.get('duration'))}")
    if facts["skipped_interpreters"]:
        add(f"  skipped: {', '.join(facts['skipped_interpreters'])}")

    if facts["files"]:
        add("")
        add(f"Files ({facts['files_phase']})")
        fw = max(len(str(f["filename"])) for f in facts["files"])
        for f in facts["files"]:
            add(f"  {f['filename']:<{fw}}  {_size(f.get('size')):>12}  sha256 {f.get('sha256') or '?'}")

    mail = facts["announcement"]
    if mail:
        add("")
        add("Announcement" + ("" if mail.get("sent") else " (not sent)"))
        for label, key in (("subject", "subject"), ("from", "sender"), ("Message-ID", "message_id")):
            if mail.get(key):
                add(f"  {label:<10} {mail[key]}")
        if mail.get("to"):
            add(f"  {'to':<10} {', '.join(mail['to'])}")
        if mail.get("error"):
            add(f"  {mail['error']}")
        if mail.get("body"):
            add("  text as sent:")
            lines += ["    " + line for line in strip_ansi(mail["body"]).rstrip().splitlines()]
    api = facts["api"]
    if api:
        add("")
        add(f"API  {api.get('summary')}  (against {api.get('against') or 'no earlier release'})")
        for item in api.get("waivers") or ():
            add(f"  waived   {item.get('object')} ({item.get('kind')}): {item.get('waiver')}")
        for item in api.get("violations") or ():
            add(f"  refused  {item.get('object')} ({item.get('file')}:{item.get('line')}): {item.get('rule')}")
        ledger = [entry for entry in api.get("ledger") or () if isinstance(entry, dict)]
        deprecated = sorted({name for entry in ledger for name in entry.get("deprecated") or ()})
        if ledger:
            releases = f"{len(ledger)} earlier release{'s' if len(ledger) != 1 else ''}"
            add(f"  ledger   {releases}; deprecated in them: {', '.join(deprecated) or 'nothing'}")
        if api.get("removable"):
            add(f"  may go   {', '.join(api['removable'])} (deprecated long enough to be removed)")
    docs = facts["docs"]
    if docs:
        add("")
        add(f"Docs  {strip_userinfo(str(docs.get('url') or '?'))}  ({docs_summary(docs)})")

    add("")
    notes = unusual(record)
    add("Unusual")
    if not notes:
        add("  nothing: every phase ran headless, once, for real, and succeeded")
    for note in notes:
        add(f"  - {note}")
    return "\n".join(lines) + "\n"
