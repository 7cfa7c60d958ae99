"""The release's section built by towncrier from the project's news fragments (``changelog-tool = "towncrier"``).

towncrier is a dependency of releaselib, run as ``python -m towncrier`` with
the interpreter running the phase, so the version that builds the section is
the one releaselib was tested with, it needs no network at release time, and
the record can say which it was. ``towncrier build --version V --yes`` writes
the section and ``git rm``s the fragments; the BUMP commit takes both (see
:func:`releaselib.phases.commit.release_files`). A dry run runs ``towncrier
build --draft`` instead, which changes nothing, and shows what it would write.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import ChangelogError
from releaselib.infra import processes
from releaselib.infra.config.towncrier import TowncrierSettings, news_fragments, towncrier_settings
from releaselib.phases.changelog.draft import ChangelogSection
from releaselib.phases.changelog.history import _git
from releaselib.phases.changelog.sections import _read

if TYPE_CHECKING:
    from releaselib.core.plan import Plan
    from releaselib.engine.context import Release

TOWNCRIER_TIMEOUT = 300.0
LOG_NAME = "02_changelog-towncrier.log"


def settings_of(release: Release) -> TowncrierSettings:
    """The project's towncrier settings; ChangelogError when ``changelog-tool = "towncrier"`` finds none."""
    settings = towncrier_settings(Path(release.config.root))
    if settings is None:
        raise ChangelogError(
            f'changelog-tool = "towncrier" is configured, but {release.config.root} has no [tool.towncrier] table '
            "in towncrier.toml or pyproject.toml.",
            hint="Add the towncrier configuration (directory, filename), or remove changelog-tool.",
        )
    return settings


class TowncrierBuild(ChangelogSection):
    """Build the release's section with ``towncrier build``: the news fragments become the section and are removed."""

    def __init__(self, release: Release, path: Path, settings: TowncrierSettings, *, name: str,
                 today: datetime.date | None = None) -> None:
        super().__init__(release, path, name=name, today=today)
        self.settings = settings
        self.root = Path(release.config.root)
        self.fragments = news_fragments(self.root, settings)
        self._removed: dict[str, bytes] = {}
        self.log = release.logs_dir / LOG_NAME
        self.command: list[str] = []

    def _towncrier(self, *args: str) -> processes.Completed:
        argv = [sys.executable, "-m", "towncrier", "build", "--dir", str(self.root), "--version", self.release.version,
                *args]
        try:
            done = processes.run(argv, cwd=self.root, log=self.log, merge_stderr=False, timeout=TOWNCRIER_TIMEOUT,
                                 title=f"towncrier build {' '.join(args)}")
        except processes.CommandTimeout as exc:
            raise ChangelogError(f"towncrier did not finish within {TOWNCRIER_TIMEOUT:g} s; see {self.log}.",
                                 hint="Read the log for where it stalled, then re-run the phase.") from exc
        if done.returncode != 0:
            raise ChangelogError(
                f"`towncrier build {' '.join(args)}` failed (exit {done.returncode}):\n"
                f"{(done.stderr or done.stdout).strip()[-2000:]}",
                hint=f"Fix what towncrier names (its configuration in {self.settings.source}, or a fragment in "
                f"{self.settings.directory}/), then re-run the phase; the full output is in {self.log}.",
            )
        return done

    @property
    def draft(self) -> str:
        """What towncrier would write (``towncrier build --draft``, which changes nothing)."""
        if self._draft is None:
            text = self._towncrier("--draft").stdout.strip("\n")
            self._draft = text + "\n\n"
        return self._draft

    def describe(self) -> str:
        if self.existing is not None:
            return super().describe()
        shown = ", ".join(Path(f).name for f in self.fragments)
        return (f"build the section for {self.release.version} at line {self.line} of {self.name} with towncrier "
                f"from {len(self.fragments)} news fragment(s) in {self.settings.directory}/ ({shown}), which it removes")

    def apply(self) -> None:
        before = _read(self.path)
        self._removed = {f: (self.root / f).read_bytes() for f in self.fragments}
        self.original = before
        self.drafted = False  # the maintainers wrote the fragments: nothing here is unread
        self.command = ["towncrier", "build", "--version", self.release.version, "--yes"]
        try:
            self._towncrier("--yes")
        except ChangelogError:
            self.restore()
            raise

    def restore(self) -> None:
        """Put the changelog and the fragments back, and towncrier's staging undone."""
        if self.original is None:
            return
        paths = [str(self.name), *self._removed]
        _git(self.root, "reset", "-q", "--", *paths)
        for fragment, data in self._removed.items():
            (self.root / fragment).parent.mkdir(parents=True, exist_ok=True)
            (self.root / fragment).write_bytes(data)
        super().restore()

    def recorded(self) -> dict[str, Any]:
        """What the record keeps: the command, the fragments it consumed, its log (relative to the record)."""
        from importlib.metadata import version

        return {
            "command": " ".join(self.command) if self.command else "towncrier build --draft (dry run)",
            "towncrier": version("towncrier"),
            "fragments": list(self.fragments),
            "log": f"logs/{LOG_NAME}",
        }


def plan_towncrier(release: Release, path: Path, plan: Plan, *, today: datetime.date | None = None) -> Plan:
    """Add the towncrier build to ``plan``; a section already in the changelog is kept (or dated) as usual.

    Raises :class:`ChangelogError` when the changelog has no section for the
    release and no news fragment is waiting.
    """
    settings = settings_of(release)
    name = str(release.config.changelog)
    action = TowncrierBuild(release, path, settings, name=name, today=today)
    if action.existing is None and not action.fragments:
        where = f"{settings.directory}/" if settings.directory else "the fragment folder ([tool.towncrier] directory)"
        raise ChangelogError(
            f"{name} has no section for {release.version}, and there is no news fragment in {where} for towncrier "
            "to build one from.",
            hint=f"Add the release's news fragments to {where} (e.g. `towncrier create 123.feature.rst`) and commit "
            f"them, or write the section for {release.version} in {name} by hand and commit it; then run the phase again.",
        )
    plan.add(action)
    return plan


def towncrier_record(plan: Plan) -> dict[str, Any] | None:
    """The record's ``towncrier_build`` value when towncrier built the section in ``plan``, else None."""
    built = [a for a in plan if isinstance(a, TowncrierBuild) and a.existing is None]
    return built[0].recorded() if built else None


def record_changelog(release: Release, plan: Plan, notes: str, *, accept_draft: bool = False) -> None:
    """Record what 02_changelog decided: ``accept_draft``, the section, and towncrier's build when it made it."""
    release.record("accept_draft", accept_draft)
    release.record("changelog_section", notes)
    built = towncrier_record(plan)
    if built is not None:
        release.record("towncrier_build", built)

