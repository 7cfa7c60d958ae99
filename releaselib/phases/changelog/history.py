"""The git side of the release notes: release tags and the commit subjects since the last one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from releaselib.core.errors import ChangelogError, GitError
from releaselib.infra import processes
from releaselib.phases.changelog.sections import GIT_TIMEOUT

# --------------------------------------------------------------------------
# git


def _git(repo: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    cmd = ["git", *args]
    try:
        done = processes.run(cmd, cwd=repo, timeout=timeout, merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise GitError(
            f"`{' '.join(cmd)}` did not finish within {timeout:g}s in {repo}.",
            hint="Check that the repository is not locked by another git process, then re-run the phase.",
        ) from exc
    except OSError as exc:
        raise GitError(f"Cannot run git: {exc}", hint="Install git and make sure it is on PATH.") from exc
    if done.returncode != 0:
        raise GitError(
            f"`{' '.join(cmd)}` failed in {repo}: {done.stderr.strip() or 'exit ' + str(done.returncode)}",
            hint="Check that the path is a git repository with at least one commit.",
        )
    return done.stdout


def _tag_regex(tag_template: str) -> re.Pattern[str]:
    if "{version}" not in tag_template:
        raise ChangelogError(
            f"The tag template {tag_template!r} has no {{version}} placeholder.",
            hint='Set `tag` in [tool.releaselib] to something like "{version}" or "v{version}".',
        )
    before, _, after = tag_template.partition("{version}")
    return re.compile(re.escape(before) + r"(?P<version>\d.*?)" + re.escape(after) + r"\Z")


def last_release_tag(repo: str | os.PathLike[str], tag_template: str, *, below: str | None = None) -> str | None:
    """The tag of the highest released version, by PEP 440 ordering (not by date).

    Only tags that ``tag_template`` (``"{version}"``, ``"v{version}"``...)
    matches, with a version part that starts with a digit and parses, count
    (so ``v2.0`` is not a release under the template ``"{version}"``). With ``below``, only
    versions lower than it count, so re-drafting for 2.2 after tagging 2.2
    still starts from 2.1. Returns None when no tag qualifies. Raises
    :class:`GitError` when git fails.
    """
    pattern = _tag_regex(tag_template)
    limit = Version(below) if below is not None else None
    best: tuple[Version, str] | None = None
    for tag in _git(Path(repo), "tag", "--list").splitlines():
        tag = tag.strip()
        match = pattern.match(tag)
        if not match:
            continue
        try:
            version = Version(match.group("version"))
        except InvalidVersion:
            continue
        if limit is not None and version >= limit:
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return best[1] if best else None


def _message_regex(template: str) -> re.Pattern[str]:
    before, _, after = template.partition("{version}")
    return re.compile(re.escape(before) + r"v?\d[\w.+!-]*" + re.escape(after) + r"\Z")


# Subjects no reader of release notes wants: merges made as plain commits
# (squash tools keep the subject), automated dependency and hook updates.
_NOISE = re.compile(
    r"(?i)^(?:merge (?:pull request|branch|remote-tracking branch)\b"
    r"|(?:build|chore|ci)\(deps(?:-dev)?\):"
    r"|bump \S+ from \S+ to \S+"
    r"|\[pre-commit\.ci\]"
    r"|update (?:dependency \S+|pre-commit hooks?)\b)"
)


def commit_subjects(repo: str | os.PathLike[str], since_tag: str | None, *, skip: Iterable[str] = ()) -> list[str]:
    """Subjects of the non-merge commits after ``since_tag`` up to HEAD, oldest first.

    ``skip`` holds commit-message templates with ``{version}`` (the release
    and post-release bumps); subjects they match, and any ``BUMP ...``
    subject, are left out. An empty repository gives an empty list. Raises
    :class:`GitError` when git fails.
    """
    repo = Path(repo)
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    except GitError:
        return []
    revision = f"{since_tag}..HEAD" if since_tag else "HEAD"
    out = _git(repo, "log", revision, "--no-merges", "--reverse", "--format=%s", "--")
    patterns = [_message_regex(t) for t in skip if "{version}" in t]
    subjects = []
    for subject in out.splitlines():
        subject = subject.strip()
        if not subject or subject.startswith("BUMP ") or any(p.match(subject) for p in patterns):
            continue
        if _NOISE.match(subject):
            continue
        subjects.append(subject)
    return subjects




def tag_version(tag: str, tag_template: str) -> str | None:
    """The version part of ``tag`` under ``tag_template`` (``v1.2`` -> ``1.2`` for ``v{version}``), or None."""
    match = _tag_regex(tag_template).match(tag)
    return match.group("version") if match else None


def version_like_tags(repo: str | os.PathLike[str]) -> list[str]:
    """Local tags that end in a PEP 440 version, whatever their prefix (``1.2``, ``v1.2``, ``release-1.2``)."""
    found = []
    for tag in _git(Path(repo), "tag", "--list").splitlines():
        match = re.match(r"^\D*(\d.*)$", tag.strip())
        if not match:
            continue
        try:
            Version(match.group(1))
        except InvalidVersion:
            continue
        found.append(tag.strip())
    return found
