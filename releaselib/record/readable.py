"""Recorded values made readable: HTML tables and definition lists, or indented plain text.

A phase records JSON values (``release.record(key, value)``): a tag, a list of
files with their hashes, a matrix of test results. A reviewer should read them
as tables, never as one line of JSON, and never cut mid-word. Both forms here
keep every character of every value; a long text is folded away (HTML) or
wrapped (plain text), not cut.

Terminal colour codes a tool left in a value are removed (:func:`strip_ansi`):
the report is the second line of defence behind logs written without them.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["strip_ansi", "value_html", "value_text"]

# CSI sequences (colours, cursor moves), OSC sequences (titles, links) and lone escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b")
_HEX = re.compile(r"[0-9a-f]{40,}")

#: Texts longer than this fold away behind their first words (HTML) or wrap (text).
LONG_TEXT = 160
#: A multi-line text this short is shown whole, as preformatted text.
SHORT_LINES, SHORT_BLOCK = 20, 1500
#: Columns that lead a table when present, in this order (the rest follow as recorded).
LEADING_COLUMNS = ("name", "filename", "python", "version", "extension", "result", "kind", "size",
                   "tests_passed", "tests_failed", "duration")
_LOG_PATH = re.compile(r"logs/[\w.+@=,-]+(?:/[\w.+@=,-]+)*")
#: A list of mappings at most this deep renders as a table; deeper ones nest.
MAX_DEPTH = 4


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (and without carriage-return progress redraws)."""
    if "\x1b" not in text and "\r" not in text:
        return text
    text = _ANSI.sub("", text)
    # A progress bar redraws one line with \r; keep what the line finally said.
    if "\r" in text:
        text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return text


def _e(value: Any) -> str:
    return html.escape(strip_ansi("" if value is None else str(value)))


def _first_words(text: str, limit: int) -> str:
    """The start of ``text``, cut at a word boundary no later than ``limit`` characters."""
    head = text[:limit]
    if len(text) > limit and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip()


def _scalar_html(value: Any, link_prefix: str | None = None) -> str:
    if value is None:
        return '<span class="none">none</span>'
    if value is True:
        return '<span class="yes">✔ yes</span>'
    if value is False:
        return '<span class="no">✘ no</span>'
    if isinstance(value, (int, float)):
        return f'<span class="num">{_e(value)}</span>'
    text = strip_ansi(str(value))
    if text[:1] in "{[" and len(text) > 80:
        # A tool's JSON answer kept as a string: shown as the structure it is, not as one line.
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(parsed, (dict, list)):
                return _html(parsed, 1, link_prefix)
    if _HEX.fullmatch(text):
        return f'<span class="hash">{_e(text)}</span>'
    if len(text) <= LONG_TEXT and "\n" not in text:
        if link_prefix is not None and _LOG_PATH.fullmatch(text):
            return f'<a class="mono" href="{_e(link_prefix + text)}">{_e(text)}</a>'
        return _e(text)
    lines = text.count("\n") + 1
    if lines <= SHORT_LINES and len(text) <= SHORT_BLOCK:
        return f'<pre class="text">{_e(text)}</pre>'

    head = _first_words(text.split("\n", 1)[0], 100)
    size = f"{len(text):,} characters" + (f", {lines} lines" if lines > 1 else "")
    return (
        f'<details class="long"><summary>{_e(head)} … <span class="muted">(shortened: {size}; '
        f"open for the full text)</span></summary><pre>{_e(text)}</pre></details>"
    )


def _is_table(items: Sequence[Any]) -> bool:
    return bool(items) and all(isinstance(item, Mapping) for item in items)


def _table_html(items: Sequence[Mapping[str, Any]], depth: int, link_prefix: str | None) -> str:
    present = list(dict.fromkeys(key for item in items for key in item))
    columns = [c for c in LEADING_COLUMNS if c in present] + [c for c in present if c not in LEADING_COLUMNS]
    head = "".join(f"<th>{_e(column)}</th>" for column in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_html(item.get(column), depth + 1, link_prefix)}</td>" if column in item else "<td></td>"
                         for column in columns) + "</tr>"
        for item in items
    )
    return f'<div class="scroll"><table class="values"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _html(value: Any, depth: int, link_prefix: str | None = None) -> str:
    if isinstance(value, Mapping):
        if not value:
            return '<span class="none">(empty)</span>'
        if depth >= MAX_DEPTH:
            return _scalar_html(", ".join(f"{k}: {v}" for k, v in value.items()))
        items = "".join(f"<dt>{_e(key)}</dt><dd>{_html(item, depth + 1, link_prefix)}</dd>" for key, item in value.items())
        return f'<dl class="values">{items}</dl>'
    if isinstance(value, (list, tuple)):
        if not value:
            return '<span class="none">(none)</span>'
        if _is_table(value) and depth < MAX_DEPTH:
            return _table_html(value, depth, link_prefix)
        if all(not isinstance(item, (Mapping, list, tuple)) for item in value):
            short = all(len(str(item)) <= 40 for item in value)
            if short and len(value) <= 12:
                return ", ".join(_scalar_html(item, link_prefix) for item in value)
        return '<ul class="values">' + "".join(f"<li>{_html(item, depth + 1, link_prefix)}</li>" for item in value) + "</ul>"
    return _scalar_html(value, link_prefix)


def value_html(value: Any, link_prefix: str | None = None) -> str:
    """``value`` as HTML: mappings as definition lists, lists of mappings as tables (in a
    box that scrolls sideways on its own when wide), long texts folded behind their first
    words with the full text one click away. Everything is escaped. With ``link_prefix``,
    a value naming a log (``logs/...``) links to ``link_prefix + value``."""
    return _html(value, 0, link_prefix)


def _text_lines(value: Any, indent: str, width: int) -> list[str]:
    if isinstance(value, Mapping):
        if not value:
            return [indent + "(empty)"]
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(f"{indent}{key}:")
                lines += _text_lines(item, indent + "  ", width)
            else:
                lines += _wrapped(f"{key}: ", _scalar_text(item), indent, width)
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return [indent + "(none)"]
        lines = []
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) and item:
                sub = _text_lines(item, indent + "  ", width)
                lines.append(indent + "- " + sub[0].lstrip())
                lines += sub[1:]
            else:
                lines += _wrapped("- ", _scalar_text(item), indent, width)
        return lines
    return _wrapped("", _scalar_text(value), indent, width)


def _scalar_text(value: Any) -> str:
    if value is None:
        return "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return strip_ansi(str(value))


def _wrapped(label: str, text: str, indent: str, width: int) -> list[str]:
    paragraphs = text.split("\n")
    if len(paragraphs) > 1:
        # A multi-line text keeps its own lines, indented under its label.
        return [indent + label.rstrip()] + [indent + "    " + line for line in paragraphs]
    return textwrap.wrap(
        text, width=max(width, len(indent) + len(label) + 20), initial_indent=indent + label,
        subsequent_indent=indent + " " * len(label), break_long_words=False, break_on_hyphens=False,
    ) or [indent + label.rstrip()]


def value_text(key: str, value: Any, width: int = 100, *, prefix: str = "recorded ") -> str:
    """``recorded KEY`` (``prefix`` and ``key``) and ``value`` as indented plain text (one key or item a line,
    long texts wrapped at word boundaries, nothing cut): how a recorded value reads
    where only ``text/plain`` renders."""
    if not isinstance(value, (Mapping, list, tuple)) or not value:
        return "\n".join(_wrapped(f"{prefix}{key}: ", _scalar_text(value) if not isinstance(value, (Mapping, list, tuple))
                                  else ("(empty)" if isinstance(value, Mapping) else "(none)"), "", width))
    return "\n".join([f"{prefix}{key}:", *_text_lines(value, "  ", width)])
