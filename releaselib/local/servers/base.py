"""What every local server shares: 127.0.0.1, a free port, a start/stop lifecycle."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any

from releaselib.core.errors import ReleaseError

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


