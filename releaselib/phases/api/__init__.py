"""Phase 00a: the public API against the last release, judged by the compatibility policy.

- :mod:`.surface` loads a package's public API at a git reference (griffe, static);
- :mod:`.deprecations` finds what the source deprecates (ast);
- :mod:`.ledger` keeps, per release tag, which names were deprecated (cached);
- :mod:`.changes` classifies what changed between two surfaces;
- :mod:`.policy` applies the rules and waivers and shows the result.

:func:`check_api` is what the runbook, ``releaselib api`` and ``plan`` call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from releaselib.phases.api.changes import ApiChange, compare
from releaselib.phases.api.ledger import Ledger, build_ledger, release_tags, tag_version
from releaselib.phases.api.policy import ApiReport, Violation, apply_waivers, release_kind, violations
from releaselib.phases.api.surface import load_surface

__all__ = ["ApiChange", "ApiReport", "Ledger", "Violation", "check_api", "check_release", "ledger_cache_dir"]


def ledger_cache_dir(outputs: Path, package: str) -> Path:
    """Where the per-tag ledger entries live: beside the package's release records."""
    return Path(outputs) / package / "api-ledger"


def check_api(
    repo: Path,
    config: Any,
    version: str,
    *,
    ref: str | None = None,
    against: str | None = None,
    cache_dir: Path | None = None,
) -> ApiReport:
    """Compare the release (``ref``, default the working tree) with the last final release
    below ``version`` (or the tag ``against``), build the deprecation ledger, and judge.

    Returns the report; it raises nothing for a violation (call
    :meth:`ApiReport.raise_for_violations`). Raises :class:`ConfigError` when
    the package cannot be found and :class:`GitError` when git fails.
    """
    started = time.perf_counter()
    settings = config.api
    repo = Path(repo)
    options = {"source": settings.source, "exclude": settings.exclude, "helpers": settings.deprecation_helpers}
    tags = release_tags(repo, config.tag, below=version)
    if against is None and tags:
        against = tags[-1][1]
    previous_version = next((str(v) for v, t in tags if t == against), None)
    if against is not None and previous_version is None:
        previous_version = tag_version(against, config.tag)
    new = load_surface(repo, config.import_name, ref, **options)
    loaded = {}
    changes: list[ApiChange] = []
    if against is not None:
        old = load_surface(repo, config.import_name, against, **options)
        loaded[against] = old
        changes = compare(old, new)
    ledger = build_ledger(repo, import_name=config.import_name, tag_template=config.tag, below=version,
                          cache_dir=cache_dir, loaded=loaded, **options)
    kind = release_kind(version, previous_version)
    found = violations(changes, ledger, version=version, kind=kind, period=settings.deprecation_period,
                       major_may_break=settings.major_may_break)
    report = ApiReport(
        package=config.package,
        version=version,
        against=against,
        kind=kind,
        period=settings.deprecation_period,
        changes=changes,
        violations=apply_waivers(found, settings.waivers, version),
        ledger=ledger,
        enforce=settings.check,
        still_deprecated=sorted(new.deprecated()),
    )
    report.seconds = time.perf_counter() - started
    return report


def check_release(release: Any) -> ApiReport:
    """:func:`check_api` for the release a runbook works on; the ledger cache sits beside its record."""
    return check_api(
        release.repo,
        release.config,
        release.version,
        cache_dir=ledger_cache_dir(release.record_dir.parent.parent, release.config.package),
    )
