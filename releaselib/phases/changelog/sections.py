"""Changelog files as sections: the format, the headings in the file's own style, the version of each."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from releaselib.core.errors import ChangelogError

RST = "rst"
MARKDOWN = "md"
#: Plain text whose release headings are lines of their own, without an
#: underline: ``Version 4.1.1 released 2026-04-24`` (CHANGES, NEWS, *.txt).
TEXT = "text"
_SUFFIXES = {".rst": RST, ".rest": RST, ".txt": RST, ".md": MARKDOWN, ".markdown": MARKDOWN, "": RST}

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
    """``"rst"``, ``"md"`` or ``"text"``: from the suffix, and for ``.txt`` or none from the content.

    ``*.md`` is Markdown and ``*.rst`` reStructuredText. A ``.txt`` file or
    one without a suffix (``CHANGES``, ``NEWS``) is reStructuredText when its
    releases are underlined headings, else plain text when they are lines of
    their own (``Version 1.2 released 2026-04-24``). Raises
    :class:`ChangelogError` for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if not suffix.strip(".").isalpha() or len(suffix) > 10:
        suffix = ""  # CHANGES, or NEWS.2024 style names
    try:
        fmt = _SUFFIXES[suffix]
    except KeyError:
        raise ChangelogError(
            f"Cannot tell the format of the changelog {Path(path).name}: suffix {suffix or '(none)'!r}.",
            hint="Name the changelog *.rst (reStructuredText), *.md (Markdown), *.txt or no suffix (plain text) "
            "and point `changelog` at it.",
        ) from None
    if suffix in (".txt", "") and Path(path).is_file():
        try:
            text = Path(path).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return fmt
        if not version_sections(parse_sections(text, RST)) and version_sections(parse_sections(text, TEXT)):
            return TEXT
    return fmt


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


_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s")


def looks_like_heading(line: str) -> bool:
    """A short line that starts with a version (``1.2``, ``v1.2``, ``Version 1.2 released ...``), not a sentence."""
    return (
        re.match(r"(?i)^(?:v|version|release|changes in version)?\s*\d", line) is not None
        and not line.rstrip().endswith((".", ",", ";"))
        and len(line.split()) <= 8
    )


def _text_headings(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """(index, index, title, "line") of each line that stands alone and names a version.

    A heading line starts at the margin, follows a blank line (or opens the
    file), is no list item, and is short; its version comes first or after a
    word such as "Version" or "Release".
    """
    found: list[tuple[int, int, str, str]] = []
    for i, line in enumerate(lines):
        if not line.strip() or line[0].isspace() or _LIST_ITEM.match(line) or len(line) > 100:
            continue
        if i > 0 and lines[i - 1].strip():
            continue
        if not looks_like_heading(line.strip()):
            continue
        if version_in_title(line.strip()) is not None:
            found.append((i, i, line.strip(), "line"))
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
    elif fmt == TEXT:
        headings = _text_headings(lines)
        levels = [1] * len(headings)
    else:
        raise ChangelogError(f"Unknown changelog format {fmt!r}.", hint='Use "rst", "md" or "text".')

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


