"""Read a release record back: review it, compare two releases.

Everything here reads ``outputs/<package>/<version>/`` and nothing else.
:mod:`releaselib.record.verify` checks that a record is whole. Nothing here
writes to a record: a reviewer months later must be able to run these on a
record copied out of version control.

- :func:`review_text`: the release at a glance, as plain text.
- :func:`diff_text`: two releases side by side.

The shape of ``record.json`` is documented in ``docs/record.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core import secrets as secret_scan
from releaselib.core.errors import RecordError, ReleaseError, UsageError
from releaselib.core.registry import (
    ANNOUNCE,
    API,
    BUILD,
    COMMIT_TAG,
    DOCS,
    POST_RELEASE,
    PUBLISH,
    TEST,
    phase_order,
)
from releaselib.record.store import FAILED, RECORD_NAME, SUCCEEDED, Record

if TYPE_CHECKING:
    pass

__all__ = [
    "PhaseSummary",
    "diff_text",
    "docs_summary",
    "find_releases",
    "load_release",
    "phase_summaries",
    "recorded_files",
    "resolve_package",
    "review_text",
]

#: Phases whose ``files`` value lists the distribution files, most authoritative first.
FILE_PHASES = (PUBLISH, BUILD)


# --------------------------------------------------------------------------- locating records


def release_dir(outputs: Path, package: str, version: str) -> Path:
    return Path(outputs) / package / version


def load_release(outputs: Path, package: str, version: str) -> Record:
    """The record of ``package`` ``version`` under ``outputs``.

    Raises :class:`RecordError` when there is no record there, or it cannot be read.
    """
    directory = release_dir(outputs, package, version)
    if not (directory / RECORD_NAME).is_file():
        known = [v for p, v, _ in find_releases(outputs) if p == package]
        hint = (
            f"Records of {package} in {outputs}: {', '.join(known)}."
            if known
            else "Pass --outputs (and --package) pointing at the folder that holds the records."
        )
        raise RecordError(f"No record of {package} {version} in {directory}.", hint=hint)
    return Record.load(directory)


def find_releases(outputs: Path) -> list[tuple[str, str, Path]]:
    """Every ``(package, version, folder)`` under ``outputs`` that holds a record.json, sorted."""
    outputs = Path(outputs)
    found: list[tuple[str, str, Path]] = []
    if not outputs.is_dir():
        return found
    for record_file in sorted(outputs.glob(f"*/*/{RECORD_NAME}")):
        folder = record_file.parent
        found.append((folder.parent.name, folder.name, folder))
    return found


def resolve_package(outputs: Path, version: str | None, package: str | None, repo: Path | None) -> str:
    """The package a command means: ``package`` if given, else the one configured in ``repo``,
    else the only package folder under ``outputs`` (holding ``version``, when given).

    Raises :class:`UsageError` when that leaves no choice or more than one.
    """
    if package:
        return package
    releases = find_releases(outputs)
    packages = sorted({p for p, v, _ in releases if version is None or v == version})
    configured = None
    if repo is not None:
        try:
            from releaselib.infra.config import load_config

            configured = load_config(Path(repo).resolve()).package
        except ReleaseError:
            pass  # not run from a project: fall back to what the outputs hold
    # The configured package wins when the outputs hold it; a reviewer running
    # from some other project's folder still reaches the only record there is.
    if configured is not None and (configured in packages or not packages):
        return configured
    if len(packages) == 1:
        return packages[0]
    what = f"version {version}" if version else "a record"
    if not packages:
        raise UsageError(
            f"No package in {outputs} has {what}.",
            hint="Pass --outputs pointing at the folder that holds the records (and --package).",
        )
    raise UsageError(
        f"Several packages in {outputs} have {what}: {', '.join(packages)}.",
        hint="Choose one with --package.",
    )


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class PhaseSummary:
    """One phase of a release: its attempts, and what the latest one says."""

    phase: str
    attempts: tuple[dict[str, Any], ...]

    @property
    def latest(self) -> dict[str, Any]:
        return self.attempts[-1]

    @property
    def result(self) -> str:
        return str(self.latest.get("result"))

    @property
    def ok(self) -> bool:
        return self.result == SUCCEEDED

    @property
    def duration(self) -> float | None:
        value = self.latest.get("duration")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def total_duration(self) -> float:
        return sum(float(a.get("duration") or 0) for a in self.attempts)

    @property
    def manual(self) -> bool:
        return self.latest.get("mode") == "manual"


def phase_summaries(record: Record) -> list[PhaseSummary]:
    """One summary per phase the record mentions, in release order (unknown phases last)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in record.entries:
        grouped.setdefault(str(entry.get("phase")), []).append(entry)
    names = sorted(grouped, key=phase_order)
    return [PhaseSummary(name, tuple(grouped[name])) for name in names]


def recorded_files(record: Record) -> tuple[str | None, list[dict[str, Any]]]:
    """``(phase, files)``: the ``files`` value of the latest successful publish, else build."""
    for phase in FILE_PHASES:
        files = record.value(phase, "files", None)
        if isinstance(files, list) and files:
            return phase, [f for f in files if isinstance(f, dict) and f.get("filename")]
    return None, []


def _matrix(record: Record) -> list[dict[str, Any]]:
    cells = record.value(TEST, "matrix", None)
    if cells is None:
        # A failed test phase still tells the reviewer which cells failed.
        latest = record.latest(TEST)
        cells = (latest or {}).get("values", {}).get("matrix")
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def _skipped_interpreters(record: Record) -> list[str]:
    skipped: list[str] = []
    for entry in record.entries:
        values = entry.get("values") or {}
        for item in values.get("matrix_skipped") or ():
            if str(item) not in skipped:
                skipped.append(str(item))
    return skipped


def _api(record: Record) -> dict[str, Any] | None:
    """The API check (phase 00a): its summary, waivers and violations, also from a refused attempt."""
    value = record.value(API, "api", None)
    if value is None:
        value = ((record.latest(API) or {}).get("values") or {}).get("api")
    return value if isinstance(value, dict) else None


def _message_id(record: Record) -> str | None:
    for key in ("sent_message_id", "message_id"):
        value = record.value(ANNOUNCE, key, None)
        if value:
            return str(value)
    return None


def _docs(record: Record) -> dict[str, Any] | None:
    value = record.value(DOCS, "docs", None)
    return value if isinstance(value, dict) else None


def docs_summary(docs: Mapping[str, Any]) -> str:
    """What the docs check saw, in a few words (``showed 1.1 after 2 checks, 3.1s``)."""
    if "found" not in docs:
        # Another shape (an older or newer docs phase): show its short scalar fields.
        return ", ".join(
            f"{k} {v}" for k, v in docs.items() if k != "url" and isinstance(v, (str, int, float, bool)) and len(str(v)) < 80
        ) or "recorded"
    if docs.get("skipped"):
        return "not checked" + (" (dry run)" if docs.get("dry_run") else "")
    checks = docs.get("attempts")
    after = f" after {checks} check{'s' if checks != 1 else ''}" if isinstance(checks, int) else ""
    elapsed = f", {docs['elapsed']}s" if isinstance(docs.get("elapsed"), (int, float)) else ""
    if docs.get("found"):
        return f"showed {docs.get('version')}{after}{elapsed}"
    error = f": {docs['error']}" if docs.get("error") else ""
    return f"did not show {docs.get('version')}{after}{elapsed}{error}"


def _cell_label(cell: Mapping[str, Any]) -> str:
    extension = cell.get("extension")
    state = {True: "with extension", False: "without extension"}.get(extension, "pure Python")  # type: ignore[arg-type]
    version = cell.get("version")
    python = f"Python {cell.get('python')}" + (f" ({version})" if version and version != cell.get("python") else "")
    return f"{python}, {state}"


def _cell_counts(cell: Mapping[str, Any]) -> str:
    passed, failed = cell.get("tests_passed"), cell.get("tests_failed")
    if passed is None and failed is None:
        return "-"
    return f"{passed or 0} passed / {failed or 0} failed"


def _who(identity: Mapping[str, Any] | None) -> str:
    identity = identity or {}
    name, email = identity.get("git_name"), identity.get("git_email")
    who = name or "(no git name)"
    if email:
        who += f" <{email}>"
    extra = ", ".join(
        part
        for part in (
            f"OS user {identity['os_user']}" if identity.get("os_user") else "",
            f"on {identity['host']}" if identity.get("host") else "",
        )
        if part
    )
    return f"{who} ({extra})" if extra else who


def _when(stamp: Any) -> str:
    if not stamp:
        return "?"
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 90:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{value:.1f}s"


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "-"


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return "?"
    return f"{value:,} B"


def overall_result(record: Record) -> str:
    """``succeeded`` when every phase's latest attempt succeeded, else ``failed``; ``empty`` if none ran."""
    summaries = phase_summaries(record)
    if not summaries:
        return "empty"
    return SUCCEEDED if all(s.ok for s in summaries) else FAILED


def release_facts(record: Record) -> dict[str, Any]:
    """What a reader wants first, gathered from the record (absent parts are None or empty)."""
    entries = record.entries
    files_phase, files = recorded_files(record)
    return {
        "package": record.data.get("package"),
        "version": record.data.get("version"),
        "created": record.data.get("created"),
        "ended": entries[-1].get("ended") if entries else None,
        "result": overall_result(record),
        "operator": record.data.get("operator") or {},
        "tools": record.data.get("tools") or {},
        "repo": record.data.get("repo") or {},
        # Manual entries may not know a commit: take the first and last that do.
        "commit_before": next((e["commit_before"] for e in entries if e.get("commit_before")), None),
        "commit_after": next((e["commit_after"] for e in reversed(entries) if e.get("commit_after")), None),
        "bump_commit": record.value(COMMIT_TAG, "bump_commit", None),
        "tag": record.value(COMMIT_TAG, "tag", None),
        "next_version": record.value(POST_RELEASE, "next_version", None),
        "post_release_commit": record.value(POST_RELEASE, "post_release_commit", None),
        "matrix": _matrix(record),
        "skipped_interpreters": _skipped_interpreters(record),
        "files_phase": files_phase,
        "files": files,
        "message_id": _message_id(record),
        "docs": _docs(record),
        "api": _api(record),
    }


def unusual(record: Record) -> list[str]:
    """Everything a reviewer should look at twice: failed attempts, skipped interpreters,
    phases run by hand (and by whom), dry-run entries."""
    notes = []
    for entry in record.entries:
        label = f"{entry.get('phase')} attempt {entry.get('attempt')}"
        if entry.get("result") != SUCCEEDED:
            notes.append(f"{label} {entry.get('result')}: {entry.get('reason') or 'no reason recorded'}")
        if entry.get("mode") == "manual":
            notes.append(f"{label} was run by hand by {_who(entry.get('run_by'))}")
        if entry.get("dry_run"):
            notes.append(f"{label} was a dry run (it changed nothing)")
        override = (entry.get("values") or {}).get("allow_untested")
        if override:
            missing = "; ".join(override.get("missing", [])) if isinstance(override, dict) else ""
            what = override.get("what", "push") if isinstance(override, dict) else "push"
            notes.append(f"{label} was allowed to {what} untested (allow_untested = True): {missing}".rstrip(": "))
    skipped = _skipped_interpreters(record)
    if skipped:
        notes.append(f"interpreters skipped by the test matrix: {', '.join(skipped)}")
    for cell in _matrix(record):
        if cell.get("result") not in ("passed", None):
            notes.append(f"matrix cell {_cell_label(cell)} {cell.get('result')}: {cell.get('reason') or ''}".rstrip(": "))
    return notes


def _untested_overrides(record: Record) -> str | None:
    """The attempts that pushed or uploaded with ``allow_untested`` (unusual), or None."""
    found = [
        f"{entry.get('phase')} attempt {entry.get('attempt')}"
        for entry in record.entries
        if (entry.get("values") or {}).get("allow_untested")
    ]
    return "UNUSUAL: " + ", ".join(found) if found else None


# --------------------------------------------------------------------------- review


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
    add(f"  remote     {repo.get('remote') or '?'} {secret_scan.strip_userinfo(repo.get('remote_url') or '(no URL)')}")
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


# --------------------------------------------------------------------------- diff


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
    names = sorted(set(phases_l) | set(phases_r), key=phase_order)

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
            ("allowed untested", _untested_overrides(left), _untested_overrides(right)),
        ],
        v1,
        v2,
    )
    return "\n".join(out).rstrip() + "\n"
