"""Preflight, part two: every phase's own settings, checked before the first change.

:mod:`releaselib.phases.preflight` checks the repository; this module checks
that each phase of the run has what it needs (the announcement's server and
recipients, the docs page, the Pythons, an index that does not already hold
the release), and describes what every phase would do, so that ``plan``
tells everything at once rather than phase 09 failing after the upload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from releaselib.core.errors import ConfigError, ReleaseError
from releaselib.core.registry import (
    ANNOUNCE,
    BUILD,
    BUMP,
    CHANGELOG,
    COMMIT_TAG,
    DOCS,
    POST_RELEASE,
    PUBLISH,
    TEST,
)
from releaselib.infra.config.render import PLACEHOLDER

if TYPE_CHECKING:
    from releaselib.core.config_types import MatrixConfig
    from releaselib.core.plan import Plan
    from releaselib.engine.context import Release

__all__ = ["configuration_lines", "phase_overview", "phase_settings_checks"]

_WHERE = "the configuration (releaselib.toml, or [tool.releaselib] in pyproject.toml)"


def _missing(table: str, keys: str, phase: str) -> ConfigError:
    return ConfigError(
        f"Phase {phase} runs, but {keys} {'is' if ',' not in keys else 'are'} not set in [{table}].",
        hint=f"Fill in [{table}] in {_WHERE} (`releaselib init` writes it commented out), "
        f"or leave the phase out: --phases without {phase[3:]}.",
    )


def _placeholders(table: str, settings: object, phase: str, where: str = _WHERE) -> ConfigError | None:
    """The error for the keys of ``settings`` that still hold init's placeholder, or None."""
    import dataclasses

    held = []
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, str) and PLACEHOLDER in v for v in values):
            held.append(f.name.replace("_", "-"))
    if not held:
        return None
    keys = ", ".join(held)
    return ConfigError(
        f"Phase {phase} runs, but {keys} in [{table}] still {'holds' if len(held) == 1 else 'hold'} "
        f"the {PLACEHOLDER} placeholder `releaselib init` wrote.",
        hint=f"Write the real {'value' if len(held) == 1 else 'values'} in {where}, "
        f"or leave the phase out: --phases without {phase[3:]}.",
    )


def phase_settings_checks(release: Release, wanted: set[str]) -> list[tuple[str, Callable[[], str]]]:
    """(name, check) pairs for the settings the phases in ``wanted`` read; a check returns a detail or raises."""
    config = release.config
    found: list[tuple[str, Callable[[], str]]] = []

    if wanted & {TEST, BUILD}:
        def matrix() -> str:
            if not config.matrix.python:
                raise _missing("matrix", "python", "01_test" if TEST in wanted else "05_build")
            return f"Pythons {', '.join(config.matrix.python)}"

        found.append(("matrix settings", matrix))

    if CHANGELOG in wanted and config.changelog:
        def changelog() -> str:
            from releaselib.phases.changelog import check_changelog, plan_changelog

            # The section as the phase would leave it (kept, dated or drafted), validated now.
            return check_changelog(release, plan_changelog(release))

        found.append(("changelog section", changelog))

    if DOCS in wanted:
        def docs() -> str:
            if not config.docs_check.url:
                raise _missing("docs-check", "url", DOCS)
            unfilled = _placeholders("docs-check", config.docs_check, DOCS, config.source or _WHERE)
            if unfilled:
                raise unfilled
            return f"watch {config.docs_check.url}"

        found.append(("docs page settings", docs))

    if ANNOUNCE in wanted:
        def announce() -> str:
            settings = config.announce
            missing = [
                key for key, value in (("smtp-host", settings.smtp_host), ("sender", settings.sender), ("to", settings.to))
                if not value
            ]
            if missing:
                raise _missing("announce", ", ".join(missing), ANNOUNCE)
            unfilled = _placeholders("announce", settings, ANNOUNCE, config.source or _WHERE)
            if unfilled:
                raise unfilled
            return f"{settings.sender} -> {', '.join(settings.to)} via {settings.smtp_host}:{settings.smtp_port}"

        found.append(("announcement settings", announce))

    if PUBLISH in wanted:
        def not_on_index() -> str:
            from packaging.utils import (
                InvalidSdistFilename,
                InvalidWheelFilename,
                parse_sdist_filename,
                parse_wheel_filename,
            )
            from packaging.version import Version

            from releaselib.phases.publish import index_files

            files = index_files(config.publish.index_url, config.package, timeout=min(30.0, config.push_timeout))
            target = Version(release.version)
            taken = []
            for name in files:
                try:
                    version = parse_wheel_filename(name)[1] if name.endswith(".whl") else parse_sdist_filename(name)[1]
                except (InvalidWheelFilename, InvalidSdistFilename):
                    continue
                if version == target:
                    taken.append(name)
            if taken:
                shown = ", ".join(sorted(taken)[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
                raise ReleaseError(
                    f"{config.publish.index_url} already has {release.version} of {config.package}: {shown}.",
                    hint=f"Release a newer version, or finish that release with `releaselib run {release.version} --resume`.",
                )
            return f"{release.version} is not yet on {config.publish.index_url}"

        found.append(("version is new on the index", not_on_index))
    return found


def configuration_lines(release: Release) -> list[str]:
    """Where the configuration came from, and what detection found where."""
    config = release.config
    lines = [f"configuration: {config.source or 'the [tool.releaselib] table'}"]
    lines += [f"  detected {note}" for note in config.detection]
    return lines


def _extension_cells(matrix: MatrixConfig) -> str:
    """What the plan adds to 01_test's line for the C extension's switch."""
    if matrix.no_extension_variable:
        return f", and each again with {'='.join(matrix.no_extension_variable)}"
    if matrix.no_extension_global_option:
        return f", and each again with --global-option {' '.join(matrix.no_extension_global_option)}"
    if matrix.no_extension_config_settings:
        return f", and each again with --config-settings {' '.join(matrix.no_extension_config_settings)}"
    if matrix.tests_both_implementations:
        return " (the project's tests cover both implementations)"
    return ""


def phase_overview(release: Release, wanted: set[str], plans: Sequence[Plan] = ()) -> list[str]:
    """One or two lines per phase of the run: what it would do, from the configuration and the git-side ``plans``.

    ``plans`` (from :func:`~releaselib.phases.preflight.release_plan`) tell what
    only the files can: a tag-versioned project with nothing to commit tags HEAD.
    """
    from releaselib.phases.bump import nothing_to_write

    config = release.config
    lines: list[str] = []
    pythons = ", ".join(config.matrix.python) or "(none configured)"
    ext = _extension_cells(config.matrix)
    if TEST in wanted:
        lines.append(f"01_test       `{config.matrix.test_command}` on Python {pythons}{ext}")
    if CHANGELOG in wanted:
        built = " (built by towncrier from the news fragments)" if config.changelog_tool == "towncrier" else ""
        lines.append(f"02_changelog  the {release.version} section of {config.changelog or '(no changelog)'}{built}")
    if BUMP in wanted:
        reason = nothing_to_write(config) if config.version_source == "scm" else None
        files = ", ".join(dict.fromkeys(vf.path for vf in config.version_files))
        lines.append(f"03_bump       {reason or 'set ' + release.version + ' in ' + files}")
    if COMMIT_TAG in wanted:
        from releaselib.infra.git import CommitAction, TagAction

        tags = [a for plan in plans for a in plan.actions if isinstance(a, TagAction)]
        commits = [a for plan in plans for a in plan.actions if isinstance(a, CommitAction)]
        if tags and not commits:
            lines.append(f"04_commit_tag tag {release.tag} on HEAD as it is (nothing to commit)")
        else:
            lines.append(f"04_commit_tag commit {config.commit_message.format(version=release.version)!r}, tag {release.tag}")
    if BUILD in wanted:
        lines.append(f"05_build      sdist and one wheel per Python ({pythons}) from {release.tag}")
    if PUBLISH in wanted:
        lines.append(
            f"06_publish    push {config.branch} and {release.tag} to {config.remote}; upload to "
            f"{config.publish.repository_url}; install back from {config.publish.index_url}"
        )
    if DOCS in wanted:
        lines.append(f"07_docs       wait for {config.docs_check.url or '(no docs-check url)'} to show {release.version}")
    if POST_RELEASE in wanted:
        from releaselib.phases.bump import next_version

        reason = nothing_to_write(config)
        following = next_version(release)
        message = config.post_release_message.format(version=following)
        lines.append(f"08_post_release {reason or f'set {following}, commit {message!r}, push'}")
    if ANNOUNCE in wanted:
        to = ", ".join(config.announce.to) or "(no recipients)"
        lines.append(f"09_announce   mail {config.announce.subject.format(package=config.package, version=release.version)!r} to {to}")
    return lines
