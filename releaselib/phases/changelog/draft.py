"""Drafting a section from the git log, and the one action that writes the changelog."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import TYPE_CHECKING

from releaselib.core.errors import ChangelogError
from releaselib.core.plan import Action, Plan
from releaselib.phases.changelog.history import commit_subjects, last_release_tag
from releaselib.phases.changelog.sections import (
    _RST_NEW_LEVEL_CHARS,
    MARKDOWN,
    MAX_DRAFT_COMMITS,
    RST,
    Section,
    _bare,
    _column_width,
    _find_version,
    _read,
    _split_lines,
    changelog_format,
    find_section,
    parse_sections,
    same_version,
    version_sections,
)

if TYPE_CHECKING:
    from releaselib.engine.context import Release

# --------------------------------------------------------------------------
# drafting

_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_DATE_IN_PARENS = re.compile(r"\(([^()]*\b(?:19|20)\d{2}\b[^()]*)\)")


def retitle(template_title: str, version: str, *, today: datetime.date | None = None) -> str:
    """``template_title`` with its version replaced by ``version`` and any date by today's.

    ``Changes in Version 2.1`` -> ``Changes in Version 2.2``;
    ``2.1 (2012-04-01)`` -> ``2.2 (<today>)``; ``[2.1] - 2012-04-01`` ->
    ``[2.2] - <today>``. A title without a version gets `` version`` appended.
    """
    today_text = (today or datetime.date.today()).isoformat()
    span = _find_version(template_title)
    if span is None:
        title = f"{template_title} {version}"
    else:
        title = template_title[: span[0]] + version + template_title[span[1] :]
    if _ISO_DATE.search(title):
        return _ISO_DATE.sub(today_text, title)
    return _DATE_IN_PARENS.sub(f"({today_text})", title)


def _rst_escape(text: str) -> str:
    # Commit subjects are plain text; markup characters in them would turn
    # into emphasis, roles or references that do not resolve.
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([*`|])", r"\\\1", text)
    text = re.sub(r"(?<=[\w\]])_(?=\W|$)", r"\\_", text)
    if text.endswith("::"):
        text = text[:-1] + "\\:"
    return text


def render_heading(title: str, style: str, fmt: str) -> list[str]:
    """The lines of a heading drawn in ``style`` (see :class:`Section`)."""
    if style == "line":  # plain text: the title alone on its line
        return [title]
    if fmt == MARKDOWN:
        if style.startswith("#"):
            return [f"{style} {title}"]
        return [title, style * max(3, _column_width(title))]
    width = _column_width(title)
    if "/" in style:
        char = style[0]
        return [char * width, title, char * width]
    return [title, style * width]


def _new_style(sections: list[Section], fmt: str) -> str:
    releases = version_sections(sections)
    if releases:
        return releases[0].style
    if fmt == MARKDOWN:
        levels = [s.level for s in sections]
        return "#" * min(6, (min(levels) + 1) if levels else 2)
    if fmt == "text":
        return "line"
    used = {s.style for s in sections}
    if not sections:
        return "="
    for char in _RST_NEW_LEVEL_CHARS:
        if char not in used and f"{char}/{char}" not in used:
            return char
    return "-"


def _default_title(version: str) -> str:
    return f"Version {version}"


def draft_section(
    release: Release,
    *,
    fmt: str | None = None,
    template_title: str | None = None,
    style: str | None = None,
    today: datetime.date | None = None,
) -> str:
    """A new section for ``release.version``: a heading and the commit subjects since the last release.

    The heading copies the top-most existing release heading with its
    version (and date, if it had one) replaced, drawn in the same style;
    ``fmt``, ``template_title`` and ``style`` override what is read from the
    configured changelog. The body is one bullet per commit subject since
    :func:`last_release_tag` (release and post-release bumps left out), or
    "No changes." Returns the text with "\\n" line endings, ending in a blank
    line. Raises :class:`GitError` when git fails, :class:`ChangelogError`
    when the changelog cannot be read.
    """
    config = release.config
    path = Path(config.root) / config.changelog if config.changelog else None
    if fmt is None:
        fmt = changelog_format(path) if path is not None else RST
    sections: list[Section] = []
    if path is not None and path.is_file() and (template_title is None or style is None):
        sections = parse_sections(_read(path), fmt)
    if template_title is None:
        releases = version_sections(sections)
        template_title = releases[0].title if releases else None
    title = retitle(template_title, release.version, today=today) if template_title else _default_title(release.version)
    if style is None:
        style = _new_style(sections, fmt)

    since = last_release_tag(release.repo, config.tag, below=release.version)
    subjects = commit_subjects(release.repo, since, skip=(config.commit_message, config.post_release_message))
    if fmt == RST:
        subjects = [_rst_escape(s) for s in subjects]
    if len(subjects) > MAX_DRAFT_COMMITS:
        rest = len(subjects) - MAX_DRAFT_COMMITS
        subjects = subjects[:MAX_DRAFT_COMMITS] + [f"... and {rest} more commits (see the git log)."]
    bullets = [f"- {s}" for s in subjects] or ["- No changes."]
    return "\n".join([*render_heading(title, style, fmt), "", *bullets, "", ""])


def insertion_line(sections: list[Section], total_lines: int) -> int:
    """The 0-based line index where a new release section goes.

    Just above the top-most release section; with none, below the document
    title and whatever text follows it (before the next heading); with no
    title either, at the top.
    """
    releases = version_sections(sections)
    if releases:
        return releases[0].start_line - 1
    if sections and sections[0].version is None:
        if len(sections) > 1:
            return sections[1].start_line - 1
        return total_lines
    return 0


def insert_section(text: str, draft: str, fmt: str) -> tuple[str, int]:
    """``text`` with ``draft`` inserted at :func:`insertion_line`; returns it and the 1-based line of the new heading.

    Every other byte is kept; the draft takes the file's line ending, and a
    blank line is added where needed to separate it from its neighbours.
    """
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    raw = _split_lines(body)
    newline = "\r\n" if raw and raw[0].endswith("\r\n") else "\n"
    index = insertion_line(parse_sections(body, fmt), len(raw))
    before, after = raw[:index], raw[index:]
    if before and not before[-1].endswith("\n"):
        before[-1] += newline
    lead = []
    if before and before[-1].strip():
        lead.append(newline)
    draft_lines = draft.split("\n")
    if draft_lines and draft_lines[-1] == "":
        draft_lines.pop()
    block = "".join(line + newline for line in draft_lines)
    if not after:
        # At the end of the file the draft's trailing blank line is noise.
        block = block.rstrip("\r\n") + newline
    line_no = len(before) + len(lead) + 1
    return bom + "".join(before) + "".join(lead) + block + "".join(after), line_no


# --------------------------------------------------------------------------
# the action and the plan


_PLACEHOLDER_DATE = re.compile(
    r"(?P<numeric>[XY]{4}(?P<sep>[-/.])[XM]{2}(?P=sep)[XD]{2})"
    r"|(?P<word>\b(?:unreleased|not yet released|tbd|tba|in development)\b)",
    re.IGNORECASE,
)


def dated_title(title: str, today: datetime.date | None = None) -> str | None:
    """``title`` with its placeholder date filled in, or None when it has none.

    ``2.2 (XXXX/XX/XX)`` -> ``2.2 (2026/11/30)`` (the placeholder's own
    separator); ``0.4 (unreleased)``, ``1.3 - TBD`` -> today's ISO date.
    """
    day = today or datetime.date.today()
    match = _PLACEHOLDER_DATE.search(title)
    if match is None:
        return None
    if match.group("numeric"):
        sep = match.group("sep")
        filled = day.strftime(f"%Y{sep}%m{sep}%d")
    else:
        filled = day.isoformat()
    return title[: match.start()] + filled + title[match.end() :]


def _dated_line(line: str, older_line: str | None, today: datetime.date | None) -> str | None:
    """A section's first line (``Unreleased``) dated in the style of the older section's (``Released 2024-10-18``)."""
    if _PLACEHOLDER_DATE.search(line) is None:
        return None
    if _PLACEHOLDER_DATE.fullmatch(line.strip()) is None:
        return dated_title(line, today)  # "Released: TBD", "(XXXX-XX-XX)": the line shows the style
    # A bare "Unreleased": written like the older sections' first line, when one shows how.
    example = (older_line or "").strip()
    match = _ISO_DATE.search(example)
    if match is None:
        return None  # the style is unknown: validation names the placeholder
    indent = line[: len(line) - len(line.lstrip())]
    day = (today or datetime.date.today()).isoformat()
    return indent + example[: match.start()] + day + example[match.end() :]


def date_fix(text: str, fmt: str, version: str, today: datetime.date | None = None) -> tuple[int, int, list[str]] | None:
    """Where the release's placeholder date is and what replaces it: (first line, last line, new lines), 0-based.

    The heading's own placeholder (``2.2 (XXXX/XX/XX)``, ``0.4 (unreleased)``)
    or, in the Pallets style, a first body line ``Unreleased`` written like the
    older section's ``Released 2024-10-18``. None when there is nothing to
    date, or the style is unknown (then validation names the placeholder).
    """
    sections = version_sections(parse_sections(text, fmt))
    index = next((i for i, s in enumerate(sections) if same_version(s.version, version)), None)
    if index is None:
        return None
    section = sections[index]
    raw = [_bare(line) for line in _split_lines(text.lstrip("\ufeff"))]
    dated = dated_title(section.title, today)
    if dated is not None:
        heading = render_heading(dated, section.style, fmt)
        first, last = section.start_line - 1, section.heading_end_line - 1
        if len(heading) > 1 and fmt != MARKDOWN and len(raw[last].rstrip()) > _column_width(dated):
            heading[-1] = raw[last].rstrip()  # keep a longer underline as the author drew it
            if "/" in section.style:
                heading[0] = raw[last].rstrip()
        return first, last, heading
    body_index = next((i for i in range(section.heading_end_line, section.end_line) if raw[i].strip()), None)
    if body_index is None:
        return None
    # The newest older section whose first line holds a date shows the style.
    older_first = next(
        (
            first
            for older in sections[index + 1 :]
            for first in [next((line for line in older.body.splitlines() if line.strip()), "")]
            if _ISO_DATE.search(first)
        ),
        None,
    )
    line = _dated_line(raw[body_index], older_first, today)
    return (body_index, body_index, [line]) if line is not None else None


_UNRELEASED_TITLE = re.compile(r"^\W*(?:unreleased|upcoming|not yet released|in development)(?: changes)?\W*$", re.IGNORECASE)


def unreleased_fix(
    text: str, fmt: str, version: str, today: datetime.date | None = None
) -> tuple[int, int, list[str], str] | None:
    """Where an "Unreleased" heading is and what makes it the release's: (first line, last line, new heading, old title).

    The keep-a-changelog ``## [Unreleased]`` (or an rst ``Unreleased``
    heading) above every version section holds the maintainer's notes for
    the next release: it is renamed like the newest version section
    (``## [1.0.0] - 2025-01-01`` -> ``## [1.1.0] - <today>``). None when the
    file has no such heading, already has a section for ``version``, or has
    no version section to take the style from. Lines are 0-based.
    """
    sections = parse_sections(text, fmt)
    versions = version_sections(sections)
    if not versions or any(same_version(s.version, version) for s in versions):
        return None
    newest = versions[0]
    unreleased = next(
        (s for s in sections if s.start_line < newest.start_line and s.level == newest.level
         and s.version is None and _UNRELEASED_TITLE.match(s.title.strip())),
        None,
    )
    if unreleased is None:
        return None
    title = retitle(newest.title, version, today=today)
    heading = render_heading(title, unreleased.style, fmt)
    return unreleased.start_line - 1, unreleased.heading_end_line - 1, heading, unreleased.title


def remaining_placeholder(text: str, fmt: str, version: str) -> str | None:
    """The placeholder date left in the release's heading or first line, or None."""
    for section in version_sections(parse_sections(text, fmt)):
        if same_version(section.version, version):
            first = next((line for line in section.body.splitlines() if line.strip()), "")
            for line in (section.title, first):
                match = _PLACEHOLDER_DATE.search(line)
                if match is not None:
                    return match.group(0)
            return None
    return None


class ChangelogSection(Action):
    """Make sure the changelog has a section for the release: keep it, date it, or add a draft.

    The state is read when the action is built, so the description says
    what the plan decided even after :meth:`apply` ran; :meth:`is_done`
    always reads the file again. :attr:`original` holds the file as it was
    before this action wrote, so a failed phase can put it back.
    """

    def __init__(self, release: Release, path: Path, *, name: str | None = None, today: datetime.date | None = None):
        self.release = release
        self.path = Path(path)
        self.name = name or str(path)
        self.fmt = changelog_format(self.path)
        self.today = today
        text = _read(self.path)
        self.existing = find_section(self.path, release.version)
        self.line = insert_section(text, "x\n", self.fmt)[1] if self.existing is None else self.existing.start_line
        fix = date_fix(text, self.fmt, release.version, today) if self.existing is not None else None
        self.dated = " / ".join(fix[2]) if fix is not None else None
        unreleased = unreleased_fix(text, self.fmt, release.version, today) if self.existing is None else None
        self.renamed = (unreleased[3], " / ".join(unreleased[2]), unreleased[0] + 1) if unreleased else None
        self._draft: str | None = None
        self.original: str | None = None  # the file before apply(), once it wrote
        self.drafted = False  # apply() added a drafted section

    @property
    def draft(self) -> str:
        """The drafted section (computed once, so dry run and real run insert the same text)."""
        if self._draft is None:
            self._draft = draft_section(self.release, fmt=self.fmt, today=self.today)
        return self._draft

    def describe(self) -> str:
        version = self.release.version
        if self.existing is not None:
            where = f"lines {self.existing.start_line}-{self.existing.end_line}"
            if self.dated is not None:
                return f"date the section for {version} in {self.name} ({where}): {self.dated!r}"
            return f"keep existing section for {version} in {self.name} ({where})"
        if self.renamed is not None:
            title, heading, line = self.renamed
            return f"name the {title!r} section at line {line} of {self.name} for {version}: {heading!r}"
        return f"add a drafted section for {version} at line {self.line} of {self.name}"

    def is_done(self) -> bool:
        section = find_section(self.path, self.release.version)
        return section is not None and date_fix(_read(self.path), self.fmt, self.release.version, self.today) is None

    def preview(self) -> str:
        """The section as it is, or as it would be added: the text to read before going on."""
        if self.existing is not None or self.renamed is not None:
            after = self.text_after()
            section = find_section_in(after, self.fmt, self.release.version)
            if section is not None:
                return "\n".join(render_heading(section.title, section.style, self.fmt) + ["", section.body])
        return self.draft

    def text_after(self) -> str:
        """The whole file as it will be once this action has run."""
        text = _read(self.path)
        section = find_section(self.path, self.release.version)
        if section is None:
            unreleased = unreleased_fix(text, self.fmt, self.release.version, self.today)
            if unreleased is None:
                return insert_section(text, self.draft, self.fmt)[0]
            fix: tuple[int, int, list[str]] | None = unreleased[:3]
        else:
            fix = date_fix(text, self.fmt, self.release.version, self.today)
        if fix is None:
            return text
        # Every other byte of the file stays (line endings included).
        raw = _split_lines(text.lstrip("\ufeff"))
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        first, last, lines = fix
        newline = "\r\n" if raw[last].endswith("\r\n") else "\n" if raw[last].endswith("\n") else ""
        replacement = [line + "\n" for line in lines[:-1]] + [lines[-1] + newline]
        if newline == "\r\n":
            replacement = [line.replace("\n", "\r\n") if not line.endswith("\r\n") else line for line in replacement]
        return bom + "".join(raw[:first] + replacement + raw[last + 1 :])

    def apply(self) -> None:
        before = _read(self.path)
        new_text = self.text_after()
        drafted = find_section(self.path, self.release.version) is None and unreleased_fix(
            before, self.fmt, self.release.version, self.today
        ) is None
        try:
            with open(self.path, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
        except OSError as exc:
            raise ChangelogError(
                f"Cannot write {self.name}: {exc}", hint="Check the file's permissions, then re-run the phase."
            ) from exc
        self.original = before
        self.drafted = drafted

    def restore(self) -> None:
        """Put the file back as it was before :meth:`apply` (no-op when it wrote nothing)."""
        if self.original is not None:
            with open(self.path, "w", encoding="utf-8", newline="") as handle:
                handle.write(self.original)
            self.original = None
            self.drafted = False


def find_section_in(text: str, fmt: str, version: str) -> Section | None:
    """The release section for ``version`` in ``text``, or None."""
    return next((s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, version)), None)


def changelog_path(release: Release) -> Path | None:
    """The configured changelog's absolute path, or None when none is configured."""
    config = release.config
    if not config.changelog:
        return None
    return Path(config.root) / str(config.changelog)


def plan_changelog(release: Release, *, today: datetime.date | None = None) -> Plan:
    """The changelog step: one :class:`ChangelogSection`, or an empty plan when no changelog is kept.

    Raises :class:`ChangelogError` when a changelog is required but not
    configured, or the configured file is missing or has an unknown suffix.
    """
    config = release.config
    path = changelog_path(release)
    if path is None:
        if getattr(config, "changelog_required", True):
            raise ChangelogError(
                "No changelog is configured, and one is required.",
                hint='Set changelog = "doc/changelog.rst" in [tool.releaselib], '
                "or changelog-required = false if the project keeps no changelog.",
            )
        return Plan(title="Release notes: no changelog configured (not required); nothing to do")
    plan = Plan(title=f"Release notes for {release.version} in {config.changelog}")
    if config.changelog_tool == "towncrier":  # the section is built from news fragments
        from releaselib.phases.changelog.towncrier import plan_towncrier

        return plan_towncrier(release, path, plan, today=today)
    plan.add(ChangelogSection(release, path, name=config.changelog, today=today))
    return plan


