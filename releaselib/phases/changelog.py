"""The release notes: find, draft and validate a version's changelog section.

Seed step 2: "Add release notes to doc/changelog.rst. Generally just
summarize/clarify the git log." A maintainer who already wrote the section
keeps it byte for byte; otherwise the phase drafts one from the commit
subjects since the last release tag, in the heading style the file already
uses, at the top of the version list, so there is something honest to edit.
Then the file is validated: docutils for reStructuredText (Sphinx roles and
directives allowed), a light heading check for Markdown.

Everything here is a pure function of files and the git history except
:meth:`ChangelogSection.apply`, the one place that writes.
"""

from __future__ import annotations

import datetime
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from releaselib.core.errors import ChangelogError, GitError
from releaselib.core.plan import Action, Plan
from releaselib.infra import processes

if TYPE_CHECKING:
    from releaselib.engine.context import Release

RST = "rst"
MARKDOWN = "md"
_SUFFIXES = {".rst": RST, ".rest": RST, ".txt": RST, ".md": MARKDOWN, ".markdown": MARKDOWN}

#: Characters docutils accepts as section adornment that changelogs actually use.
RST_ADORNMENT = "=-~^\"'*+#`:._<>"
#: Preference order when a new heading level has to be invented.
_RST_NEW_LEVEL_CHARS = "=-~^\"'*+#"

GIT_TIMEOUT = 60.0
#: A first release drafts from the whole history; past this many subjects the
#: rest is summarised in one bullet rather than pasted.
MAX_DRAFT_COMMITS = 200

#: Sphinx (and common extension) roles and directives docutils does not know.
#: Their "unknown" messages are not errors in a changelog that Sphinx builds.
SPHINX_ROLES = frozenset(
    """
    abbr any attr class command const data dfn doc download envvar eq exc file
    func guilabel kbd keyword mailheader makevar manpage menuselection meth
    mimetype mod newsgroup numref obj option pep program ref regexp rfc samp
    term token confval event
    issue issues pr pull gh ghissue ghpull user ghuser bug commit cve cwe
    """.split()  # noqa: SIM905 - a word list reads better than 50 quoted strings
)
SPHINX_DIRECTIVES = frozenset(
    """
    toctree versionadded versionchanged deprecated versionremoved seealso
    centered hlist glossary productionlist index only tabularcolumns
    literalinclude code-block sourcecode highlight autoclass autofunction
    automodule automethod autoattribute autodata autoexception autosummary
    currentmodule module function class method attribute data exception
    envvar option program describe object note-changelog changelog
    doctest testcode testoutput testsetup testcleanup plot graphviz
    """.split()  # noqa: SIM905 - a word list reads better than 50 quoted strings
)


# --------------------------------------------------------------------------
# parsing


@dataclass(frozen=True)
class Section:
    """One heading and everything under it, up to the next heading of the same or a higher level.

    Line numbers are 1-based and inclusive: ``start_line`` is the heading's
    first line (its overline, if any), ``end_line`` the section's last
    non-blank line. ``body`` is the text below the heading, without the
    blank lines around it. ``version`` is the first PEP 440-looking token of
    the title, or None. ``level`` is 1 for the outermost heading style;
    ``style`` is how the heading is drawn (rst: ``"-"`` or ``"=/="`` with an
    overline; Markdown: ``"##"``, or ``"="``/``"-"`` for setext headings).
    """

    version: str | None
    title: str
    start_line: int
    end_line: int
    body: str
    level: int = 1
    style: str = ""
    heading_end_line: int = 0  # last line of the heading itself (its underline)


def changelog_format(path: str | os.PathLike[str]) -> str:
    """``"rst"`` or ``"md"`` from the file's suffix.

    Raises :class:`ChangelogError` for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise ChangelogError(
            f"Cannot tell the format of the changelog {Path(path).name}: suffix {suffix or '(none)'!r}.",
            hint="Name the changelog *.rst (reStructuredText) or *.md (Markdown) and point `changelog` at it.",
        ) from None


_VERSION_CANDIDATE = re.compile(r"(?<![\w.+])([vV]?)(\d[\w.+!-]*)")
_WORD_BEFORE = re.compile(r"(?i)(?:version|release)\s*$")


def _find_version(title: str) -> tuple[int, int] | None:
    """Start and end offsets of the first version token in ``title`` (without the ``v``)."""
    for match in _VERSION_CANDIDATE.finditer(title):
        prefix, token = match.group(1), match.group(2).rstrip(".-!,")
        if not token:
            continue
        base = token.removesuffix("+")
        try:
            Version(base)
        except InvalidVersion:
            continue
        if "." not in base and not prefix and not _WORD_BEFORE.search(title[: match.start()]):
            continue
        return match.start(2), match.start(2) + len(token)
    return None


def version_in_title(title: str) -> str | None:
    """The first PEP 440-looking token in a heading, without a leading ``v``.

    ``Changes in Version 2.2`` -> ``2.2``; ``2.2 (2012-04-01)`` -> ``2.2``;
    ``[2.2] - 2012-04-01`` -> ``2.2``; ``v2.2`` -> ``2.2``. A development
    marker is kept (``2.2+``, ``2.2+dev``) so that it never equals ``2.2``.
    A bare integer counts only after ``v`` or the word "version"/"release",
    so dates and "Python 3" are not taken for versions.
    """
    span = _find_version(title)
    return title[span[0] : span[1]] if span else None


def same_version(a: str | None, b: str | None) -> bool:
    """PEP 440 equality where both parse (``2.2`` == ``2.2.0``), else exact text."""
    if a is None or b is None:
        return False
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line: str.splitlines also splits on \x0c, \u2028...,
    # which would shift line numbers against every editor and docutils.
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _is_adornment(line: str) -> bool:
    s = line.rstrip()
    return len(s) >= 2 and s[0] in RST_ADORNMENT and s == s[0] * len(s)


def _column_width(text: str) -> int:
    from docutils.utils import column_width

    return int(column_width(text))


def _rst_headings(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """(first index, last index, title, style) of each rst heading, in order."""
    found: list[tuple[int, int, str, str]] = []
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        prev_blank = i == 0 or not lines[i - 1].strip()
        # overline + title + underline
        if prev_blank and _is_adornment(line) and i + 2 < n:
            title_line = lines[i + 1]
            under = lines[i + 2].rstrip()
            if title_line.strip() and not _is_adornment(title_line) and under == line.rstrip():
                title = title_line.strip()
                if len(under) >= _column_width(title):
                    found.append((i, i + 2, title, f"{line[0]}/{line[0]}"))
                    i += 3
                    continue
        # title + underline
        if (
            prev_blank
            and i + 1 < n
            and line.strip()
            and not line[0].isspace()
            and not _is_adornment(line)
            and _is_adornment(lines[i + 1])
        ):
            title = line.strip()
            under = lines[i + 1].rstrip()
            # docutils' own rule: a short underline still makes a title
            # (with a warning) once it is at least 4 characters long.
            if len(under) >= _column_width(title) or len(under) >= 4:
                found.append((i, i + 1, title, under[0]))
                i += 2
                continue
        i += 1
    return found


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_OR_QUOTE = re.compile(r"^\s*(?:[-*+>]|\d+[.)])\s")


def _md_headings(lines: list[str]) -> list[tuple[int, int, str, str]]:
    found: list[tuple[int, int, str, str]] = []
    fence: str | None = None
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                fence = None
            i += 1
            continue
        if fence_match:
            fence = fence_match.group(1)
            i += 1
            continue
        atx = _ATX.match(line)
        if atx:
            title = re.sub(r"[ \t]+#+$", "", atx.group(2) or "").strip()
            found.append((i, i, title, atx.group(1)))
            i += 1
            continue
        # setext: a paragraph line underlined with === or ---
        if (
            i + 1 < n
            and line.strip()
            and (i == 0 or not lines[i - 1].strip())
            and not _LIST_OR_QUOTE.match(line)
            and re.fullmatch(r" {0,3}(=+|-+)[ \t]*", lines[i + 1])
        ):
            found.append((i, i + 1, line.strip(), lines[i + 1].strip()[0]))
            i += 2
            continue
        i += 1
    return found


def _md_level(style: str) -> int:
    if style.startswith("#"):
        return len(style)
    return 1 if style == "=" else 2


def parse_sections(text: str, fmt: str) -> list[Section]:
    """Every heading of a changelog, as sections in document order.

    ``fmt`` is ``"rst"`` or ``"md"``. rst headings are a title with an
    underline (and optional overline) of one adornment character; levels are
    numbered in order of first appearance, as docutils does. Markdown
    headings are ATX (``#``..``######``) or setext; fenced code is skipped.
    Raises :class:`ChangelogError` for an unknown ``fmt``.
    """
    text = text.lstrip("\ufeff")
    raw = _split_lines(text)
    lines = [_bare(line) for line in raw]
    if fmt == RST:
        headings = _rst_headings(lines)
        order: list[str] = []
        levels = []
        for _, _, _, style in headings:
            if style not in order:
                order.append(style)
            levels.append(order.index(style) + 1)
    elif fmt == MARKDOWN:
        headings = _md_headings(lines)
        levels = [_md_level(style) for *_, style in headings]
    else:
        raise ChangelogError(f"Unknown changelog format {fmt!r}.", hint='Use "rst" or "md".')

    sections: list[Section] = []
    for k, ((first, last, title, style), level) in enumerate(zip(headings, levels)):
        end = len(lines)  # exclusive index
        for (other_first, *_), other_level in zip(headings[k + 1 :], levels[k + 1 :]):
            if other_level <= level:
                end = other_first
                break
        while end > last + 1 and not lines[end - 1].strip():
            end -= 1
        body_lines = lines[last + 1 : end]
        while body_lines and not body_lines[0].strip():
            body_lines.pop(0)
        sections.append(
            Section(
                version=version_in_title(title),
                title=title,
                start_line=first + 1,
                end_line=max(end, last + 1),
                body="\n".join(body_lines),
                level=level,
                style=style,
                heading_end_line=last + 1,
            )
        )
    return sections


def version_level(sections: list[Section]) -> int | None:
    """The heading level the version sections live at.

    The level with the most version-bearing headings (the shallower one on a
    tie), so a sub-heading such as "Python 3.12 support" is not taken for a
    release.
    """
    counts: dict[int, int] = {}
    for section in sections:
        if section.version is not None:
            counts[section.level] = counts.get(section.level, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda level: (counts[level], -level))


def version_sections(sections: list[Section]) -> list[Section]:
    """The sections that are releases: version-bearing headings at :func:`version_level`."""
    level = version_level(sections)
    return [s for s in sections if s.version is not None and s.level == level]


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ChangelogError(
            f"The changelog {path} does not exist.",
            hint="Create it with a title, or point `changelog` in [tool.releaselib] at the right file.",
        ) from None
    except OSError as exc:
        raise ChangelogError(f"Cannot read the changelog {path}: {exc}", hint="Check the file's permissions.") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChangelogError(
            f"The changelog {path} is not UTF-8 ({exc}).", hint="Re-save the file as UTF-8 and run the phase again."
        ) from exc


def find_section(path: str | os.PathLike[str], version: str) -> Section | None:
    """The first (top-most) release section for ``version`` in the changelog, or None.

    Raises :class:`ChangelogError` when the file is missing, unreadable, or
    has an unknown suffix.
    """
    path = Path(path)
    fmt = changelog_format(path)
    for section in version_sections(parse_sections(_read(path), fmt)):
        if same_version(section.version, version):
            return section
    return None


def section_text(path: str | os.PathLike[str], version: str) -> str:
    """The body of ``version``'s section (without its heading), for the announcement.

    Raises :class:`ChangelogError` when the file has no section for ``version``.
    """
    section = find_section(path, version)
    if section is None:
        raise ChangelogError(
            f"{Path(path).name} has no section for {version}.",
            hint="Run the changelog phase first; it drafts the section when it is missing.",
        )
    return section.body


# --------------------------------------------------------------------------
# git


def _git(repo: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    cmd = ["git", *args]
    try:
        done = processes.run(cmd, cwd=repo, timeout=timeout, merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise GitError(
            f"`{' '.join(cmd)}` did not finish within {timeout:g}s in {repo}.",
            hint="Check that the repository is not locked by another git process, then re-run the phase.",
        ) from exc
    except OSError as exc:
        raise GitError(f"Cannot run git: {exc}", hint="Install git and make sure it is on PATH.") from exc
    if done.returncode != 0:
        raise GitError(
            f"`{' '.join(cmd)}` failed in {repo}: {done.stderr.strip() or 'exit ' + str(done.returncode)}",
            hint="Check that the path is a git repository with at least one commit.",
        )
    return done.stdout


def _tag_regex(tag_template: str) -> re.Pattern[str]:
    if "{version}" not in tag_template:
        raise ChangelogError(
            f"The tag template {tag_template!r} has no {{version}} placeholder.",
            hint='Set `tag` in [tool.releaselib] to something like "{version}" or "v{version}".',
        )
    before, _, after = tag_template.partition("{version}")
    return re.compile(re.escape(before) + r"(?P<version>\d.*?)" + re.escape(after) + r"\Z")


def last_release_tag(repo: str | os.PathLike[str], tag_template: str, *, below: str | None = None) -> str | None:
    """The tag of the highest released version, by PEP 440 ordering (not by date).

    Only tags that ``tag_template`` (``"{version}"``, ``"v{version}"``...)
    matches, with a version part that starts with a digit and parses, count
    (so ``v2.0`` is not a release under the template ``"{version}"``). With ``below``, only
    versions lower than it count, so re-drafting for 2.2 after tagging 2.2
    still starts from 2.1. Returns None when no tag qualifies. Raises
    :class:`GitError` when git fails.
    """
    pattern = _tag_regex(tag_template)
    limit = Version(below) if below is not None else None
    best: tuple[Version, str] | None = None
    for tag in _git(Path(repo), "tag", "--list").splitlines():
        tag = tag.strip()
        match = pattern.match(tag)
        if not match:
            continue
        try:
            version = Version(match.group("version"))
        except InvalidVersion:
            continue
        if limit is not None and version >= limit:
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return best[1] if best else None


def _message_regex(template: str) -> re.Pattern[str]:
    before, _, after = template.partition("{version}")
    return re.compile(re.escape(before) + r"v?\d[\w.+!-]*" + re.escape(after) + r"\Z")


def commit_subjects(repo: str | os.PathLike[str], since_tag: str | None, *, skip: Iterable[str] = ()) -> list[str]:
    """Subjects of the non-merge commits after ``since_tag`` up to HEAD, oldest first.

    ``skip`` holds commit-message templates with ``{version}`` (the release
    and post-release bumps); subjects they match, and any ``BUMP ...``
    subject, are left out. An empty repository gives an empty list. Raises
    :class:`GitError` when git fails.
    """
    repo = Path(repo)
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    except GitError:
        return []
    revision = f"{since_tag}..HEAD" if since_tag else "HEAD"
    out = _git(repo, "log", revision, "--no-merges", "--reverse", "--format=%s", "--")
    patterns = [_message_regex(t) for t in skip if "{version}" in t]
    subjects = []
    for subject in out.splitlines():
        subject = subject.strip()
        if not subject or subject.startswith("BUMP ") or any(p.match(subject) for p in patterns):
            continue
        subjects.append(subject)
    return subjects


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


class ChangelogSection(Action):
    """Make sure the changelog has a section for the release: keep it, or add a draft.

    The state is read when the action is built, so the description says
    what the plan decided even after :meth:`apply` ran; :meth:`is_done`
    always reads the file again.
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
        self._draft: str | None = None

    @property
    def draft(self) -> str:
        """The drafted section (computed once, so dry run and real run insert the same text)."""
        if self._draft is None:
            self._draft = draft_section(self.release, fmt=self.fmt, today=self.today)
        return self._draft

    def describe(self) -> str:
        version = self.release.version
        if self.existing is not None:
            return (
                f"keep existing section for {version} in {self.name} "
                f"(lines {self.existing.start_line}-{self.existing.end_line})"
            )
        return f"add a drafted section for {version} at line {self.line} of {self.name}"

    def is_done(self) -> bool:
        return find_section(self.path, self.release.version) is not None

    def preview(self) -> str:
        """The section as it is, or as it would be added: the text to read before going on."""
        if self.existing is not None:
            return "\n".join(render_heading(self.existing.title, self.existing.style, self.fmt) + ["", self.existing.body])
        return self.draft

    def text_after(self) -> str:
        """The whole file as it will be once this action has run."""
        text = _read(self.path)
        if find_section(self.path, self.release.version) is not None:
            return text
        return insert_section(text, self.draft, self.fmt)[0]

    def apply(self) -> None:
        new_text = self.text_after()
        try:
            with open(self.path, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
        except OSError as exc:
            raise ChangelogError(
                f"Cannot write {self.name}: {exc}", hint="Check the file's permissions, then re-run the phase."
            ) from exc


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
    plan.add(ChangelogSection(release, path, name=config.changelog, today=today))
    return plan


# --------------------------------------------------------------------------
# validation


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


def _rst_problems(
    text: str, source_path: str | None, known_roles: frozenset[str], known_directives: frozenset[str]
) -> list[Problem]:
    from docutils import nodes
    from docutils.core import publish_doctree

    stream = io.StringIO()
    try:
        doctree = publish_doctree(
            text,
            source_path=source_path,
            settings_overrides={
                "report_level": 2,
                "halt_level": 5,
                "warning_stream": stream,
                "traceback": True,
                "input_encoding": "unicode",
            },
        )
    except Exception as exc:  # docutils raises plain exceptions on internal failures
        raise ChangelogError(
            f"docutils could not parse {source_path or 'the changelog'}: {exc}",
            hint="Fix the markup near the end of the newest section and re-run the phase.",
        ) from exc
    # Messages from transforms (an unresolved `name`_ reference) are not in
    # the tree, only in transform_messages.
    messages = [*doctree.findall(nodes.system_message), *getattr(doctree, "transform_messages", [])]
    problems: list[Problem] = []
    seen: set[tuple[int | None, str]] = set()
    for message in messages:
        if message["level"] < 2:
            continue
        first = message.children[0].astext() if message.children else message.astext()
        unknown = re.match(r'Unknown (interpreted text role|directive type) "([^"]+)"', first)
        if unknown:
            name = unknown.group(2).lower()
            allowed = known_roles if unknown.group(1).startswith("interpreted") else known_directives
            # Domain-qualified names (py:class, c:func) are Sphinx's.
            if name in allowed or ":" in name:
                continue
        key = (message.get("line"), first)
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem(message.get("line"), first.replace("\n", " ")))
    return problems


def _md_problems(text: str) -> list[Problem]:
    problems = []
    fence: tuple[int, str] | None = None
    for index, raw in enumerate(_split_lines(text.lstrip("\ufeff"))):
        line = _bare(raw)
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[1][0] and len(fence_match.group(1)) >= len(fence[1]):
                fence = None
            continue
        if fence_match:
            fence = (index + 1, fence_match.group(1))
            continue
        hashes = re.match(r"^ {0,3}(#+)(.*)$", line)
        if not hashes:
            continue
        marks, rest = hashes.groups()
        if rest and not rest[0].isspace() and not rest[0].isdigit():
            problems.append(Problem(index + 1, f"Heading needs a space after {marks!r}: {line.strip()!r}."))
        elif len(marks) > 6 and (not rest or rest[0].isspace()):
            problems.append(Problem(index + 1, f"Heading has {len(marks)} '#' (at most 6)."))
        elif len(marks) <= 6 and not rest.strip(" \t#"):
            problems.append(Problem(index + 1, "Empty heading."))
    if fence is not None:
        problems.append(Problem(fence[0], f"Code fence {fence[1]} is never closed."))
    return problems


def changelog_problems(
    text: str,
    fmt: str,
    *,
    version: str | None = None,
    source_path: str | os.PathLike[str] | None = None,
    known_roles: Iterable[str] = (),
    known_directives: Iterable[str] = (),
) -> list[Problem]:
    """Every problem found in a changelog's text (empty when it is valid).

    rst: docutils system messages of level WARNING or above, except unknown
    Sphinx roles and directives (:data:`SPHINX_ROLES`,
    :data:`SPHINX_DIRECTIVES`, any ``domain:name``, plus ``known_roles`` and
    ``known_directives``); ``source_path`` lets ``.. include::`` resolve.
    Markdown: malformed headings and unclosed code fences. Both: with
    ``version``, its section must exist, be non-empty, and appear only once.
    Raises :class:`ChangelogError` only for an unknown ``fmt`` or a docutils crash.
    """
    if fmt == RST:
        problems = _rst_problems(
            text,
            str(source_path) if source_path is not None else None,
            SPHINX_ROLES | {r.lower() for r in known_roles},
            SPHINX_DIRECTIVES | {d.lower() for d in known_directives},
        )
    elif fmt == MARKDOWN:
        problems = _md_problems(text)
    else:
        raise ChangelogError(f"Unknown changelog format {fmt!r}.", hint='Use "rst" or "md".')
    if version is not None:
        matching = [s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, version)]
        if not matching:
            problems.append(Problem(None, f"No section for version {version}."))
        else:
            if not matching[0].body.strip():
                problems.append(Problem(matching[0].start_line, f"The section for {version} is empty."))
            for extra in matching[1:]:
                first = matching[0].start_line
                problems.append(Problem(extra.start_line, f"A second section for {version} (the first is at line {first})."))
    return problems


def validate_changelog(
    path: str | os.PathLike[str],
    *,
    version: str | None = None,
    name: str | None = None,
    known_roles: Iterable[str] = (),
    known_directives: Iterable[str] = (),
) -> None:
    """Check the changelog's markup, and with ``version`` that its section is there and not empty.

    ``name`` is how the file is named in messages (default: ``path`` as
    given, e.g. ``doc/changelog.rst``). Raises :class:`ChangelogError`
    listing every problem as ``NAME:LINE: message``.
    """
    path = Path(path)
    fmt = changelog_format(path)
    problems = changelog_problems(
        _read(path),
        fmt,
        version=version,
        source_path=path,
        known_roles=known_roles,
        known_directives=known_directives,
    )
    _raise_problems(problems, name or str(path), fmt)


def _raise_problems(problems: list[Problem], name: str, fmt: str) -> None:
    if not problems:
        return
    lines = [f"{name} has {len(problems)} problem(s):"]
    for problem in problems:
        where = f"{name}:{problem.line}" if problem.line is not None else name
        lines.append(f"  {where}: {problem.message}")
    kind = "reStructuredText" if fmt == RST else "Markdown"
    raise ChangelogError(
        "\n".join(lines),
        hint=f"Fix the {kind} at the line(s) named above, then re-run the changelog phase "
        "(an existing section is kept exactly as you left it).",
    )


def _text_to_check(release: Release, path: Path, fmt: str, plan: Plan | None) -> tuple[str, bool]:
    """The changelog's text as the phase leaves it, and whether that includes a not-yet-written draft."""
    pending = [a for a in (plan or []) if isinstance(a, ChangelogSection) and not a.is_done()]
    if pending:
        return pending[0].text_after(), True
    text = _read(path)
    if release.dry_run and find_section(path, release.version) is None:
        # A dry run wrote nothing; check (and show) what a real run would write.
        return insert_section(text, draft_section(release, fmt=fmt), fmt)[0], True
    return text, False


def check_changelog(release: Release, plan: Plan | None = None) -> str:
    """Validate the configured changelog for ``release``; returns a one-line summary for display.

    When ``plan`` (from :func:`plan_changelog`) still has a section to add,
    or in a dry run, the file as it would be after the phase is checked, so
    the dry run finds the problems a real run would. Raises
    :class:`ChangelogError` listing every problem; returns a note when no
    changelog is configured.
    """
    path = changelog_path(release)
    if path is None:
        return "no changelog configured; nothing to validate"
    name = str(release.config.changelog)
    fmt = changelog_format(path)
    text, pending = _text_to_check(release, path, fmt, plan)
    _raise_problems(changelog_problems(text, fmt, version=release.version, source_path=path), name, fmt)
    found = next(s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, release.version))
    state = "would be valid once the drafted section is added" if pending else "is valid"
    return f"{name} {state}; the section for {release.version} is at lines {found.start_line}-{found.end_line}"


def release_notes(release: Release, plan: Plan | None = None) -> str:
    """Validate the changelog (as :func:`check_changelog` does) and return the release's section body.

    This is the text the announcement quotes. In a dry run with no section
    yet, it is the draft a real run would write. Returns ``""`` when no
    changelog is configured. Raises :class:`ChangelogError` listing every
    problem in the file.
    """
    path = changelog_path(release)
    if path is None:
        return ""
    name = str(release.config.changelog)
    fmt = changelog_format(path)
    text, _ = _text_to_check(release, path, fmt, plan)
    _raise_problems(changelog_problems(text, fmt, version=release.version, source_path=path), name, fmt)
    found = next(s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, release.version))
    return found.body
