"""Each archived notebook as a page of its own, rendered once and kept.

The report links every attempt's notebook instead of inlining it: the summary
stays short, and a notebook is one click away. A record's attempts never change
(their sha256 is in the chained record), so a page is rendered once into
``report_files/<notebook>.html`` and rendered again only when the notebook's
bytes or this renderer change. ``releaselib report`` therefore stays flat as a
record grows: nbconvert is not even imported when every page is current.

Recorded values (the ``release.record(...)`` outputs) are shown as tables, not
as the one-line JSON of their ``text/plain`` fallback; terminal colour codes in
outputs become styled text; nothing on a page loads from the network.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from releaselib.core.errors import RecordError
from releaselib.core.secrets import scrubbed
from releaselib.record.notebooks import VALUE_MIME
from releaselib.record.readable import strip_ansi, value_html
from releaselib.record.store import sha256_file, write_atomic

__all__ = ["FILES_DIR", "log_page", "notebook_page", "page_manifest", "render_notebook"]

#: The folder beside report.html that holds the notebook pages (as a browser's "save page" would).
FILES_DIR = "report_files"
#: Bump when the rendering changes, so kept pages are rendered again.
RENDERER = "3"
_MARK = re.compile(r"<!-- releaselib notebook page sha256=([0-9a-f]{64}) renderer=(\S+) -->")

# Wraps every input area in <details> so code folds away; the rest is nbconvert's
# own "classic" body markup, which needs no external CSS or script.
_TEMPLATE = """{%- extends 'classic/base.html.j2' -%}
{% block input_group -%}
<details class="code" open><summary>code{% if cell.execution_count %} · In [{{ cell.execution_count }}]{% endif %}</summary>
<div class="input">
{{ super() }}
</div>
</details>
{% endblock input_group %}
"""

# Anything that would make the page fetch from the network is dropped.
_EXTERNAL = re.compile(
    r"<(?:script|link|iframe|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>(?:\s*</(?:script|iframe)>)?",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _exporter() -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="classic",
        template_file="releaselib_report.html.j2",
        extra_loaders=[DictLoader({"releaselib_report.html.j2": _TEMPLATE})],
        embed_images=True,
    )


@lru_cache(maxsize=1)
def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]

    return str(HtmlFormatter(style="default").get_style_defs(".notebook .highlight"))


def _readable_values(nb: Any) -> Any:
    """A copy of ``nb`` whose recorded-value outputs are HTML tables, and whose text
    outputs carry no progress-bar redraws (colour codes are left to nbconvert's ANSI filter)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if VALUE_MIME in data:
                item = data[VALUE_MIME]
                key = item.get("key") if isinstance(item, dict) else None
                value = item.get("value") if isinstance(item, dict) else item
                output["data"] = {
                    "text/html": f'<div class="recorded"><div class="recorded-key">recorded <code>{key}</code></div>'
                                 f"{value_html(value, link_prefix='../')}</div>",
                }
            elif output.get("output_type") == "stream" and "\r" in str(output.get("text", "")):
                text = str(output["text"])
                output["text"] = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return nb


def render_notebook(path: Path) -> str:
    """The body of an executed notebook as HTML (nbconvert, inputs in ``<details>``,
    recorded values as tables), with anything that would load from the network removed.

    Raises :class:`RecordError` when the notebook cannot be read or rendered.
    """
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        body, _ = _exporter().from_notebook_node(_readable_values(nb))
    except Exception as exc:
        raise RecordError(
            f"Cannot render {path}: {type(exc).__name__}: {exc}",
            hint="Check the notebook with `releaselib verify`; open it in JupyterLab to see what is wrong.",
        ) from exc
    # nbconvert turns colour codes into styled spans; anything it left is dropped.
    return _EXTERNAL.sub("", strip_ansi(str(body)))


def _current(page: Path, digest: str) -> bool:
    try:
        with open(page, encoding="utf-8") as handle:
            head = handle.read(400)
    except OSError:
        return False
    match = _MARK.search(head)
    return match is not None and match.group(1) == digest and match.group(2) == RENDERER


def notebook_page(record_dir: Path, notebook: str, *, title: str, back: str, css: str,
                  recorded_sha256: str | None = None) -> tuple[str, bool]:
    """The page of ``notebook`` (a file name in ``record_dir``), rendered if it is not
    current; returns its path relative to ``record_dir`` and whether it was rendered now.

    A page is current when it was written by this renderer from a notebook with the
    same sha256. With ``recorded_sha256`` (the record's hash of the notebook), a page of
    that hash, written after the notebook last changed, is current without hashing the
    notebook again: that keeps ``report`` flat as a record grows.
    ``back`` is the link to the report's section of this phase; ``css`` the page style.
    Raises :class:`RecordError` when the notebook cannot be rendered.
    """
    # Plain strings until a page must be written: this runs once per attempt, on every report.
    folder = os.fspath(record_dir)
    relative = f"{FILES_DIR}/{os.path.splitext(notebook)[0]}.html"
    manifest = _MANIFEST.get(folder)
    try:
        status = os.stat(os.path.join(folder, notebook))
        stamp: list[int] | None = [status.st_mtime_ns, status.st_size]
    except OSError:
        stamp = None
    if manifest is not None and recorded_sha256 and manifest.get(notebook) == [recorded_sha256, RENDERER, stamp]:
        return relative, False
    source = Path(record_dir) / notebook
    page = Path(record_dir) / relative
    digest = sha256_file(source)
    if _current(page, digest):
        if manifest is not None:
            manifest[notebook] = [digest, RENDERER, stamp]
        return relative, False
    import html

    body = render_notebook(source)
    text = (
        f"<!DOCTYPE html>\n<!-- releaselib notebook page sha256={digest} renderer={RENDERER} -->\n"
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}{pygments_css()}</style></head>\n<body>"
        f'<nav class="toolbar"><a href="../{html.escape(back)}">← back to the report</a>'
        f'<a href="../{html.escape(notebook)}" class="mono">{html.escape(notebook)}</a>'
        '<button id="toggle-code" type="button">Hide code</button></nav>'
        f'<main><h1>{html.escape(title)}</h1><p class="muted">The executed notebook as archived '
        f'(sha256 <span class="hash">{digest}</span>).</p><div class="notebook">{body}</div></main>'
        "<script>document.getElementById('toggle-code').addEventListener('click', function () {"
        "var hidden = document.body.classList.toggle('hide-code');"
        "this.textContent = hidden ? 'Show code' : 'Hide code'; });</script></body></html>\n"
    )
    write_atomic(page, scrubbed(text).encode("utf-8"))
    page.chmod(0o644)
    if manifest is not None:
        manifest[notebook] = [digest, RENDERER, stamp]
    return relative, True


#: The manifests open in :func:`page_manifest`, by record folder.
_MANIFEST: dict[str, dict[str, Any]] = {}
MANIFEST_NAME = "pages.json"


@contextmanager
def page_manifest(record_dir: Path) -> Iterator[None]:
    """Within this block, :func:`notebook_page` trusts ``report_files/pages.json``: a notebook
    whose recorded sha256, size and modification time match its entry there has a current
    page, and is neither hashed nor opened again. The manifest is saved at the end, listing
    only pages that exist."""
    folder = Path(record_dir) / FILES_DIR
    path = folder / MANIFEST_NAME
    try:
        names = set(os.listdir(folder))
        manifest = json.loads(path.read_text(encoding="utf-8")) if MANIFEST_NAME in names else {}
    except (OSError, ValueError):
        names, manifest = set(), {}
    if not isinstance(manifest, dict):
        manifest = {}
    manifest = {k: v for k, v in manifest.items() if f"{os.path.splitext(k)[0]}.html" in names}
    before = dict(manifest)
    _MANIFEST[os.fspath(record_dir)] = manifest
    try:
        yield
    finally:
        _MANIFEST.pop(os.fspath(record_dir), None)
        if manifest != before:
            write_atomic(path, json.dumps(manifest, indent=0, sort_keys=True).encode("utf-8"))
            path.chmod(0o644)


def log_page(record_dir: Path, log: str) -> str | None:
    """A readable copy of the log ``log`` (a path relative to ``record_dir``) as a page under
    ``report_files/logs/``, without terminal escape codes or progress-bar redraws (a second
    line of defence: logs are written without them); returns its relative path, or None
    when the log is not in the record. Written once: a log never changes after its phase."""
    source = Path(record_dir) / log
    if not source.is_file() or Path(log).is_absolute() or ".." in Path(log).parts:
        return None
    relative = f"{FILES_DIR}/{log}.html"
    page = Path(record_dir) / relative
    if page.is_file() and page.stat().st_mtime >= source.stat().st_mtime:
        return relative
    import html

    text = strip_ansi(source.read_bytes().decode("utf-8", errors="replace"))
    up = "../" * (len(Path(relative).parts) - 1)
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(log)}</title><style>body{{margin:0;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,"
        "Consolas,monospace}nav{padding:8px 16px;border-bottom:1px solid #d1d9e0;font-family:system-ui,sans-serif}"
        "pre{margin:0;padding:12px 16px;white-space:pre-wrap;overflow-wrap:anywhere}a{color:#0969da}</style></head><body>"
        f'<nav><a href="{up}report.html#matrix">← back to the report</a> · {html.escape(log)} · '
        f'<a href="{up}{html.escape(log)}">the log as written</a></nav><pre>{html.escape(text)}</pre></body></html>\n'
    )
    write_atomic(page, scrubbed(body).encode("utf-8"))
    page.chmod(0o644)
    return relative
