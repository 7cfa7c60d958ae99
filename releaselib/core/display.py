"""How results look in a notebook: the HTML tables phases show in JupyterLab.

JupyterLab right-aligns table cells by default, which makes a column of
actions or file names hard to read; every table here is left-aligned with
inline styles (kept when an archived notebook is opened again). A status is a
word with a symbol (``✔ done``), never a symbol alone.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

LEFT = "text-align:left;vertical-align:top"

#: A symbol for each status word a plan or a check shows.
SYMBOLS = {
    "done": "✔",
    "already done": "✔",
    "ok": "✔",
    "would do": "…",
    "planned": "…",
    "failed": "✘",
    "problem": "✘",
}


def status(word: str) -> str:
    """``word`` with its symbol in front (``✔ done``); the word alone when it has none."""
    symbol = SYMBOLS.get(word)
    return f"{symbol} {word}" if symbol else word


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "nothing") -> str:
    """A left-aligned table. ``headers`` are text (escaped here); ``rows`` are cells of
    ready HTML (escape what you put in them)."""
    head = "".join(f"<th style='{LEFT}'>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='{LEFT}'>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        body = f"<tr><td style='{LEFT}' colspan={max(len(headers), 1)}>{html.escape(empty)}</td></tr>"
    return f"<table style='margin-left:0'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
