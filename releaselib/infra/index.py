"""Reading a package index: the files its PEP 503 simple page lists, with their sha256."""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

from packaging.utils import canonicalize_name

from releaselib.core.errors import PublishError
from releaselib.core.secrets import url_credentials

_RESUME = "then `releaselib run VERSION --resume`"



class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def project_url(simple_url: str, package: str) -> str:
    """``<simple_url>/<normalized-name>/`` (PEP 503)."""
    return simple_url.rstrip("/") + "/" + canonicalize_name(package) + "/"


def index_files(simple_url: str, package: str, timeout: float = 30.0) -> dict[str, str]:
    """The files the index lists for ``package``: ``{filename: sha256}`` from its PEP 503 page.

    A link without a ``#sha256=`` fragment maps to ``""``. An unknown project
    (404) is an empty dict. Raises :class:`PublishError` naming the URL when
    the index cannot be reached or answers with another error.
    """
    # Credentials in the URL (https://user:TOKEN@host/simple/) go into a header, never into a message.
    clean, user, password = url_credentials(simple_url)
    url = project_url(clean, package)
    headers = {"Accept": "text/html", "Cache-Control": "no-cache"}
    if user is not None or password is not None:
        token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise PublishError(
            f"The index at {url} answered {exc.code} {exc.reason}.",
            hint=f"Check [tool.releaselib.publish] index-url and that the index is up, {_RESUME}.",
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(
            f"Cannot reach the package index at {url}: {reason}.",
            hint=f"Start the index or fix [tool.releaselib.publish] index-url, {_RESUME}; "
            "files already uploaded are skipped.",
        ) from exc
    parser = _Anchors()
    parser.feed(body)
    files: dict[str, str] = {}
    for href, text in parser.links:
        path, _, fragment = href.partition("#")
        filename = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]) or text
        match = re.search(r"(?:^|&)sha256=([0-9a-fA-F]{64})", fragment)
        files[filename] = match.group(1).lower() if match else ""
    return files


__all__ = ["index_files", "project_url"]
