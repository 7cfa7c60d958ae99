"""Validation of the release's section, and the release notes other phases read."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.core.errors import ChangelogError
from releaselib.core.plan import Plan
from releaselib.phases.changelog.draft import (
    ChangelogSection,
    changelog_path,
    draft_section,
    insert_section,
)
from releaselib.phases.changelog.sections import (
    _FENCE,
    MARKDOWN,
    RST,
    SPHINX_DIRECTIVES,
    SPHINX_ROLES,
    _bare,
    _read,
    _split_lines,
    changelog_format,
    find_section,
    parse_sections,
    same_version,
    version_sections,
)

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


def _text_to_check(release: Any, path: Path, fmt: str, plan: Plan | None) -> tuple[str, bool]:
    """The changelog's text as the phase leaves it, and whether that includes a not-yet-written draft."""
    pending = [a for a in (plan or []) if isinstance(a, ChangelogSection) and not a.is_done()]
    if pending:
        return pending[0].text_after(), True
    text = _read(path)
    if release.dry_run and find_section(path, release.version) is None:
        # A dry run wrote nothing; check (and show) what a real run would write.
        return insert_section(text, draft_section(release, fmt=fmt), fmt)[0], True
    return text, False


def check_changelog(release: Any, plan: Plan | None = None) -> str:
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


def release_notes(release: Any, plan: Plan | None = None) -> str:
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

