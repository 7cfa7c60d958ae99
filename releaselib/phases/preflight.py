"""Phase 00: read-only checks before the first change, and the plan.

Every check runs, even after one fails, so one run tells the maintainer
everything that is wrong (tbump's way); then :class:`PreflightFailed` lists
them all. Nothing here changes the repository, its remote, or the index.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releaselib.core.errors import ConfigError, PreflightFailed, ReleaseError, RepoStateError
from releaselib.core.plan import Plan
from releaselib.core.registry import (
    ANNOUNCE,
    API,
    BUILD,
    BUMP,
    BUNDLED_NAMES,
    CHANGELOG,
    COMMIT_TAG,
    POST_RELEASE,
    PUBLISH,
    TEST,
)
from releaselib.engine.context import Release
from releaselib.phases.changelog import tag_version
from releaselib.phases.preflight_settings import configuration_lines, phase_overview, phase_settings_checks


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    error: ReleaseError | None = None


@dataclass
class CheckReport:
    """The outcome of every preflight check, showable in a notebook."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def problems(self) -> list[ReleaseError]:
        return [result.error for result in self.results if result.error is not None]

    def raise_for_problems(self) -> None:
        if not self.ok:
            raise PreflightFailed(self.problems)

    def __str__(self) -> str:
        width = max((len(result.name) for result in self.results), default=10)
        lines = []
        for result in self.results:
            mark = "ok  " if result.ok else "FAIL"
            lines.append(f"[{mark}] {result.name.ljust(width)}  {result.detail}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from releaselib.core.display import html_table, status

        rows = [
            (
                status("ok" if r.ok else "problem"),
                html.escape(r.name),
                f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(r.detail)}</pre>",
            )
            for r in self.results
        ]
        return html_table(["result", "check", "detail"], rows)


def _phases(phases: str | Sequence[str] | None) -> set[str]:
    if phases is None or phases == "all":
        return set(BUNDLED_NAMES)
    items = phases.split(",") if isinstance(phases, str) else phases
    return {item.strip() for item in items if item.strip()}


def last_release(release: Release) -> str | None:
    """The version of the highest release tag, or None before the first release.

    A shallow clone (CI) has no tags: they are read from the remote instead.
    Raises :class:`RepoStateError` when the clone is shallow and the remote
    cannot list its tags (with the command that fetches them).
    """
    from releaselib.phases.changelog import last_release_tag, tag_version

    config = release.config
    tag = last_release_tag(release.repo, config.tag)
    if tag is None and is_shallow(release.repo):
        tag = _last_remote_release_tag(release)
    return None if tag is None else tag_version(tag, config.tag)


def is_shallow(repo: Path) -> bool:
    """True for a shallow clone (``git clone --depth``), which lacks most tags."""
    from releaselib.infra import processes

    try:
        done = processes.run(["git", "rev-parse", "--is-shallow-repository"], cwd=repo, timeout=30, merge_stderr=False)
    except processes.CommandTimeout:
        return False
    return done.stdout.strip() == "true"


def _last_remote_release_tag(release: Release) -> str | None:
    from packaging.version import InvalidVersion, Version

    from releaselib.infra import processes
    from releaselib.infra.git import network_env
    from releaselib.phases.changelog import tag_version

    config = release.config
    unshallow = f"git fetch --unshallow --tags {config.remote}"
    try:
        done: processes.Completed | None = processes.run(
            ["git", "ls-remote", "--tags", "--refs", config.remote],
            cwd=release.repo, timeout=config.push_timeout, env=network_env(), merge_stderr=False,
        )
    except processes.CommandTimeout:
        done = None
    if done is None or done.returncode != 0:
        raise RepoStateError(
            f"This is a shallow clone without tags, and the tags of {config.remote} cannot be listed, "
            "so the last release is unknown.",
            hint=f"Run `{unshallow}` (or clone with fetch-depth: 0 in CI), then plan again.",
        )
    best: tuple[Version, str] | None = None
    for line in done.stdout.splitlines():
        name = line.partition("\t")[2].removeprefix("refs/tags/")
        version = tag_version(name, config.tag)
        try:
            parsed = Version(version) if version else None
        except InvalidVersion:
            parsed = None
        if parsed is not None and (best is None or parsed > best[0]):
            best = (parsed, name)
    return best[1] if best else None


def checks(release: Release, phases: str | Sequence[str] | None = None) -> list[tuple[str, Callable[[], str]]]:
    """The preflight checks for ``release``, as (name, check) pairs; a check returns a detail or raises."""
    from releaselib.core import versions
    from releaselib.infra import git

    config = release.config
    wanted = _phases(phases)
    timeout = config.push_timeout
    outputs = Path(os.environ.get("RELEASELIB_OUTPUTS", release.record_dir.parent.parent))

    def newer() -> str:
        last = last_release(release)
        versions.check_newer(release.version, last)
        return f"{release.version} > {last}" if last else f"{release.version} (first release)"

    def buildable() -> str:
        versions.check_buildable(config)
        if config.version_source == "scm":
            return "the version comes from the tag; the build reads it from git"
        if config.dev_scheme == "plus" and not config.plus_label:
            return "the literal 2.1+ marker is kept (not PEP 440; only the setup.py build reads it)"
        return f"dev scheme {config.dev_scheme!r} writes versions the build can read"

    def tag_format() -> str:
        from releaselib.phases.changelog import version_like_tags

        tags = version_like_tags(release.repo)
        matching = [tag for tag in tags if tag_version(tag, config.tag) is not None]
        if tags and not matching:
            raise ConfigError(
                f"No existing tag has the form {config.tag!r}, but there are version tags such as "
                f"{', '.join(sorted(tags)[-3:])}: the last release would be missed.",
                hint='Set tag = "v{version}" (or the form those tags use) in the configuration.',
            )
        return f"{len(matching)} release tag(s) of the form {config.tag}" if tags else "no release tags yet"

    def tag_free() -> str:
        git.check_tag_free(release.repo, release.tag, config.remote, timeout)
        return f"tag {release.tag} is free locally and on {config.remote}"

    def clean() -> str:
        git.check_clean(release.repo, ignore=[outputs])
        return "no uncommitted or untracked files"

    def branch() -> str:
        git.check_branch(release.repo, config.branch)
        return f"on {config.branch}"

    def in_sync() -> str:
        status = git.check_in_sync(release.repo, config.remote, config.branch, timeout)
        return status or f"in sync with {config.remote}/{config.branch}"

    found: list[tuple[str, Callable[[], str]]] = [
        ("tag format matches the existing tags", tag_format),
        ("version is newer than the last release", newer),
        ("version form is buildable", buildable),
        ("working tree is clean", clean),
        ("on the release branch", branch),
        ("in sync with the remote", in_sync),
        ("tag is free", tag_free),
    ]

    found.extend(phase_settings_checks(release, wanted))

    if wanted & {TEST, BUILD} and config.matrix.python:
        def interpreters() -> str:
            from releaselib.infra.interpreters import find_interpreters

            found_set = find_interpreters(config.matrix.python, allow_missing=config.matrix.allow_missing)
            parts = [f"{i.requested}: {i.version}" for i in found_set.found]
            parts += [f"{v}: skipped (allowed missing)" for v in found_set.skipped]
            return ", ".join(parts)

        found.append(("interpreters found", interpreters))

    if API in wanted and config.api.check:
        def api_policy() -> str:
            from releaselib.phases.api import check_release

            report = check_release(release)
            report.raise_for_violations()
            return report.summary()

        found.append(("public API follows the compatibility policy", api_policy))

    if PUBLISH in wanted:
        def index_credentials() -> str:
            from releaselib.phases.publish import check_credentials

            check_credentials(config)
            return f"{config.publish.username_env} and {config.publish.password_env} are set (values not shown)"

        found.append(("index credentials present", index_credentials))

    if ANNOUNCE in wanted and config.announce.smtp_host and config.announce.user:
        def smtp_credentials() -> str:
            if not os.environ.get(config.announce.password_env):
                raise ReleaseError(
                    f"The SMTP password variable {config.announce.password_env} is not set.",
                    hint=f"export {config.announce.password_env}=... before the release (it is never written to disk).",
                )
            return f"{config.announce.password_env} is set (value not shown)"

        found.append(("SMTP credentials present", smtp_credentials))
    return found


def run_checks(release: Release, phases: str | Sequence[str] | None = None) -> CheckReport:
    """Run every check, collecting failures instead of stopping at the first."""
    report = CheckReport()
    for name, check in checks(release, phases):
        try:
            detail = check()
            report.results.append(CheckResult(name, True, detail))
        except ReleaseError as exc:
            report.results.append(CheckResult(name, False, str(exc), exc))
    return report


def release_plan(
    release: Release, phases: str | Sequence[str] | None = None, *, problems: list[ReleaseError] | None = None
) -> list[Plan]:
    """What each git-side phase would do, computed without changing anything.

    A phase whose plan cannot be computed (its files are not as it expects)
    adds its error to ``problems`` when given, so ``plan`` reports it with
    the others instead of stopping at it; without ``problems`` it raises.
    """
    from releaselib.phases import bump, commit

    wanted = _phases(phases)
    plans: list[Plan] = []
    expected: list[str] = []

    def attempt(build: Callable[[], Plan]) -> Plan | None:
        try:
            return build()
        except ReleaseError as exc:
            if problems is None:
                raise
            problems.append(exc)
            return None

    steps: list[tuple[str, Callable[[], Plan]]] = []
    if CHANGELOG in wanted and release.config.changelog:
        from releaselib.phases.changelog import plan_changelog

        steps.append(("changelog", lambda: plan_changelog(release)))
    if BUMP in wanted:
        steps.append(("bump", lambda: bump.plan_release_bump(release)))
    if COMMIT_TAG in wanted:
        steps.append(("commit", lambda: commit.plan_commit_and_tag(release, expected)))
    if PUBLISH in wanted:
        steps.append(("push", lambda: commit.plan_push(release)))
    if POST_RELEASE in wanted:
        steps.append(("next", lambda: bump.plan_next_dev(release)))
    for name, build in steps:
        plan = attempt(build)
        if plan is None:
            continue
        if name == "changelog" and release.config.changelog and not all(a.is_done() for a in plan.actions):
            expected.append(release.config.changelog)  # the phase will write it
            expected.extend(f for a in plan.actions for f in getattr(a, "fragments", ()))  # towncrier removes these
        if name == "bump":
            expected.extend(bump.changed_paths(plan))
        plans.append(plan)
    for plan in plans:
        plan.dry_run = True
    return plans


def summary(release: Release) -> dict[str, Any]:
    """The facts the record keeps about the starting point."""
    from releaselib.infra import git

    return {
        "package": release.config.package,
        "version": release.version,
        "tag": release.tag,
        "branch": release.config.branch,
        "head": git.head_commit(release.repo),
        "last_release": last_release(release),
        "dev_scheme": release.config.dev_scheme,
    }


__all__ = [
    "CheckReport",
    "RepoStateError",
    "checks",
    "configuration_lines",
    "is_shallow",
    "phase_overview",
    "release_plan",
    "run_checks",
    "summary",
]
