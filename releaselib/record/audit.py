"""Read a release record back: review it, compare two releases.

The readers live in modules of their own: :mod:`releaselib.record.summary` (what a
reader wants first, shared by all), :mod:`releaselib.record.review` (``review_text``),
:mod:`releaselib.record.diff` (``diff_text``); :mod:`releaselib.record.verify` checks
that a record is whole. Their names are re-exported here, where callers import them.

The shape of ``record.json`` is documented in ``docs/record.md``.
"""

from __future__ import annotations

from releaselib.record.diff import diff_text
from releaselib.record.review import review_text
from releaselib.record.summary import (
    FILE_PHASES,
    PhaseSummary,
    _cell_counts,
    _cell_label,
    _seconds,
    _short,
    _size,
    _when,
    _who,
    docs_summary,
    find_releases,
    load_release,
    overall_result,
    phase_summaries,
    recorded_files,
    release_dir,
    release_facts,
    resolve_package,
    unusual,
)

__all__ = [
    "FILE_PHASES",
    "PhaseSummary",
    "_cell_counts",
    "_cell_label",
    "_seconds",
    "_short",
    "_size",
    "_when",
    "_who",
    "diff_text",
    "docs_summary",
    "find_releases",
    "load_release",
    "overall_result",
    "phase_summaries",
    "recorded_files",
    "release_dir",
    "release_facts",
    "resolve_package",
    "review_text",
    "unusual",
]
