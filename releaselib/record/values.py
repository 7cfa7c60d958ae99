"""What each bundled phase records: one dataclass per phase, whose fields document themselves.

A runbook records a value with ``release.record(key, value)``; the key must be a field
of its phase's dataclass here (a typo fails the cell instead of leaving a hole in the
record), and readers take typed values with :func:`phase_values`. A project's own
phases record what they like: they have no dataclass here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from releaselib.core.registry import (
    ANNOUNCE,
    API,
    BUILD,
    BUMP,
    CHANGELOG,
    COMMIT_TAG,
    DOCS,
    POST_RELEASE,
    PREFLIGHT,
    PUBLISH,
    TEST,
)

if TYPE_CHECKING:
    from releaselib.record.store import Record


def _doc(text: str) -> Any:
    return field(default=None, metadata={"doc": text})


@dataclass(frozen=True)
class PreflightValues:
    start: dict[str, Any] | None = _doc("the release as opened: package, version, project, record folder, mode")
    checks: dict[str, bool] | None = _doc("each check's name, and whether it passed")


@dataclass(frozen=True)
class ApiValues:
    api: dict[str, Any] | None = _doc(
        "the API check: summary (\"3 additions, 1 deprecation, 0 removals — allowed for a minor release\"), "
        "against (the last release's tag), release_kind, additions, deprecations, removals, allowed, changes "
        "(kind, object, type, file, line, detail), violations and waivers (a change with rule, todo and the "
        "waiver's reason), ledger (per tag: commit, deprecated names), removable, seconds")


@dataclass(frozen=True)
class TestValues:
    matrix: list[dict[str, Any]] | None = _doc(
        "one object per cell: python, version, extension (true/false/null), result "
        "(passed/failed/error/timeout), tests_passed, tests_failed, duration, log (relative to the "
        "record folder), reason")
    matrix_skipped: list[str] | None = _doc("configured Pythons not found on this machine (allowed missing)")


@dataclass(frozen=True)
class ChangelogValues:
    changelog_section: str | None = _doc("the release notes' section, as released")
    accept_draft: bool | None = _doc("whether a section drafted from the git log was released without stopping")
    towncrier_build: dict[str, Any] | None = _doc(
        "when towncrier built the section: command, towncrier (its version), fragments (the news fragments it "
        "consumed, relative to the project), log (relative to the record folder)")


@dataclass(frozen=True)
class BumpValues:
    previous_version: str | None = _doc("the development version the files held before the bump")
    files_changed: list[str] | None = _doc("the files the bump wrote, relative to the project")


@dataclass(frozen=True)
class CommitTagValues:
    bump_commit: str | None = _doc("the full SHA of the `BUMP <version>` commit")
    tag: str | None = _doc("the annotated tag's name")


@dataclass(frozen=True)
class BuildValues:
    files: list[dict[str, Any]] | None = _doc("one object per file: filename, kind, size, sha256, ...")
    build: dict[str, Any] | None = _doc("how the files were built and checked: tools, interpreters, install tests")


@dataclass(frozen=True)
class PublishValues:
    files: list[dict[str, Any]] | None = _doc("the files on the index: filename, kind, size, sha256, ...")
    verified: dict[str, Any] | None = _doc("what installing from the index showed, with its index_url")
    allow_untested: dict[str, Any] | None = _doc(
        "only when the gate was overridden: what (push the tag / upload the files) and missing (the "
        "successful 01_test and 05_build of the tagged commit the record lacked)")


@dataclass(frozen=True)
class DocsValues:
    docs: dict[str, Any] | None = _doc("the docs URL and what it showed: version, found, attempts, elapsed")


@dataclass(frozen=True)
class PostReleaseValues:
    next_version: str | None = _doc("the next development version written into the files")
    post_release_commit: str | None = _doc("the full SHA of the post-release commit")
    allow_untested: dict[str, Any] | None = _doc(
        "only when the gate was overridden: what was pushed untested, and what the record lacked")


@dataclass(frozen=True)
class AnnounceValues:
    message_id: str | None = _doc("the announcement's Message-ID (fixed per release)")
    sent_message_id: str | None = _doc("the Message-ID of the mail actually sent (null in a dry run)")


VALUES: dict[str, type] = {
    PREFLIGHT: PreflightValues, API: ApiValues, TEST: TestValues, CHANGELOG: ChangelogValues, BUMP: BumpValues,
    COMMIT_TAG: CommitTagValues, BUILD: BuildValues, PUBLISH: PublishValues, DOCS: DocsValues,
    POST_RELEASE: PostReleaseValues, ANNOUNCE: AnnounceValues,
}


def declared_keys(phase: str) -> list[str] | None:
    """The keys ``phase`` may record, or None for a phase with no declared values (a project's own)."""
    schema = VALUES.get(phase)
    return None if schema is None else [f.name for f in fields(schema)]


def phase_values(record: Record, phase: str) -> Any:
    """The values of ``phase``'s latest successful attempt, as its dataclass (fields it did not record are None)."""
    schema = VALUES[phase]
    succeeded = [entry for entry in record.attempts(phase) if entry.get("result") == "succeeded"]
    values = (succeeded[-1] if succeeded else {}).get("values") or {}
    known = {f.name for f in fields(schema)}
    return schema(**{key: value for key, value in values.items() if key in known})


__all__ = [
    "AnnounceValues", "ApiValues", "BuildValues", "BumpValues", "ChangelogValues", "CommitTagValues", "DocsValues",
    "PostReleaseValues", "PreflightValues", "PublishValues", "TestValues", "VALUES", "declared_keys", "phase_values",
]
