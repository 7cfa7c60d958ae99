"""Phases 04 and 08 (and the push of 06): the BUMP commit, the tag, the push.

The files committed are exactly those the bump and the changelog phases may
touch, taken from the configuration; anything else modified in the tree is an
error, because preflight saw a clean tree and nothing else should have changed.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from releaselib.core.errors import RepoStateError
from releaselib.core.plan import Plan
from releaselib.engine.context import Release
from releaselib.infra import git
from releaselib.phases.gates import TestedGate


def release_files(release: Release) -> list[str]:
    """Repo-relative paths a release may change: version files, changelog, docs globs."""
    config = release.config
    patterns = [vf.path for vf in config.version_files] + list(config.docs)
    if config.changelog:
        patterns.append(config.changelog)
    if config.changelog_tool == "towncrier":  # towncrier removes the news fragments it built the section from
        from releaselib.infra.config.towncrier import towncrier_settings

        settings = towncrier_settings(Path(config.root))
        if settings is not None and settings.directory:
            patterns.append(f"{settings.directory}/*")
    return patterns


def _allowed(path: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if path == pattern or fnmatch.fnmatch(path, pattern) or Path(path).match(pattern):
            return True
        if "**/" in pattern and fnmatch.fnmatch(path, pattern.replace("**/", "")):
            return True
    return False


def modified_paths(release: Release) -> list[str]:
    """Tracked files that differ from HEAD, each checked against :func:`release_files`."""
    repo = git.open_repo(release.repo)
    diffs = [*repo.index.diff(None), *repo.index.diff("HEAD")]
    changed = sorted({item.a_path for item in diffs if item.a_path})
    patterns = release_files(release)
    stray = [path for path in changed if not _allowed(path, patterns)]
    if stray:
        raise RepoStateError(
            "Files outside the release's version files, changelog and docs are modified: " + ", ".join(stray),
            hint="Commit or revert them separately, then resume the release.",
        )
    return changed


def paths_to_commit(release: Release, expected: list[str] | None = None, *, changelog: bool = True) -> list[str]:
    """The files the commit takes: those modified now, else those the release would modify.

    Nothing is modified before the bump in a dry run, or after the commit on a
    resume. A dry run's plan passes ``expected``, the files the earlier phases'
    plans would change (a changelog section kept as it is is not among them),
    so ``plan`` lists exactly the files the commit will hold. Without it the
    version files and the changelog stand in, which is what the commit's
    "already done?" check looks at. The post-release commit never takes the
    changelog (``changelog=False``), so its dry run does not list it either.
    """
    paths = modified_paths(release)
    if paths:
        return paths
    if expected:
        return list(dict.fromkeys(expected))
    config = release.config
    fallback = [vf.path for vf in config.version_files]
    if config.changelog and changelog:
        fallback.append(config.changelog)
    return list(dict.fromkeys(fallback))


def plan_commit_and_tag(release: Release, expected: list[str] | None = None) -> Plan:
    """Commit the bump as ``BUMP <version>``, then tag that commit (annotated)."""
    config = release.config
    message = config.commit_message.format(version=release.version)
    plan = Plan(f"Commit and tag {release.version}")
    paths = paths_to_commit(release, expected)
    # A tag-versioned project (setuptools-scm) whose notes are already committed
    # has nothing to commit: the tag goes on HEAD as it is.
    nothing = (
        config.version_source == "scm"
        and not expected
        and not modified_paths(release)
        and not git.commit_with_message(release.repo, message)
    )
    if nothing:
        plan.add(git.TagAction(release.repo, release.tag, _tag_message(release), "HEAD", what="HEAD (nothing to commit)"))
        return plan
    if paths:
        plan.add(git.CommitAction(release.repo, paths, message))
    plan.add(BumpTagAction(release.repo, release.tag, _tag_message(release), message))
    return plan


class BumpTagAction(git.TagAction):
    """Tag the commit whose message is the BUMP message, wherever HEAD is now.

    ``ref="HEAD"`` would be right only while the BUMP commit is HEAD: a phase
    re-run after the post-release commit moved HEAD must still tag (or find
    tagged) the BUMP commit, never the commit after it. Before the commit
    exists (a dry run) HEAD stands in.
    """

    def __init__(self, repo: git.RepoLike, tag: str, tag_message: str, commit_message: str) -> None:
        super().__init__(repo, tag, tag_message, ref="HEAD", what=f"the {commit_message.splitlines()[0]!r} commit")
        self.commit_message = commit_message

    @property
    def ref(self) -> str:
        return git.commit_with_message(self.repo, self.commit_message) or "HEAD"

    @ref.setter
    def ref(self, value: str) -> None:  # TagAction.__init__ assigns it; the property decides.
        pass


def _tag_message(release: Release) -> str:
    """``<package> <version>``, then where the release record is anchored and in which format."""
    from releaselib.record.anchor import ANCHOR_FORMAT, NOTES_REF
    from releaselib.record.store import SCHEMA_VERSION

    return (
        f"{release.config.package} {release.version}\n\n"
        f"Release record: schema {SCHEMA_VERSION} (docs/record.md), anchored as {ANCHOR_FORMAT} "
        f"in the git note {NOTES_REF} on this tag."
    )


def plan_push(release: Release, allow_untested: bool = False) -> Plan:
    """Push the release branch and the tag together (atomically), once the record
    shows the tagged commit tested and built (:class:`~releaselib.phases.gates.TestedGate`)."""
    config = release.config
    plan = Plan(f"Push {config.branch} and tag {release.tag} to {config.remote}")
    plan.add(TestedGate(release, what="push the tag", allow_untested=allow_untested))
    plan.add(_push_branch_and_tag(release))
    return plan


def _push_branch_and_tag(release: Release) -> git.PushAction:
    """One atomic push of the release branch and the tag: both land, or neither."""
    config = release.config
    return git.PushAction(
        release.repo,
        config.remote,
        [f"refs/heads/{config.branch}", f"refs/tags/{release.tag}"],
        timeout=config.push_timeout,
        atomic=True,
    )


def plan_post_release_commit(release: Release, next_version: str, allow_untested: bool = False) -> Plan:
    """Commit the next development version and push the branch (with the tag, once the
    record shows the tagged commit tested and built)."""
    config = release.config
    message = config.post_release_message.format(version=next_version)
    plan = Plan(f"Commit and push the next development version {next_version}")
    if next_version == release.version:
        # dev-scheme "none" or a tag-versioned project: the files keep the release.
        plan.title = f"Nothing to commit after {release.version}: the files keep the release"
        return plan
    paths = paths_to_commit(release, changelog=False)
    plan.add(TestedGate(release, what="push the tag", allow_untested=allow_untested))
    plan.add(git.CommitAction(release.repo, paths, message))
    plan.add(_push_branch_and_tag(release))
    return plan
