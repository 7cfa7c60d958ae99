"""Real local servers for the demo, the end-to-end tests and ``releaselib rehearse``.

Each server is a context manager that binds 127.0.0.1 only and stops exactly
what it started:

- :class:`PackageIndex`: pypiserver in a subprocess (same interpreter), uploads
  protected by an htpasswd file, downloads and listing open, fallback to PyPI
  off so an unknown name is a 404 and never a redirect.
- :class:`MailCatcher`: an aiosmtpd server in a thread that keeps every message,
  optionally requiring AUTH (PLAIN/LOGIN) with one username and password.
- :class:`DocsServer`: ``http.server`` in a thread serving a site folder.
- :class:`LocalServers`: all three together.

Measured behaviour of pypiserver 2.4 (what the publish code relies on):

- An upload without credentials gets **401** (with ``WWW-Authenticate``); an
  upload with a wrong username or password gets **403 Forbidden**.
- An upload of a file already present gets **400** when the client is twine
  (409 for other clients), since the server does not run with ``--overwrite``.
- ``GET /simple/<name>/`` lists each file as
  ``<a href="/packages/<file>#sha256=<64 lowercase hex>"><file></a><br>``
  (absolute path, one link per line); an unknown name is a plain 404.
- The htpasswd file is re-read when its mtime changes, so
  :meth:`PackageIndex.set_password` takes effect without a restart.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from releaselib.local.servers.base import ServerError, free_port
from releaselib.local.servers.docs import DocsServer
from releaselib.local.servers.index import PackageIndex
from releaselib.local.servers.mail import MailCatcher, ReceivedMail

__all__ = [
    "DocsServer",
    "LocalServers",
    "MailCatcher",
    "PackageIndex",
    "ReceivedMail",
    "ServerError",
    "free_port",
]

class LocalServers:
    """The package index, mail catcher and docs server of a local release.

    Layout under ``root``: ``index/`` (packages, htpasswd, log) and ``site/``
    (what the docs server serves). Entering starts all three; if one fails
    to start, the ones already started are stopped before the error
    propagates. Leaving stops all three.
    """

    def __init__(
        self,
        root: Path,
        *,
        index_password: str,
        smtp_password: str | None = None,
        index_username: str = "releaser",
        smtp_username: str = "releaser",
    ) -> None:
        self.root = Path(root)
        self.index = PackageIndex(
            self.root / "index", username=index_username, password=index_password
        )
        self.mail = MailCatcher(
            username=smtp_username if smtp_password is not None else None,
            password=smtp_password,
        )
        self.docs = DocsServer(self.root / "site")
        self._stack: ExitStack | None = None

    def __enter__(self) -> LocalServers:
        with ExitStack() as stack:
            for server in (self.index, self.mail, self.docs):
                stack.enter_context(server)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def describe(self) -> str:
        """A few lines naming each server's URL, port and where its files are."""
        auth = (
            f"AUTH required (user {self.mail.username!r})"
            if self.mail.auth_required
            else "no AUTH"
        )
        return "\n".join(
            [
                (
                    f"package index  {self.index.url}  (simple: {self.index.simple_url}; "
                    f"uploads as {self.index.username!r}; files in {self.index.packages_dir})"
                ),
                f"SMTP server    {self.mail.host}:{self.mail.port}  ({auth})",
                f"docs site      {self.docs.url}  (serving {self.docs.site_dir})",
            ]
        )
