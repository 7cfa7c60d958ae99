"""A docs site served over HTTP on 127.0.0.1, as a docs host would serve it."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Any

from releaselib.local.servers.base import LOCALHOST, ServerError, _Server, free_port


class _QuietNoStoreHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Cache-Control: no-store`` and no request log on stderr."""

    def end_headers(self) -> None:
        # A docs check must see the page as rebuilt now, never a cached copy.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class DocsServer(_Server):
    """A static HTTP server on 127.0.0.1 serving ``site_dir`` (created if missing)."""

    def __init__(self, site_dir: Path, *, port: int | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.port = port if port is not None else free_port()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"

    def start(self) -> DocsServer:
        """Bind and serve in a background thread; raises :class:`ServerError` if it cannot bind."""
        if self._server is not None:
            return self
        self.site_dir.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietNoStoreHandler, directory=str(self.site_dir))
        try:
            server = http.server.ThreadingHTTPServer((LOCALHOST, self.port), handler)
        except OSError as exc:
            raise ServerError(
                f"The docs server could not bind {LOCALHOST}:{self.port}: {exc}",
                hint="Choose another port, or leave port unset to get a free one.",
            ) from exc
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"docs-server-{self.port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __repr__(self) -> str:
        return f"DocsServer({self.url!r}, site_dir={str(self.site_dir)!r})"


