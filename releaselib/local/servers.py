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

import contextlib
import email
import email.policy
import functools
import hmac
import http.server
import logging
import os
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from releaselib.core.errors import ReleaseError
from releaselib.infra import processes
from releaselib.record.store import sha256_file

__all__ = [
    "DocsServer",
    "LocalServers",
    "MailCatcher",
    "PackageIndex",
    "ReceivedMail",
    "ServerError",
    "free_port",
]

LOCALHOST = "127.0.0.1"


class ServerError(ReleaseError):
    """A local server could not start or did not become ready, or an expected message never came."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    The port is released before returning (aiosmtpd and pypiserver need a
    number, not a bound socket), so another process could take it in between;
    the servers below report that as a :class:`ServerError`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


class _Server:
    """Context-manager plumbing shared by the servers."""

    def start(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- index


def _htpasswd_line(username: str, password: str) -> bytes:
    """One htpasswd line for ``username``, hashed with sha256-crypt.

    sha256-crypt needs no extra dependency (bcrypt is not installed) and is
    not the weak apr-md5; pypiserver checks it through the same passlib.
    """
    with warnings.catch_warnings():
        # passlib imports the stdlib ``crypt`` module, deprecated since 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

    htpasswd = HtpasswdFile(new=True, default_scheme="sha256_crypt")
    htpasswd.set_password(username, password)
    data: bytes = htpasswd.to_string()
    return data


def _tail(path: Path, limit: int = 4000, *, since: int = 0) -> str:
    """The last ``limit`` characters of a log file, from byte offset ``since`` on."""
    try:
        with open(path, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text[-limit:]


class PackageIndex(_Server):
    """pypiserver on 127.0.0.1 serving ``root / "packages"``.

    Uploads need ``username``/``password`` (checked against ``root /
    "htpasswd"``); listing and downloads are open. The server's output goes
    to ``root / "pypiserver.log"``.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str = "releaser",
        password: str,
        port: int | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        if not password:
            raise ServerError(
                "The package index needs a non-empty upload password.",
                hint="Pass password=... (the demo generates one).",
            )
        self.root = Path(root)
        self.username = username
        self.password = password
        self._port_chosen_here = port is None
        self.port = port if port is not None else free_port()
        self.ready_timeout = ready_timeout
        # A path only this process answers: readiness must not be fooled by
        # another server that already holds the port.
        self._health_path = f"/ready-{secrets.token_hex(8)}"
        self.packages_dir = self.root / "packages"
        self.htpasswd_path = self.root / "htpasswd"
        self.log_path = self.root / "pypiserver.log"
        self._process: processes.Started | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"

    @property
    def upload_url(self) -> str:
        """What ``twine upload --repository-url`` takes: pypiserver accepts uploads at its root."""
        return self.url

    @property
    def simple_url(self) -> str:
        return f"{self.url}simple/"

    @property
    def pid(self) -> int | None:
        """The pypiserver process id while it runs, else None."""
        return self._process.pid if self._process is not None else None

    def start(self) -> PackageIndex:
        """Start pypiserver and return once its simple index answers 200.

        Raises :class:`ServerError` if the process exits early (its log tail
        is in the message) or is not ready within ``ready_timeout`` seconds;
        in both cases the process is stopped first.
        """
        if self._process is not None:
            return self
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        self._write_htpasswd(self.password)
        # free_port() releases the port before pypiserver binds it; when we chose
        # the port and someone took it in between, choose another and retry.
        attempts = 3 if self._port_chosen_here else 1
        for attempt in range(1, attempts + 1):
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._spawn()
            try:
                self._wait_ready()
                return self
            except ServerError:
                self.stop()
                port_taken = "Address already in use" in _tail(
                    self.log_path, since=log_start
                )
                if attempt == attempts or not port_taken:
                    raise
                self.port = free_port()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        command = [
            sys.executable, "-m", "pypiserver", "run",
            "-i", LOCALHOST,
            "-p", str(self.port),
            "-a", "update",
            "-P", str(self.htpasswd_path),
            "--disable-fallback",
            "--hash-algo", "sha256",
            "--health-endpoint", self._health_path,
            "--server", "wsgiref",
            str(self.packages_dir),
        ]  # fmt: skip
        # Its log is a file, not a pipe (processes.start): nobody reads a pipe while
        # the server runs, and a full pipe would block pypiserver mid-request.
        try:
            self._process = processes.start(command, log=self.log_path, cwd=self.root)
        except OSError as exc:
            raise ServerError(
                f"Could not start pypiserver: {exc}",
                hint="Check that pypiserver is installed in this environment "
                f"({sys.executable} -m pypiserver --version).",
            ) from exc

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise ServerError(
                    f"pypiserver exited with code {code} before it was ready on port "
                    f"{self.port}. Its log ({self.log_path}) ends with:\n"
                    f"{_tail(self.log_path, 2000)}",
                    hint="If the port was taken, start again (a new free port is "
                    "chosen when none is given).",
                )
            try:
                with urllib.request.urlopen(
                    self.url.rstrip("/") + self._health_path, timeout=1
                ):
                    pass
                with urllib.request.urlopen(self.simple_url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last_error = exc
            time.sleep(0.05)
        raise ServerError(
            f"pypiserver did not answer {self.simple_url} within {self.ready_timeout:.0f} s "
            f"(last error: {last_error}). Its log ends with:\n{_tail(self.log_path)}",
            hint="Look at the log above; raise ready_timeout on a slow machine.",
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the pypiserver process this object started, killing it after ``timeout``.

        Does nothing when not started; safe to call twice.
        """
        process, self._process = self._process, None
        if process is None:
            return
        process.stop(timeout=timeout)

    def files(self) -> dict[str, str]:
        """Every file the index holds: filename -> sha256 hex of its bytes on disk."""
        result: dict[str, str] = {}
        if not self.packages_dir.is_dir():
            return result
        for path in sorted(self.packages_dir.iterdir()):
            if path.is_file():
                result[path.name] = sha256_file(path)
        return result

    def set_password(self, password: str) -> None:
        """Change the upload password; takes effect on the next upload, no restart.

        pypiserver re-reads the htpasswd file when its mtime changes
        (passlib's ``load_if_changed``); the mtime is moved forward if the
        rewrite landed in the same timestamp tick.
        """
        if not password:
            raise ServerError(
                "The package index needs a non-empty upload password.",
                hint="Pass a non-empty password.",
            )
        self.password = password
        self._write_htpasswd(password)

    def _write_htpasswd(self, password: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        before = (
            self.htpasswd_path.stat().st_mtime_ns
            if self.htpasswd_path.exists()
            else None
        )
        # Write beside, then rename: pypiserver may read the file at any moment
        # and must never see it half-written.
        partial = self.htpasswd_path.with_name(self.htpasswd_path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_htpasswd_line(self.username, password))
        os.replace(partial, self.htpasswd_path)
        if before is not None and self.htpasswd_path.stat().st_mtime_ns <= before:
            bumped = before + 1_000_000_000
            os.utime(self.htpasswd_path, ns=(bumped, bumped))

    def __repr__(self) -> str:
        return f"PackageIndex({self.url!r}, packages_dir={str(self.packages_dir)!r})"


# --------------------------------------------------------------------------- mail


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _KeepEverything:
    """aiosmtpd handler: parse and keep every message, accept it."""

    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        # SMTP carries CRLF line ends; keep what a reader of the message expects.
        content = content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._catcher._receive(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
            )
        )
        return "250 Message accepted for delivery"


class _OneUserAuthenticator:
    """aiosmtpd authenticator accepting exactly one username and password."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self._username)
            and hmac.compare_digest(auth_data.password, self._password)
        )
        return AuthResult(success=ok, handled=False)


class _AuthNoiseFilter(logging.Filter):
    """Drop two aiosmtpd warnings that reach stderr on every authenticated run.

    "auth_required but no TLS": TLS is pointless on 127.0.0.1; and
    "Session.login_data is deprecated": aiosmtpd 1.4 warns about its own
    use of its own attribute after each successful AUTH.
    """

    _NOISE = ("auth_require_tls == False", "Session.login_data is deprecated")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self._NOISE)


_AUTH_NOISE_FILTER = _AuthNoiseFilter()


class MailCatcher(_Server):
    """An SMTP server on 127.0.0.1 that keeps every message it receives.

    With ``username`` and ``password`` set it requires AUTH (PLAIN or LOGIN,
    without TLS) before MAIL FROM, answering 530 otherwise, and 535 to a
    wrong password.
    """

    host: str
    port: int

    def __init__(
        self,
        *,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ServerError(
                "MailCatcher needs both username and password, or neither.",
                hint="Pass both to require AUTH, or neither for an open server.",
            )
        self.host = LOCALHOST
        self.port = port if port is not None else free_port()
        self.username = username
        self.password = password
        self.received: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received so far, parsed, in arrival order (a copy)."""
        with self._lock:
            return [mail.message for mail in self.received]

    @property
    def auth_required(self) -> bool:
        return self.username is not None

    def _receive(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.received.append(mail)

    def start(self) -> MailCatcher:
        """Start the SMTP server and return once it answers.

        Raises :class:`ServerError` if it cannot bind or does not become ready.
        """
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            # Without it, aiosmtpd calls socket.getfqdn(), which can stall on DNS.
            "server_hostname": "releaselib-mailcatcher",
            "ready_timeout": 10.0,
        }
        if self.username is not None and self.password is not None:
            kwargs.update(
                authenticator=_OneUserAuthenticator(self.username, self.password),
                auth_required=True,
                auth_require_tls=False,
            )
            logging.getLogger("mail.log").addFilter(_AUTH_NOISE_FILTER)
        # aiosmtpd notices a failed bind only after its whole ready_timeout;
        # trying the port first turns that into an immediate, clear error.
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((self.host, self.port))
        except OSError as exc:
            raise ServerError(
                f"The SMTP server could not bind {self.host}:{self.port}: {exc}",
                hint="Choose another port, or leave port unset to get a free one.",
            ) from exc
        controller = _QuietController(_KeepEverything(self), **kwargs)
        try:
            controller.start()
        except Exception as exc:
            # Already failing: clean up what we can, keep the first error.
            with contextlib.suppress(Exception):
                controller.stop(no_assert=True)
            raise ServerError(
                f"The SMTP server could not start on {self.host}:{self.port}: {exc}",
                hint="If the port was taken, start again (a new free port is chosen "
                "when none is given).",
            ) from exc
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop the SMTP server this object started; safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return all of them.

        Raises :class:`ServerError` naming how many arrived if fewer than
        ``count`` did within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise ServerError(
                    f"Expected {count} message(s) on {self.host}:{self.port}, "
                    f"received {len(messages)} within {timeout:g} s.",
                    hint="Check the announce phase's output for the SMTP reply.",
                )
            time.sleep(0.02)

    def __repr__(self) -> str:
        return f"MailCatcher({self.host}:{self.port}, auth={self.auth_required})"


class _QuietController(Controller):
    def factory(self) -> Any:
        # aiosmtpd warns (UserWarning) that AUTH without TLS is unsafe; on
        # 127.0.0.1 with a throwaway password it is exactly what we want.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Requiring AUTH while not requiring TLS"
            )
            return super().factory()  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------- docs


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


# --------------------------------------------------------------------------- all


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
