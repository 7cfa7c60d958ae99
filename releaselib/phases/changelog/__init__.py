"""The release notes: find, draft and validate a version's changelog section.

Seed step 2: "Add release notes to doc/changelog.rst. Generally just
summarize/clarify the git log." A maintainer who already wrote the section
keeps it byte for byte; otherwise the phase drafts one from the commit
subjects since the last release tag, in the heading style the file already
uses, at the top of the version list, so there is something honest to edit.
Then the release's section is validated: docutils for reStructuredText
(Sphinx roles and directives allowed), a light heading check for Markdown.

The modules: :mod:`.sections` (formats, headings, sections), :mod:`.history`
(tags and commit subjects), :mod:`.draft` (the draft and the one action that
writes), :mod:`.towncrier` (the section built by towncrier from news fragments), :mod:`.validate` (checks and the release notes).
"""

from __future__ import annotations

from releaselib.phases.changelog.draft import (
    ChangelogSection,
    changelog_path,
    dated_title,
    draft_section,
    insert_section,
    insertion_line,
    plan_changelog,
    render_heading,
    retitle,
)
from releaselib.phases.changelog.history import (
    commit_subjects,
    last_release_tag,
    tag_version,
    version_like_tags,
)
from releaselib.phases.changelog.sections import (
    GIT_TIMEOUT,
    MARKDOWN,
    MAX_DRAFT_COMMITS,
    RST,
    RST_ADORNMENT,
    SPHINX_DIRECTIVES,
    SPHINX_ROLES,
    TEXT,
    Section,
    changelog_format,
    find_section,
    parse_sections,
    same_version,
    section_text,
    version_in_title,
    version_level,
    version_sections,
)
from releaselib.phases.changelog.towncrier import TowncrierBuild, record_changelog, towncrier_record
from releaselib.phases.changelog.validate import (
    Problem,
    changelog_problems,
    check_changelog,
    finish_changelog,
    release_notes,
    validate_changelog,
)

__all__ = [
    "GIT_TIMEOUT",
    "MARKDOWN",
    "MAX_DRAFT_COMMITS",
    "RST",
    "RST_ADORNMENT",
    "SPHINX_DIRECTIVES",
    "SPHINX_ROLES",
    "TEXT",
    "ChangelogSection",
    "Problem",
    "Section",
    "TowncrierBuild",
    "changelog_format",
    "changelog_path",
    "changelog_problems",
    "check_changelog",
    "commit_subjects",
    "dated_title",
    "draft_section",
    "find_section",
    "finish_changelog",
    "insert_section",
    "insertion_line",
    "last_release_tag",
    "parse_sections",
    "plan_changelog",
    "release_notes",
    "render_heading",
    "retitle",
    "same_version",
    "section_text",
    "tag_version",
    "record_changelog",
    "towncrier_record",
    "validate_changelog",
    "version_in_title",
    "version_level",
    "version_like_tags",
    "version_sections",
]
