"""Changelog styles of real projects: plain-text headings, placeholder dates, drafts that stop, clean failures."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from releaselib.core.errors import ChangelogError
from releaselib.phases.changelog import (
    TEXT,
    changelog_format,
    check_changelog,
    finish_changelog,
    plan_changelog,
    section_text,
)

from .test_changelog import commit, make_release, make_repo

TODAY = datetime.date(2026, 4, 24)

PLAIN = """\
Version 4.1.1 released 2026-04-24

* Wheels for Windows.

Version 4.1.0 released 2026-03-01

* Faster indented encoding.
  Version 4.0 had the slow path.

Version 4.0.1 released 2025-12-12

* Fix a leak.
"""


def test_underline_less_headings_are_sections_and_a_section_stops_at_the_next(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "CHANGES.txt", PLAIN)
    assert changelog_format(repo / "CHANGES.txt") == TEXT
    assert section_text(repo / "CHANGES.txt", "4.1.0") == "* Faster indented encoding.\n  Version 4.0 had the slow path."
    assert section_text(repo / "CHANGES.txt", "4.0.1") == "* Fix a leak."


def test_a_drafted_plain_section_goes_on_top_in_the_same_style_and_swallows_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "CHANGES.txt", PLAIN, commits=["Add dump(indent=)", "Merge pull request #3 from a/b",
                                                             "Bump actions/checkout from 3 to 4", "Fix a typo"])
    release = make_release(repo, "CHANGES.txt", "4.1.2")
    plan = plan_changelog(release, today=TODAY)
    plan.execute(dry_run=False)
    notes = finish_changelog(release, plan, accept_draft=True)
    text = (repo / "CHANGES.txt").read_text()
    assert text == "Version 4.1.2 released 2026-04-24\n\n- Add dump(indent=)\n- Fix a typo\n\n" + PLAIN
    assert notes == "- Add dump(indent=)\n- Fix a typo"  # the announcement gets this section, not the history


def test_a_draft_stops_a_real_run_unless_accepted_and_stays_for_editing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "CHANGES.txt", PLAIN, commits=["Add a feature"])
    release = make_release(repo, "CHANGES.txt", "4.1.2")
    plan = plan_changelog(release, today=TODAY)
    plan.execute(dry_run=False)
    with pytest.raises(ChangelogError) as info:
        finish_changelog(release, plan)
    assert "has not been read" in info.value.message and "--resume" in info.value.hint
    assert "accept_draft=true" in info.value.hint
    assert (repo / "CHANGES.txt").read_text().startswith("Version 4.1.2 released 2026-04-24\n\n- Add a feature\n")
    # The resume finds the (edited) section and keeps it: no second draft, no stop.
    (repo / "CHANGES.txt").write_text((repo / "CHANGES.txt").read_text().replace("- Add a feature", "* Feature X."))
    again = plan_changelog(release, today=TODAY)
    again.execute(dry_run=False)
    assert finish_changelog(release, again) == "* Feature X."


def test_a_failed_validation_puts_the_file_back(tmp_path: Path) -> None:
    rst = "Changes\n=======\n\n1.0\n---\n\n- First.\n"
    repo = make_repo(tmp_path, "CHANGES.rst", rst, commits=["Add a feature"])
    release = make_release(repo, "CHANGES.rst", "1.1")
    plan = plan_changelog(release, today=TODAY)
    action = plan.actions[0]
    action._draft = "1.1\n---\n\n- Use ``unclosed literal\n\n"  # what a drafter bug would write
    plan.execute(dry_run=False)
    assert "1.1" in (repo / "CHANGES.rst").read_text()
    with pytest.raises(ChangelogError, match="CHANGES.rst:"):
        finish_changelog(release, plan, accept_draft=True)
    assert (repo / "CHANGES.rst").read_text() == rst  # no half-made section left behind


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("CHANGES.rst", "2.2 (XXXX/XX/XX)\n----------------\n\n- A.\n\n2.1 (2026/01/02)\n----------------\n\n- B.\n",
         "2.2 (2026/04/24)\n----------------\n\n- A.\n\n2.1 (2026/01/02)\n----------------\n\n- B.\n"),
        ("CHANGELOG.md", "# Changes\n\n## 0.4 (unreleased)\n\n- A.\n\n## 0.3 (2026-01-05)\n\n- B.\n",
         "# Changes\n\n## 0.4 (2026-04-24)\n\n- A.\n\n## 0.3 (2026-01-05)\n\n- B.\n"),
        ("CHANGES.rst", ("Version 3.1.0\n-------------\n\nUnreleased\n\n-   A.\n\n\nVersion 3.0.2\n-------------\n\n"
                         "Released 2024-10-18\n\n-   B.\n"),
         ("Version 3.1.0\n-------------\n\nReleased 2026-04-24\n\n-   A.\n\n\nVersion 3.0.2\n-------------\n\n"
          "Released 2024-10-18\n\n-   B.\n")),
        ("CHANGES.txt", "Version 1.3 released TBD\n\n* A.\n\nVersion 1.2 released 2026-01-10\n\n* B.\n",
         "Version 1.3 released 2026-04-24\n\n* A.\n\nVersion 1.2 released 2026-01-10\n\n* B.\n"),
    ],
)
def test_a_placeholder_date_is_completed_in_the_files_own_style(tmp_path: Path, name: str, before: str, after: str) -> None:
    version = next(word for word in before.replace("(", " ").split() if word[0].isdigit())
    repo = make_repo(tmp_path, name, before, commits=[])
    release = make_release(repo, name, version)
    plan = plan_changelog(release, today=TODAY)
    plan.execute(dry_run=False)
    finish_changelog(release, plan)
    assert (repo / name).read_text() == after


def test_an_unknown_placeholder_style_is_flagged_before_anything_changes(tmp_path: Path) -> None:
    text = "Changes\n=======\n\n1.1\n---\n\nUnreleased\n\n- A.\n\n1.0\n---\n\n- B.\n"
    repo = make_repo(tmp_path, "CHANGES.rst", text, commits=[])
    release = make_release(repo, "CHANGES.rst", "1.1", dry_run=True)
    with pytest.raises(ChangelogError, match="still says 'Unreleased'"):
        check_changelog(release, plan_changelog(release, today=TODAY))
    assert (repo / "CHANGES.rst").read_text() == text


def test_only_the_release_section_is_validated(tmp_path: Path) -> None:
    old_mistakes = "1.0\n---\n\n- Broken ``literal from 2009.\n"
    text = "Changes\n=======\n\n1.1\n---\n\n- Fine.\n\n" + old_mistakes
    repo = make_repo(tmp_path, "CHANGES.rst", text, commits=[])
    release = make_release(repo, "CHANGES.rst", "1.1")
    assert "is valid" in check_changelog(release, plan_changelog(release, today=TODAY))
    commit(repo, "x")
    broken = make_release(repo, "CHANGES.rst", "1.0")
    with pytest.raises(ChangelogError):
        check_changelog(broken, plan_changelog(broken, today=TODAY))


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("CHANGELOG.md",  # keep-a-changelog: the notes wait under [Unreleased]
         "# Changelog\n\n## [Unreleased]\n\n### Added\n- Colours.\n\n## [1.0.0] - 2025-01-01\n\n### Added\n- First.\n",
         "# Changelog\n\n## [1.1.0] - 2026-04-24\n\n### Added\n- Colours.\n\n## [1.0.0] - 2025-01-01\n\n### Added\n- First.\n"),
        ("CHANGES.rst",
         "Changelog\n=========\n\nUnreleased\n----------\n\n- Colours.\n\n1.0.0 (2025-01-01)\n------------------\n\n- First.\n",
         "Changelog\n=========\n\n1.1.0 (2026-04-24)\n------------------\n\n- Colours.\n\n1.0.0 (2025-01-01)\n------------------\n\n- First.\n"),
    ],
)
def test_an_unreleased_section_becomes_the_release_in_the_older_sections_style(
    tmp_path: Path, name: str, before: str, after: str
) -> None:
    """The maintainer's notes under "Unreleased" are the release's: renamed, never drafted below them."""
    repo = make_repo(tmp_path, name, before, commits=["Add colours"])
    release = make_release(repo, name, "1.1.0")
    plan = plan_changelog(release, today=TODAY)
    assert "Unreleased" in plan.actions[0].describe() and "draft" not in plan.actions[0].describe()
    assert "Colours." in plan.actions[0].preview() and "Add colours" not in plan.actions[0].preview()
    plan.execute(dry_run=False)
    notes = finish_changelog(release, plan)  # no draft: nothing to stop for
    assert (repo / name).read_text() == after
    assert "Colours." in notes and "First." not in notes
    assert plan_changelog(release, today=TODAY).actions[0].is_done()  # a re-run finds it done
