"""Wait until the published documentation shows the new version.

Seed step 10: "make sure the docs have properly updated". The docs builder
rebuilds the site after the push; this module polls the configured page
(``[tool.releaselib.docs-check] url``) until the page *declares* the release
version as a whole token, so ``1.1`` is not taken for ``1.10`` or ``1.1+dev``.
A page declares its version in its title, a version meta tag
(``<meta name="version" content="2.2">``, ``docsearch:version``), an element
whose class names a version (Sphinx themes' ``version`` and version
switchers: the selected option only), or where the configured
``version-pattern`` matches. A changelog that mentions the new version on a
page that declares the development version is not the new docs. Only a page
that declares nothing is searched as a whole.
A page that never shows it fails the phase with the URL and what the page
showed instead; a server that refuses connections or answers with an HTTP
error is polled again until the deadline, then its last error is reported.

A dry run fetches the page once and reports what it shows now, without
waiting and without failing. A project with no docs URL skips the check.
"""

from __future__ import annotations

import html
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import DocsError

if TYPE_CHECKING:
    from releaselib.engine.context import Release

__all__ = ["DocsResult", "declares_version", "fetch_page", "shows_version", "versions_in", "wait_for_docs"]

#: The longest a single request may take, whatever the overall timeout.
MAX_REQUEST_TIMEOUT = 30.0
#: A docs page larger than this is cut; the version is always near the top.
MAX_PAGE_BYTES = 5 * 1024 * 1024
#: Characters of page text kept around the version (or from the top) as evidence.
EXCERPT_CHARS = 160
#: How many distinct version-looking tokens a report names.
MAX_VERSIONS_SHOWN = 5

# A version-looking token: 1.0, v2.2, 1.0+dev, 2.2rc1, 2.2.dev0, 1.0+.
_VERSION_TOKEN = re.compile(
    r"(?<![\w.+-])[vV]?(\d+(?:\.\d+)+(?:[-_.]?(?:a|b|rc|alpha|beta|c|post|dev)\d*)*(?:\+(?:\w+(?:\.\w+)*)?)?)(?![\w+]|[.-]\w)"
)


@dataclass(frozen=True)
class Page:
    """What one successful fetch returned: the page's title and its visible text (title excluded)."""

    status: int
    title: str
    text: str
    declared: tuple[str, ...] = ()  # texts where the page states its own version (meta, title, version element)

    @property
    def searchable(self) -> str:
        """The title and the text: where the version is looked for."""
        return f"{self.title}\n{self.text}"


@dataclass
class DocsResult:
    """What the docs check saw.

    ``found`` is True when the page showed ``version``. ``skipped`` is True
    when no URL is configured (nothing was fetched). ``versions_seen`` are
    the version-looking tokens of the last page fetched (title first);
    ``error`` is the last fetch error, if the last attempt failed.
    """

    url: str | None
    found: bool
    attempts: int
    elapsed: float
    title: str | None
    excerpt: str | None
    version: str = ""
    versions_seen: tuple[str, ...] = ()
    error: str | None = None
    dry_run: bool = False
    skipped: bool = False
    timeout: float | None = None
    declared: tuple[str, ...] = ()  # where the page states its own version; empty: it states none
    checked_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def summary(self) -> str:
        """One sentence: what the check found."""
        if self.skipped:
            return "no docs URL configured; skipped"
        if self.found:
            tries = "first attempt" if self.attempts == 1 else f"attempt {self.attempts}"
            return f"{self.url} shows {self.version} ({tries}, after {self.elapsed:.1f} s)"
        shown = _describe_page(self.title, self.versions_seen, self.error, self.declared)
        if self.dry_run:
            return (
                f"dry run: {self.url} does not show {self.version} yet ({shown}); "
                f"a real run would wait up to {self.timeout:g} s"
            )
        return f"{self.url} did not show {self.version}: {shown}"

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready description for ``release.record("docs", ...)``."""
        return {
            "url": self.url,
            "version": self.version,
            "found": self.found,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            "attempts": self.attempts,
            "elapsed": round(self.elapsed, 2),
            "title": self.title,
            "versions_seen": list(self.versions_seen),
            "excerpt": self.excerpt,
            "declared": list(self.declared),
            "error": self.error,
            "checked_at": self.checked_at,
        }

    def __str__(self) -> str:
        lines = [self.summary]
        if self.title is not None:
            lines.append(f"  title:   {self.title}")
        if self.declared:
            lines.append(f"  declares: {' | '.join(self.declared)}")
        if self.excerpt:
            lines.append(f"  excerpt: {self.excerpt}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.skipped:
            mark = "&#8212;"
        elif self.found:
            mark = "&#10004;"
        else:
            mark = "&#8230;" if self.dry_run else "&#10008;"
        rows = ""
        if self.url is not None:
            rows += f"<tr><th>page</th><td><a href='{html.escape(self.url)}'>{html.escape(self.url)}</a></td></tr>"
        if self.title is not None:
            rows += f"<tr><th>title</th><td>{html.escape(self.title)}</td></tr>"
        if self.declared:
            rows += f"<tr><th>the page declares</th><td>{html.escape(' | '.join(self.declared))}</td></tr>"
        if self.versions_seen:
            rows += f"<tr><th>versions on the page</th><td>{html.escape(', '.join(self.versions_seen))}</td></tr>"
        if self.excerpt:
            rows += f"<tr><th>excerpt</th><td><code>{html.escape(self.excerpt)}</code></td></tr>"
        if self.error:
            rows += f"<tr><th>last error</th><td>{html.escape(self.error)}</td></tr>"
        if not self.skipped:
            rows += f"<tr><th>attempts</th><td>{self.attempts} in {self.elapsed:.1f} s</td></tr>"
        table = f"<table><tbody>{rows}</tbody></table>" if rows else ""
        return f"<p>{mark} <strong>{html.escape(self.summary)}</strong></p>{table}"


# --------------------------------------------------------------------------- page reading


class _TextAndTitle(HTMLParser):
    """Collect a page's ``<title>`` and its visible text (no scripts or styles)."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.text_parts: list[str] = []
        self._in_title = False
        self._hidden_depth = 0
        self.declared: list[str] = []
        # Open elements; for each, whether it is a version element, and the text collected inside it.
        self._stack: list[tuple[str, bool, list[str]]] = []
        self._in_select = 0
        self._option_selected: bool | None = None

    def _in_version_element(self) -> bool:
        return any(is_version for _, is_version, _ in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("name") or values.get("property") or values.get("itemprop") or "").lower()
            if key in _VERSION_META and values.get("content"):
                self.declared.append(values["content"])
            return
        if tag in _VOID:
            return
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden_depth += 1
        if tag == "select":
            self._in_select += 1
        if tag == "option":
            self._option_selected = "selected" in values
        classes = f"{values.get('class', '')} {values.get('id', '')}".lower()
        self._stack.append((tag, "version" in classes, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1
        if tag == "select" and self._in_select:
            self._in_select -= 1
        if tag == "option":
            self._option_selected = None
        # Close up to the matching element (HTML in the wild leaves some unclosed).
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                for _, is_version, parts in self._stack[depth:][::-1]:
                    if is_version and _squash(" ".join(parts)):
                        self.declared.append(_squash(" ".join(parts)))
                del self._stack[depth:]
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._hidden_depth:
            self.text_parts.append(data)
            if self._in_version_element() and (not self._in_select or self._option_selected):
                # In a version switcher only the selected option is the page's own version.
                for _, is_version, parts in self._stack:
                    if is_version:
                        parts.append(data)


_VERSION_META = frozenset({"version", "docsearch:version", "docbuild:version", "release", "docs:version"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


def _squash(text: str) -> str:
    return " ".join(text.split())


def parse_page(
    body: str, *, status: int = 200, content_type: str = "text/html", version_pattern: str | None = None
) -> Page:
    """The title, visible text and declared versions of a page (plain text pages are taken as they are).

    ``version_pattern`` (a regex; its first group, or the whole match, is the
    version) adds where it matches the raw body to what the page declares.
    """
    extra = _pattern_matches(body, version_pattern)
    if "html" not in content_type and not body.lstrip().startswith("<"):
        return Page(status=status, title="", text=_squash(body), declared=tuple(extra))
    parser = _TextAndTitle()
    parser.feed(body)
    parser.close()
    title = _squash("".join(parser.title_parts))
    text = _squash(" ".join(parser.text_parts))
    declared = list(parser.declared) + extra
    if _VERSION_TOKEN.search(title):
        declared.insert(0, title)
    return Page(status=status, title=title, text=text, declared=tuple(dict.fromkeys(declared)))


def _pattern_matches(body: str, pattern: str | None) -> list[str]:
    if not pattern:
        return []
    found = []
    for match in re.finditer(pattern, body):
        found.append(match.group(1) if match.groups() else match.group(0))
    return found


def declares_version(page: Page, version: str) -> bool:
    """True when the page declares ``version``; a page that declares no version is searched whole."""
    if page.declared:
        return any(shows_version(text, version) for text in page.declared)
    return shows_version(page.searchable, version)


def fetch_page(url: str, *, timeout: float, version_pattern: str | None = None) -> Page:
    """GET ``url`` once, bypassing caches; return its title and visible text.

    Raises :class:`urllib.error.URLError` (HTTP errors included), ``TimeoutError``
    or ``OSError`` as urllib does; :func:`wait_for_docs` turns them into retries.
    """
    request = urllib.request.Request(
        url,
        headers={
            # A CDN in front of the docs must not answer with the page as it was before the push.
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "User-Agent": "releaselib-docs-check",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read(MAX_PAGE_BYTES)
        charset = response.headers.get_content_charset() or "utf-8"
        content_type = response.headers.get_content_type() or "text/html"
        status = getattr(response, "status", 200) or 200
    try:
        body = data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name in the header
        body = data.decode("utf-8", errors="replace")
    return parse_page(body, status=status, content_type=content_type, version_pattern=version_pattern)


def _version_pattern(version: str) -> re.Pattern[str]:
    # Whole token: not inside a longer number or word (1.10, 21.1, 1.1.2) and
    # without a local label or suffix after it (1.1+dev, 1.1rc1, 1.1-dev);
    # a leading "v" and trailing punctuation ("1.1.", "(1.1)") are fine.
    return re.compile(r"(?<![\w.+-])[vV]?" + re.escape(version) + r"(?![\w+]|[.-]\w)")


def shows_version(text: str, version: str) -> bool:
    """True when ``version`` appears in ``text`` as a whole token (``1.1`` not in ``1.10`` or ``1.1+dev``)."""
    return _version_pattern(version).search(text) is not None


def versions_in(page: Page, limit: int = MAX_VERSIONS_SHOWN) -> tuple[str, ...]:
    """The distinct version-looking tokens of a page, those in its title first."""
    found: list[str] = []
    for source in (page.title, page.text):
        for match in _VERSION_TOKEN.finditer(source):
            token = match.group(1)
            if token not in found:
                found.append(token)
            if len(found) >= limit:
                return tuple(found)
    return tuple(found)


def _excerpt(page: Page, version: str) -> str:
    """The text around the version on the page; else the title, or the top of the text."""
    match = _version_pattern(version).search(page.text)
    if match is not None:
        half = EXCERPT_CHARS // 2
        start = max(0, match.start() - half)
        end = min(len(page.text), match.end() + half)
        return ("…" if start else "") + page.text[start:end] + ("…" if end < len(page.text) else "")
    if shows_version(page.title, version) or not page.text:
        return page.title[:EXCERPT_CHARS]
    return page.text[:EXCERPT_CHARS] + ("…" if len(page.text) > EXCERPT_CHARS else "")


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused"
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return "no answer (timed out)"
        return str(reason)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer (timed out)"
    return f"{type(exc).__name__}: {exc}"


def _describe_page(
    title: str | None, versions: tuple[str, ...], error: str | None, declared: tuple[str, ...] = ()
) -> str:
    parts = []
    if declared:
        parts.append(f"the page declares {' | '.join(declared)!r}")
    if title is not None:
        shown = f"showed {', '.join(versions)}" if versions else "showed no version at all"
        parts.append(f"the page {shown} (title {title!r})" if title else f"the page {shown}")
    if error is not None:
        parts.append(f"last error: {error}")
    return "; ".join(parts) or "nothing was fetched"


# --------------------------------------------------------------------------- the phase


def wait_for_docs(
    release: Release,
    *,
    url: str | None = None,
    timeout: float | None = None,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DocsResult:
    """Poll the docs page until it shows ``release.version``; return what was seen.

    ``url``, ``timeout`` and ``interval`` default to ``[tool.releaselib.docs-check]``.
    Each request sends ``Cache-Control: no-cache`` and has its own timeout
    (at most :data:`MAX_REQUEST_TIMEOUT`, never past the deadline by much).
    Connection errors and HTTP errors are retried until the deadline.

    In a dry run the page is fetched once and the result says what it shows
    now; nothing waits and nothing raises for what the page shows. With no
    URL configured the result is a skipped one.

    Raises :class:`DocsError` when the deadline passes without the version
    on the page, naming the URL, the page's title, the version-looking
    tokens it showed and the last fetch error; also when ``url`` is not an
    http(s) or file URL.
    """
    check = release.config.docs_check
    url = url if url is not None else check.url
    timeout = float(timeout if timeout is not None else check.timeout)
    interval = float(interval if interval is not None else check.interval)
    version = release.version
    dry_run = bool(release.dry_run)
    if not url:
        return DocsResult(url=None, found=False, attempts=0, elapsed=0.0, title=None, excerpt=None,
                          version=version, dry_run=dry_run, skipped=True, timeout=timeout)
    if urllib.parse.urlsplit(url).scheme not in {"http", "https", "file"}:
        raise DocsError(
            f"The docs URL {url!r} is not an http(s) URL.",
            hint="Set `url` in [tool.releaselib.docs-check] to the page that shows the version, e.g. https://example.org/docs/.",
        )

    started = clock()
    deadline = started + timeout
    attempts = 0
    page: Page | None = None
    error: str | None = None
    while True:
        attempts += 1
        request_timeout = min(MAX_REQUEST_TIMEOUT, max(1.0, deadline - clock()))
        try:
            page = fetch_page(url, timeout=request_timeout, version_pattern=check.version_pattern)
            error = None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # ValueError: http.client rejects a malformed answer; keep polling like any other failure.
            error = _describe_error(exc)
        now = clock()
        if page is not None and error is None and declares_version(page, version):
            return DocsResult(url=url, found=True, attempts=attempts, elapsed=now - started, title=page.title,
                              excerpt=_excerpt(page, version), version=version, versions_seen=versions_in(page),
                              dry_run=dry_run, timeout=timeout, declared=page.declared)
        if dry_run or now >= deadline:
            break
        sleep(max(0.0, min(interval, deadline - now)))

    elapsed = clock() - started
    result = DocsResult(
        url=url, found=False, attempts=attempts, elapsed=elapsed,
        title=page.title if page is not None else None,
        excerpt=_excerpt(page, version) if page is not None else None,
        version=version, versions_seen=versions_in(page) if page is not None else (),
        error=error, dry_run=dry_run, timeout=timeout, declared=page.declared if page is not None else (),
    )
    if dry_run:
        return result
    raise DocsError(
        f"The docs at {url} did not show {version} within {timeout:g} s ({attempts} attempt(s)): "
        f"{_describe_page(result.title, result.versions_seen, error, result.declared)}.",
        hint=(
            "Check the docs build (did the push trigger it? did it fail? is the URL the page that names the version?), "
            f"then run `releaselib run {version} --resume`."
        ),
    )
