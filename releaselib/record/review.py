"""``releaselib review``: the release at a glance, as plain text, from the record alone."""

from __future__ import annotations

from pathlib import Path

from releaselib.record.summary import (
    _cell_counts,
    _cell_label,
    _seconds,
    _size,
    _when,
    _who,
    docs_summary,
    load_release,
    phase_summaries,
    release_facts,
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
    add(f"{facts['package']} {facts['version']}: {facts['result']}")
    add(f"  record     {record.directory}")
    add(f"  operator   {_who(facts['operator'])}")
    add(f"  when       {_when(facts['created'])} -> {_when(facts['ended'])}")
    repo = facts["repo"]
    add(f"  repository {repo.get('path') or '?'}")
    add(f"  remote     {repo.get('remote') or '?'} {repo.get('remote_url') or '(no URL)'}")
    tools = facts["tools"]
    add("  tools      " + ", ".join(f"{name} {tools[name]}" for name in tools))

    add("")
    add("Phases")
    summaries = phase_summaries(record)
    if not summaries:
        add("  (no phase has run)")
    width = max((len(s.phase) for s in summaries), default=0)
    for s in summaries:
        attempts = f"{len(s.attempts)} attempt" + ("s" if len(s.attempts) != 1 else "")
        notes = []
        if s.manual:
            notes.append(f"by hand: {_who(s.latest.get('run_by'))}")
        if s.latest.get("dry_run"):
            notes.append("dry run")
        tail = f"  ({'; '.join(notes)})" if notes else ""
        add(f"  {s.phase:<{width}}  {s.result:<9}  {_seconds(s.duration):>7}  {attempts}{tail}")

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
        add(f"Test matrix: {passed} of {len(matrix)} cells passed")
        labels = [_cell_label(c) for c in matrix]
        lw = max(len(label) for label in labels)
        for label, cell in zip(labels, matrix):
            add(f"  {label:<{lw}}  {cell.get('result')!s:<7}  {_cell_counts(cell):<22}  {_seconds(cell.get('duration'))}")
    if facts["skipped_interpreters"]:
        add(f"  skipped: {', '.join(facts['skipped_interpreters'])}")

    if facts["files"]:
        add("")
        add(f"Files ({facts['files_phase']})")
        fw = max(len(str(f["filename"])) for f in facts["files"])
        for f in facts["files"]:
            add(f"  {f['filename']:<{fw}}  {_size(f.get('size')):>12}  sha256 {f.get('sha256') or '?'}")

    if facts["message_id"]:
        add("")
        add(f"Announcement  Message-ID {facts['message_id']}")
    docs = facts["docs"]
    if docs:
        add("")
        add(f"Docs  {docs.get('url') or '?'}  ({docs_summary(docs)})")

    add("")
    notes = unusual(record)
    add("Unusual")
    if not notes:
        add("  nothing: every phase ran headless, once, for real, and succeeded")
    for note in notes:
        add(f"  - {note}")
    return "\n".join(lines) + "\n"
