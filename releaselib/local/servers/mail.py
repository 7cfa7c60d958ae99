"""An aiosmtpd server on 127.0.0.1 that keeps every message it receives."""

from __future__ import annotations

import contextlib
import email
import email.policy
import hmac
import logging
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from releaselib.local.servers.base import LOCALHOST, ServerError, _Server, free_port


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


