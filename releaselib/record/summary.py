"""What a reader of a release record wants first: where the records are, each
phase's attempts, and the release's facts (who, when, commits, matrix, files,
announcement, docs, unusual things).

Shared by ``review`` (plain text), ``diff`` (two releases side by side),
``verify`` and the HTML report. Everything here reads
``outputs/<package>/<version>/`` and nothing else, and never writes to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from releaselib.core.errors import RecordError, ReleaseError, UsageError
from releaselib.core.registry import (
    ANNOUNCE,
    API,
    BUILD,
    BUNDLED_NAMES,
    COMMIT_TAG,
    DOCS,
    POST_RELEASE,
    PUBLISH,
    TEST,
    phase_order,
)
from releaselib.record.store import RECORD_NAME, SUCCEEDED, Record

__all__ = [
    "COMPLETE",
    "EMPTY",
    "FILE_PHASES",
    "IN_PROGRESS",
    "PhaseSummary",
    "ReleaseState",
    "announcement",
    "api_changes",
    "configured_phases",
    "docs_summary",
    "find_releases",
    "load_release",
    "matrix_totals",
    "overall_result",
    "phase_summaries",
    "recorded_files",
    "release_dir",
    "release_facts",
    "release_state",
    "resolve_package",
    "status_word",
    "untested_overrides",
    "unusual",
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


def configured_phases(record: Record) -> list[str]:
    """The phases this release was configured to run, in release order: the record's
    ``phases`` header, or every bundled phase for a record written before it had one."""
    phases = record.data.get("phases")
    if isinstance(phases, list) and phases:
        return sorted((str(p) for p in phases), key=phase_order)
    return list(BUNDLED_NAMES)


def phase_summaries(record: Record) -> list[PhaseSummary]:
    """One summary per phase the record mentions, in release order (unknown phases last)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in record.entries:
        grouped.setdefault(str(entry.get("phase")), []).append(entry)
    names = sorted(grouped, key=phase_order)
    return [PhaseSummary(name, tuple(grouped[name])) for name in names]


@dataclass(frozen=True)
class ReleaseState:
    """Where a release stands: *complete* when every configured phase has a successful
    attempt, *in progress* otherwise (``empty`` when no phase has run)."""

    state: str  # COMPLETE, IN_PROGRESS or EMPTY
    done: tuple[str, ...]
    configured: tuple[str, ...]
    not_run: tuple[str, ...]
    failing: tuple[str, ...]  # phases run whose every attempt failed
    dry_run: bool

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    @property
    def counts(self) -> str:
        return f"{len(self.done)} of {len(self.configured)} phases"

    def describe(self) -> str:
        """``complete``, or ``in progress (5 of 10 phases; failed: 05_build; not run: 06_publish, ...)``."""
        if self.state == EMPTY:
            return "empty (no phase has run)"
        dry = " dry run" if self.dry_run else ""
        if self.complete:
            return f"complete{dry} ({self.counts})"
        details = [self.counts]
        if self.failing:
            details.append("failed: " + ", ".join(self.failing))
        if self.not_run:
            details.append("not run: " + ", ".join(self.not_run))
        return f"in progress{dry} ({'; '.join(details)})"


COMPLETE, IN_PROGRESS, EMPTY = "complete", "in progress", "empty"


def release_state(record: Record) -> ReleaseState:
    """Which configured phases have a successful attempt, which failed, which never ran."""
    summaries = phase_summaries(record)
    configured = configured_phases(record)
    done = [s.phase for s in summaries if any(a.get("result") == SUCCEEDED for a in s.attempts)]
    ran = {s.phase for s in summaries}
    failing = tuple(s.phase for s in summaries if s.phase not in done)
    not_run = tuple(p for p in configured if p not in ran)
    expected = [p for p in configured if p not in done]
    if not summaries:
        state = EMPTY
    elif not expected and not failing:
        state = COMPLETE
    else:
        state = IN_PROGRESS
    dry_run = bool(record.entries) and all(e.get("dry_run") for e in record.entries)
    done_configured = tuple(p for p in done if p in configured) or tuple(done)
    return ReleaseState(state, done_configured, tuple(configured), not_run, failing, dry_run)


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


def _message_id(record: Record) -> str | None:
    for key in ("sent_message_id", "message_id"):
        value = record.value(ANNOUNCE, key, None)
        if value:
            return str(value)
    return None


def _docs(record: Record) -> dict[str, Any] | None:
    value = record.value(DOCS, "docs", None)
    return value if isinstance(value, dict) else None


#: The announcement as sent, written into the record folder by 09_announce.
ANNOUNCEMENT_NAME = "announcement.eml"


def announcement(record: Record) -> dict[str, Any] | None:
    """The announcement: ``subject``, ``sender``, ``to``, ``message_id``, ``body`` (from the
    ``announcement.eml`` the phase kept), and ``sent`` (the record holds a sent Message-ID).
    None when the record has neither the file nor a Message-ID."""
    message_id = _message_id(record)
    sent = bool(record.value(ANNOUNCE, "sent_message_id", None))
    path = record.directory / ANNOUNCEMENT_NAME
    if not path.is_file():
        return {"message_id": message_id, "sent": sent} if message_id else None
    from email import message_from_bytes, policy

    try:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        part = message.get_body(("plain",)) if message.is_multipart() else message
        body = part.get_content() if part is not None else ""
    except Exception as exc:  # noqa: BLE001 - a damaged file is shown as such, never fatal
        return {"message_id": message_id, "sent": sent, "error": f"{ANNOUNCEMENT_NAME} cannot be read: {exc}"}
    return {
        "subject": str(message.get("Subject") or ""),
        "sender": str(message.get("From") or ""),
        "to": [a.strip() for a in str(message.get("To") or "").split(",") if a.strip()],
        "message_id": str(message.get("Message-ID") or message_id or ""),
        "date": str(message.get("Date") or ""),
        "body": str(body),
        "sent": sent,
    }


def api_changes(record: Record) -> dict[str, Any] | None:
    """The API check (phase 00a): its summary, waivers and violations, also from a refused attempt."""
    value = record.value(API, "api", None)
    if value is None:
        value = ((record.latest(API) or {}).get("values") or {}).get("api")
    return value if isinstance(value, dict) else None


def matrix_totals(matrix: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """``(passed, failed)`` summed over the matrix cells that counted their tests."""
    counted = [c for c in matrix if c.get("tests_passed") is not None or c.get("tests_failed") is not None]
    if not counted:
        return None
    return (sum(int(c.get("tests_passed") or 0) for c in counted), sum(int(c.get("tests_failed") or 0) for c in counted))


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


#: A symbol and a word for each result, so a column reads without colour or a legend.
STATUS_WORDS = {
    "succeeded": "✔ succeeded",
    "passed": "✔ passed",
    "failed": "✘ FAILED",
    "error": "✘ ERROR",
    "timeout": "✘ TIMEOUT",
    "interrupted": "✘ INTERRUPTED",
    "not run": "· not run",
    "skipped": "· skipped",
    "complete": "✔ complete",
    "in progress": "◐ in progress",
    "empty": "· empty",
}


def status_word(result: Any) -> str:
    """``✔ succeeded``, ``✘ FAILED``, ``· not run``: a symbol paired with a word."""
    return STATUS_WORDS.get(str(result), f"? {result}")


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
    if value >= 3600:
        return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"
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
    """``complete``, ``in progress`` or ``empty``: see :func:`release_state`."""
    return release_state(record).state


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
        "state": release_state(record),
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
        "announcement": announcement(record),
        "api": api_changes(record),
        "docs": _docs(record),
    }


def unusual(record: Record) -> list[str]:
    """Everything a reviewer should look at twice: configured phases that never ran,
    failed attempts, skipped interpreters, phases run by hand (and by whom), dry-run entries."""
    notes = []
    state = release_state(record)
    if state.not_run:
        notes.append(f"not run: {', '.join(state.not_run)} (the release is in progress: {state.counts} succeeded)")
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


def untested_overrides(record: Record) -> str | None:
    """The attempts that pushed or uploaded with ``allow_untested`` (unusual), or None."""
    found = [
        f"{entry.get('phase')} attempt {entry.get('attempt')}"
        for entry in record.entries
        if (entry.get("values") or {}).get("allow_untested")
    ]
    return "UNUSUAL: " + ", ".join(found) if found else None
