"""Fixtures shared by several test modules."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from releaselib.local.sandbox import Sandbox, create_sandbox


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """The bundled sample as a git repository with an earlier release and a bare ``origin``."""
    return create_sandbox(tmp_path / "sandbox")


# tests/projects/ holds fixture projects (their own tests run inside releaselib's matrix, not here).
collect_ignore_glob = ["projects/*"]
