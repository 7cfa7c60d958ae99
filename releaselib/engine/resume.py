"""Before a resume: does the world still match the record?

``releaselib run VERSION --resume`` finishes a release from its record. Every
action checks "already done?" against the real world, which is what makes a
re-run safe; but an action that finds the world *different* from what the
release did (the tag moved, the branch was rebased, the index holds another
file under the release's filename) must not paper over it. This module
compares what the record says the release did with what is there now, and
stops the resume with every difference spelled out before any phase runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import GitError, PublishError, RecordError
from releaselib.core.registry import BUILD, COMMIT_TAG
from releaselib.infra import git
from releaselib.record.store import Record

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

__all__ = ["ResumeConflict", "check_resume", "resume_conflicts"]


class ResumeConflict(RecordError):
    """The record of a release and the repository, remote or index disagree."""


def _latest_commit_after(record: Record) -> tuple[str, str] | None:
    """(phase, sha) of the newest entry that noted where HEAD was after it."""
    for entry in reversed(record.entries):
        if entry.get("commit_after") and not entry.get("dry_run"):
            return entry["phase"], entry["commit_after"]
    return None


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    from releaselib.infra import processes

    return processes.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=repo, timeout=120).ok


def resume_conflicts(record: Record, config: Config, repo: Path, version: str) -> list[str]:
    """Every way the repository, the remote and the index contradict ``record``; [] when none.

    Unreachable remotes or indexes are not conflicts (the phase that needs
    them reports that); only what can be seen and differs is listed.
    """
    problems: list[str] = []
    repo = Path(repo)
    tag = config.tag.format(version=version)
    bump_commit = record.value(COMMIT_TAG, "bump_commit", None)

    after = _latest_commit_after(record)
    head = _safe(lambda: git.head_commit(repo))
    if after and head and head != after[1] and not _is_ancestor(repo, after[1], head):
        phase, sha = after
        problems.append(
            f"HEAD is at {git.short(head)}, but after {phase} the record left it at {git.short(sha)}, "
            f"which is no longer in HEAD's history (the branch was reset or rebased)."
        )

    if bump_commit:
        local = _safe(lambda: git.commit_of(repo, f"refs/tags/{tag}"))
        if local and local != bump_commit:
            problems.append(
                f"Tag {tag} points at {git.short(local)} here, but the record says the BUMP commit is "
                f"{git.short(bump_commit)}."
            )
        if head and not _is_ancestor(repo, bump_commit, head):
            problems.append(
                f"The recorded BUMP commit {git.short(bump_commit)} is not in the history of HEAD "
                f"({git.short(head)})."
            )
        try:
            remote = git.remote_tag_commit(repo, config.remote, tag, timeout=config.push_timeout)
        except GitError:  # unreachable: the push phase says so
            remote = None
        if remote and remote != bump_commit:
            problems.append(
                f"Tag {tag} on {config.remote} points at {git.short(remote)}, but the record says the BUMP commit "
                f"is {git.short(bump_commit)}."
            )

    files = record.value(BUILD, "files", None) or []
    if files:
        problems.extend(_index_conflicts(files, config))
    return problems


def _index_conflicts(files: list[dict[str, Any]], config: Config) -> list[str]:
    from releaselib.infra.index import index_files

    try:
        listed = index_files(config.publish.index_url, config.package, timeout=10.0)
    except PublishError:
        return []
    problems = []
    for item in files:
        name, sha = item.get("filename"), item.get("sha256")
        there = listed.get(name) if name else None
        if there and sha and there != sha:
            problems.append(
                f"{config.publish.index_url} holds {name} with sha256 {there[:16]}…, but the record says "
                f"the release built it with sha256 {sha[:16]}…."
            )
    return problems


def check_resume(record: Record, config: Config, repo: Path, version: str) -> None:
    """Raise :class:`ResumeConflict` listing every difference :func:`resume_conflicts` finds."""
    problems = resume_conflicts(record, config, repo, version)
    if not problems:
        return
    raise ResumeConflict(
        f"Cannot resume {config.package} {version}: the record and the world disagree:\n"
        + "\n".join(f"  - {problem}" for problem in problems),
        hint="Nothing was changed. Find out who changed what (`git log --all --decorate`, the index's page); "
        "if the record is what should stand, put the tag/branch/file back as recorded and resume; "
        "otherwise release a new version.",
    )


def _safe(function: Any) -> Any:
    try:
        return function()
    except Exception:  # noqa: BLE001 - missing refs are "nothing to compare"
        return None
