"""Tests for releaselib.phases.changelog: real files, real git repositories in tmp_path."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from releaselib.core.config_types import Config
from releaselib.core.errors import ChangelogError
from releaselib.core.plan import ALREADY_DONE, DONE, WOULD_DO
from releaselib.engine.context import Release
from releaselib.phases.changelog import (
    ChangelogSection,
    check_changelog,
    draft_section,
    find_section,
    last_release_tag,
    parse_sections,
    plan_changelog,
    release_notes,
    retitle,
    section_text,
    validate_changelog,
    version_in_title,
    version_sections,
)

from .helpers import git

TODAY = datetime.date(2024, 5, 17)

RST = """\
:orphan:

Changelog
=========

Changes in Version 1.0
----------------------

Version 1.0 is the first stable release.

Issues Resolved
...............

- :doc:`api` and :class:`~pkg.Thing` now agree.

Changes in Version 0.9
----------------------

- Beta.
"""

MD = """\
# Changelog

All notable changes to this project.

## [1.0] - 2020-01-01
### Fixed
- A bug.

## [0.9] - 2019-06-01
- Beta.
"""


# -- helpers ---------------------------------------------------------------




def commit(repo: Path, subject: str) -> None:
    git(repo, "commit", "--allow-empty", "-q", "-m", subject)


def make_repo(tmp_path: Path, changelog_name: str, content: str | bytes, *, commits: list[str] | None = None) -> Path:
    """A git repo with the changelog, tagged 1.0, then ``commits`` on top."""
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    path = repo / changelog_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    git(repo, "add", ".")
    commit(repo, "BUMP 1.0")
    git(repo, "tag", "1.0")
    default = ["BUMP 1.0+dev", "Add feature A", "Fix *args handling in foo_", "Document the `bar` option"]
    for subject in default if commits is None else commits:
        commit(repo, subject)
    return repo


def make_release(repo: Path, changelog: str | None, version: str = "1.1", *, dry_run: bool = False, **config) -> Release:
    cfg = Config(root=repo, package="pkg", import_name="pkg", changelog=changelog, **config)
    return Release(version=version, repo=repo, config=cfg, dry_run=dry_run, record_dir=repo / "_record")


def run_plan(release: Release, *, dry_run: bool = False):
    plan = plan_changelog(release, today=TODAY)
    plan.execute(dry_run=dry_run)
    return plan


# -- parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "version"),
    [
        ("Changes in Version 2.2", "2.2"),
        ("2.2 (2012-04-01)", "2.2"),
        ("[2.2] - 2012-04-01", "2.2"),
        ("v2.2", "2.2"),
        ("Version 3", "3"),
        ("Release 2.2rc1:", "2.2rc1"),
        ("Changes in Version 2.2+ (in development)", "2.2+"),
        ("Changelog", None),
        ("Python 3 support", None),
        ("Released 2012-04-01", None),
    ],
)
def test_version_in_title(title: str, version: str | None) -> None:
    assert version_in_title(title) == version


def test_parse_rst_sections_levels_lines_and_bodies() -> None:
    sections = parse_sections(RST, "rst")
    assert [(s.title, s.version, s.level, s.start_line, s.end_line) for s in sections] == [
        ("Changelog", None, 1, 3, 19),
        ("Changes in Version 1.0", "1.0", 2, 6, 14),
        ("Issues Resolved", None, 3, 11, 14),
        ("Changes in Version 0.9", "0.9", 2, 16, 19),
    ]
    assert sections[1].style == "-"
    assert sections[1].body.startswith("Version 1.0 is the first stable release.")
    assert sections[1].body.endswith(":class:`~pkg.Thing` now agree.")
    assert [s.version for s in version_sections(sections)] == ["1.0", "0.9"]


def test_parse_rst_overlined_headings() -> None:
    text = "=====\nTitle\n=====\n\n-----\n 1.0\n-----\n\nbody\n"
    sections = parse_sections(text, "rst")
    assert [(s.title, s.version, s.style, s.start_line) for s in sections] == [
        ("Title", None, "=/=", 1),
        ("1.0", "1.0", "-/-", 5),
    ]


def test_parse_markdown_sections_and_fences_are_skipped() -> None:
    text = MD + "\n```\n## 0.1 not a heading\n```\n"
    sections = parse_sections(text, "md")
    assert [(s.title, s.version, s.level) for s in sections] == [
        ("Changelog", None, 1),
        ("[1.0] - 2020-01-01", "1.0", 2),
        ("Fixed", None, 3),
        ("[0.9] - 2019-06-01", "0.9", 2),
    ]
    assert sections[1].body == "### Fixed\n- A bug."


def test_subheading_with_a_version_is_not_a_release() -> None:
    text = "Changes in Version 1.1\n======================\n\nDrop 2.7\n--------\n\n- x\n\nChanges in Version 1.0\n======================\n\n- y\n"
    assert [s.title for s in version_sections(parse_sections(text, "rst"))] == [
        "Changes in Version 1.1",
        "Changes in Version 1.0",
    ]


def test_retitle_replaces_version_and_date() -> None:
    assert retitle("Changes in Version 2.1", "2.2", today=TODAY) == "Changes in Version 2.2"
    assert retitle("2.1 (2012-04-01)", "2.2", today=TODAY) == "2.2 (2024-05-17)"
    assert retitle("[2.1] - 2012-04-01", "2.2", today=TODAY) == "[2.2] - 2024-05-17"
    assert retitle("2.1 (April 1, 2012)", "2.2", today=TODAY) == "2.2 (2024-05-17)"
    assert retitle("v2.1", "2.2", today=TODAY) == "v2.2"


# -- last_release_tag ------------------------------------------------------


def test_last_release_tag_orders_by_pep440_and_follows_template(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "one")
    for tag in ["1.9", "1.10", "1.2", "v7.0", "release-9", "nightly", "1.11.dev0x"]:
        git(repo, "tag", tag)
    commit(repo, "two")
    git(repo, "tag", "v1.3")  # newest by date, not highest
    assert last_release_tag(repo, "{version}") == "1.10"
    assert last_release_tag(repo, "v{version}") == "v7.0"
    assert last_release_tag(repo, "{version}", below="1.10") == "1.9"
    assert last_release_tag(repo, "release-{version}") == "release-9"
    assert last_release_tag(repo, "pkg-{version}") is None


# -- keep ------------------------------------------------------------------


def test_existing_section_is_kept_byte_for_byte(tmp_path: Path) -> None:
    text = RST.replace("Changes in Version 1.0\n", "Changes in Version 1.1\n", 1)
    repo = make_repo(tmp_path, "doc/changelog.rst", text)
    before = (repo / "doc/changelog.rst").read_bytes()
    plan = run_plan(make_release(repo, "doc/changelog.rst"))
    assert plan.rows() == [("keep existing section for 1.1 in doc/changelog.rst (lines 6-14)", ALREADY_DONE)]
    assert (repo / "doc/changelog.rst").read_bytes() == before
    validate_changelog(repo / "doc/changelog.rst", version="1.1")
    assert release_notes(make_release(repo, "doc/changelog.rst")).endswith("now agree.")
    assert section_text(repo / "doc/changelog.rst", "1.1").startswith("Version 1.0 is the first stable release.")


# -- draft -----------------------------------------------------------------


def test_draft_rst_in_the_same_style_from_the_git_log(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "doc/changelog.rst", RST)
    path = repo / "doc/changelog.rst"
    release = make_release(repo, "doc/changelog.rst")
    plan = run_plan(release)
    assert plan.rows() == [("add a drafted section for 1.1 at line 6 of doc/changelog.rst", DONE)]
    expected_draft = (
        "Changes in Version 1.1\n"
        "----------------------\n"
        "\n"
        "- Add feature A\n"
        "- Fix \\*args handling in foo\\_\n"
        "- Document the \\`bar\\` option\n"
        "\n"
    )
    head, tail = RST.split("Changes in Version 1.0\n", 1)
    assert path.read_text() == head + expected_draft + "Changes in Version 1.0\n" + tail
    assert find_section(path, "1.1").start_line == 6
    validate_changelog(path, version="1.1", name="doc/changelog.rst")  # the escaped subjects are valid rst
    assert check_changelog(release).startswith("doc/changelog.rst is valid; the section for 1.1 is at lines 6-11")
    # A re-run keeps what the first run wrote.
    again = run_plan(release)
    assert again.outcomes == [ALREADY_DONE]
    assert "keep existing section for 1.1" in again.rows()[0][0]


def test_dry_run_changes_nothing_and_validates_the_would_be_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "doc/changelog.rst", RST)
    path = repo / "doc/changelog.rst"
    release = make_release(repo, "doc/changelog.rst", dry_run=True)
    plan = run_plan(release, dry_run=True)
    assert plan.outcomes == [WOULD_DO]
    assert path.read_text() == RST
    action = plan.actions[0]
    assert isinstance(action, ChangelogSection)
    assert "- Add feature A" in action.preview()
    assert "would be valid" in check_changelog(release, plan)
    assert "would be valid" in check_changelog(release)  # a dry run checks the would-be file
    assert release_notes(release) == "- Add feature A\n- Fix \\*args handling in foo\\_\n- Document the \\`bar\\` option"
    assert path.read_text() == RST
    real = make_release(repo, "doc/changelog.rst", dry_run=False)
    with pytest.raises(ChangelogError, match="No section for version 1.1"):
        check_changelog(real)  # a real run checks the file itself, which lacks the section


def test_draft_markdown_with_date_and_ordering(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "CHANGELOG.md", MD, commits=["Add A", "BUMP 1.0+dev", "Merge-free fix B"])
    run_plan(make_release(repo, "CHANGELOG.md"))
    text = (repo / "CHANGELOG.md").read_text()
    head, tail = MD.split("## [1.0]", 1)
    assert text == head + "## [1.1] - 2024-05-17\n\n- Add A\n- Merge-free fix B\n\n## [1.0]" + tail
    validate_changelog(repo / "CHANGELOG.md", version="1.1")


def test_no_commits_since_the_tag_drafts_no_changes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "doc/changelog.rst", RST, commits=["BUMP 1.0+dev"])
    draft = draft_section(make_release(repo, "doc/changelog.rst"))
    assert draft == "Changes in Version 1.1\n----------------------\n\n- No changes.\n\n"


def test_crlf_file_stays_crlf_and_other_bytes_are_kept(tmp_path: Path) -> None:
    original = RST.replace("\n", "\r\n").encode()
    repo = make_repo(tmp_path, "doc/changelog.rst", original)
    run_plan(make_release(repo, "doc/changelog.rst"))
    data = (repo / "doc/changelog.rst").read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    head, tail = original.split(b"Changes in Version 1.0\r\n", 1)
    assert data.startswith(head + b"Changes in Version 1.1\r\n----------------------\r\n\r\n- Add feature A\r\n")
    assert data.endswith(b"\r\n\r\nChanges in Version 1.0\r\n" + tail)
    validate_changelog(repo / "doc/changelog.rst", version="1.1")


def test_title_only_file_gets_the_section_below_title_and_preamble(tmp_path: Path) -> None:
    text = "Changelog\n=========\n\nSome words.\n"
    repo = make_repo(tmp_path, "CHANGES.rst", text, commits=["Add A"])
    plan = run_plan(make_release(repo, "CHANGES.rst"))
    assert plan.rows()[0][0] == "add a drafted section for 1.1 at line 6 of CHANGES.rst"
    assert (repo / "CHANGES.rst").read_text() == text + "\nVersion 1.1\n-----------\n\n- Add A\n"
    validate_changelog(repo / "CHANGES.rst", version="1.1")


# -- validation ------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_short_underline_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "doc/changelog.rst", RST.replace("Changes in Version 0.9\n----------------------", "Changes in Version 0.9\n------"))
    with pytest.raises(ChangelogError) as info:
        validate_changelog(path, name="doc/changelog.rst")
    assert "doc/changelog.rst:17: Title underline too short." in info.value.message
    assert "re-run" in info.value.hint


def test_unclosed_inline_literal_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "doc/changelog.rst", RST.replace("- Beta.", "- Beta with ``unclosed literal."))
    with pytest.raises(ChangelogError, match=r"doc/changelog.rst:19: Inline literal start-string without end-string"):
        validate_changelog(path, name="doc/changelog.rst")


def test_sphinx_roles_and_directives_are_not_errors_but_unknown_ones_are(tmp_path: Path) -> None:
    sphinx = RST + (
        "\n.. versionadded:: 0.9\n\n   :meth:`x`, :py:func:`y`, :ref:`z <a>`, :issue:`12`.\n"
        "\n.. toctree::\n   :maxdepth: 1\n\n   api\n"
    )
    validate_changelog(write(tmp_path, "ok.rst", sphinx), version="1.0")
    with pytest.raises(ChangelogError, match=r'bad.rst:19: Unknown interpreted text role "bogus"'):
        validate_changelog(write(tmp_path, "bad.rst", RST.replace("- Beta.", "- Beta :bogus:`x`.")))
    with pytest.raises(ChangelogError, match=r'Unknown target name: "nowhere"'):
        validate_changelog(write(tmp_path, "ref.rst", RST.replace("- Beta.", "- Beta nowhere_.")))


def test_missing_empty_and_duplicate_sections_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "c.rst", RST)
    with pytest.raises(ChangelogError, match="No section for version 1.1"):
        validate_changelog(path, version="1.1")
    empty = write(tmp_path, "e.md", "# Changelog\n\n## 1.1\n\n## 1.0\n- x\n")
    with pytest.raises(ChangelogError, match=r"e.md:3: The section for 1.1 is empty"):
        validate_changelog(empty, version="1.1")
    twice = write(tmp_path, "t.md", "# Changelog\n\n## 1.0\n- x\n\n## 1.0.0\n- y\n")
    with pytest.raises(ChangelogError, match=r"t.md:6: A second section for 1.0"):
        validate_changelog(twice, version="1.0")


def test_markdown_heading_checks(tmp_path: Path) -> None:
    validate_changelog(write(tmp_path, "ok.md", MD + "\n#123 is an issue, not a heading\n"), version="1.0")
    bad = write(tmp_path, "bad.md", MD + "\n##Broken\n\n```\nnever closed\n")
    with pytest.raises(ChangelogError) as info:
        validate_changelog(bad, version="1.0")
    assert "bad.md:12: Heading needs a space after '##'" in info.value.message
    assert "bad.md:14: Code fence ``` is never closed." in info.value.message


# -- plan edges ------------------------------------------------------------


def test_no_changelog_configured(tmp_path: Path) -> None:
    plan = plan_changelog(make_release(tmp_path, None, changelog_required=False))
    assert len(plan) == 0 and "no changelog configured" in plan.title
    with pytest.raises(ChangelogError, match="No changelog is configured") as info:
        plan_changelog(make_release(tmp_path, None))
    assert "changelog" in info.value.hint


def test_missing_changelog_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ChangelogError, match="does not exist"):
        plan_changelog(make_release(tmp_path, "doc/changelog.rst"))
    write(tmp_path, "NEWS.docx", "x\n")
    with pytest.raises(ChangelogError, match="Cannot tell the format"):
        plan_changelog(make_release(tmp_path, "NEWS.docx"))
