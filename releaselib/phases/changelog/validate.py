"""Validation of the release's section, and the release notes other phases read."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import ChangelogError
from releaselib.core.plan import Plan
from releaselib.phases.changelog.draft import (
    ChangelogSection,
    changelog_path,
    draft_section,
    insert_section,
    remaining_placeholder,
)
from releaselib.phases.changelog.sections import (
    _FENCE,
    MARKDOWN,
    RST,
    SPHINX_DIRECTIVES,
    SPHINX_ROLES,
    TEXT,
    _bare,
    _read,
    _split_lines,
    changelog_format,
    find_section,
    looks_like_heading,
    parse_sections,
    same_version,
    version_in_title,
    version_sections,
)

if TYPE_CHECKING:
    from releaselib.engine.context import Release

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
    section_only: bool = False,
) -> list[Problem]:
    """Every problem found in a changelog's text (empty when it is valid).

    With ``section_only`` and ``version``, the markup of only that release's
    section is checked (decades of old entries are not the release's
    business); the checks of the section itself still read the whole file.

    rst: docutils system messages of level WARNING or above, except unknown
    Sphinx roles and directives (:data:`SPHINX_ROLES`,
    :data:`SPHINX_DIRECTIVES`, any ``domain:name``, plus ``known_roles`` and
    ``known_directives``); ``source_path`` lets ``.. include::`` resolve.
    Markdown: malformed headings and unclosed code fences. Both: with
    ``version``, its section must exist, be non-empty, and appear only once.
    Raises :class:`ChangelogError` only for an unknown ``fmt`` or a docutils crash.
    """
    checked, offset = (text, 0)
    if section_only and version is not None:
        checked, offset = _release_fragment(text, fmt, version)
    if fmt == RST:
        problems = _rst_problems(
            checked,
            str(source_path) if source_path is not None else None,
            SPHINX_ROLES | {r.lower() for r in known_roles},
            SPHINX_DIRECTIVES | {d.lower() for d in known_directives},
        )
        if offset:
            # A fragment cannot see link targets defined elsewhere in the file.
            problems = [
                Problem(p.line + offset if p.line is not None else None, p.message)
                for p in problems
                if not p.message.startswith("Unknown target name")
            ]
    elif fmt == MARKDOWN:
        problems = [Problem(p.line + offset if p.line else p.line, p.message) for p in _md_problems(checked)]
    elif fmt == TEXT:
        problems = []
    else:
        raise ChangelogError(f"Unknown changelog format {fmt!r}.", hint='Use "rst", "md" or "text".')
    if version is not None:
        matching = [s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, version)]
        if not matching:
            problems.append(Problem(None, f"No section for version {version}."))
        else:
            if not matching[0].body.strip():
                problems.append(Problem(matching[0].start_line, f"The section for {version} is empty."))
            problems.extend(_swallowed(matching[0], version))
            placeholder = remaining_placeholder(text, fmt, version)
            if placeholder is not None:
                problems.append(
                    Problem(
                        matching[0].start_line,
                        f"The section for {version} still says {placeholder!r} where the release date goes, in a "
                        "style releaselib does not know how to complete.",
                    )
                )
            for extra in matching[1:]:
                first = matching[0].start_line
                problems.append(Problem(extra.start_line, f"A second section for {version} (the first is at line {first})."))
    return problems


def _release_fragment(text: str, fmt: str, version: str) -> tuple[str, int]:
    """The lines of ``version``'s section (heading included) and how many lines precede it; the whole text if none."""
    for section in version_sections(parse_sections(text, fmt)):
        if same_version(section.version, version):
            lines = _split_lines(text.lstrip("\ufeff"))
            return "".join(lines[section.start_line - 1 : section.end_line]), section.start_line - 1
    return text, 0


def _swallowed(section: Any, version: str) -> list[Problem]:
    """A section whose body holds what looks like an older release's heading ran past its end."""
    from packaging.version import InvalidVersion, Version

    body = section.body.splitlines()
    first_body_line = section.end_line - len(body) + 1
    for index, title in ((i, line.strip()) for i, line in enumerate(body)):
        if not title or body[index][0].isspace() or len(title) > 60 or (index and body[index - 1].strip()):
            continue
        if not looks_like_heading(title):
            continue
        other = version_in_title(title)
        try:
            older = other is not None and Version(other.rstrip("+")) < Version(version)
        except InvalidVersion:
            older = False
        if older:
            return [
                Problem(
                    first_body_line + index,
                    f"The section for {version} runs into {title!r}, which looks like the heading of the older "
                    f"release {other}: the heading style was not recognised, so the section would swallow the history.",
                )
            ]
    return []


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
    kind = {RST: "reStructuredText", MARKDOWN: "Markdown"}.get(fmt, "text")
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
    _raise_problems(
        changelog_problems(text, fmt, version=release.version, source_path=path, section_only=True), name, fmt
    )
    found = next(s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, release.version))
    state = "would be valid once the phase has written it" if pending else "is valid"
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
    _raise_problems(
        changelog_problems(text, fmt, version=release.version, source_path=path, section_only=True), name, fmt
    )
    found = next(s for s in version_sections(parse_sections(text, fmt)) if same_version(s.version, release.version))
    return found.body



def finish_changelog(release: Release, plan: Plan, *, accept_draft: bool = False) -> str:
    """Validate the release's section after ``plan`` ran, and return its body (the release notes).

    When the section is not valid, the file is put back as the phase found
    it (a failed phase leaves no half-made section behind), and the
    :class:`ChangelogError` lists every problem. When this attempt drafted
    the section from the git log, a real run stops here unless
    ``accept_draft``: the draft stays in the file for the maintainer to read
    and edit, and ``--resume`` continues with the section as they left it.
    """
    actions = [action for action in plan if isinstance(action, ChangelogSection)]
    try:
        notes = release_notes(release, plan)
    except ChangelogError:
        for action in actions:
            action.restore()
        raise
    drafted = [action for action in actions if action.drafted]
    if drafted and not release.dry_run and not accept_draft:
        name = drafted[0].name
        raise ChangelogError(
            f"Drafted the section for {release.version} in {name} from the git log (merges and automated "
            "dependency bumps left out); it has not been read by anyone yet, so the release stops here.",
            hint=f"Read and edit the section in {name} (it stays in the file, uncommitted), then "
            f"`releaselib run {release.version} --resume`: the section is kept as you left it. "
            "To release drafts unread, run with -p accept_draft=true.",
        )
    return notes
