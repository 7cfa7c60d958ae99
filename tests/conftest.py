"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared helpers' asserts are rewritten too (registered before any test module imports them).
pytest.register_assert_rewrite("tests.fixtures_record", "tests.report_browser", "tests.resume_helpers",
                               "tests.green_projects", "tests.helpers")

from releaselib.core.imports import skip_iri_grammar

skip_iri_grammar()  # as the command line does, before any test module imports nbformat

from releaselib.infra.envcache import CACHE_ENV
from releaselib.local.sandbox import Sandbox, create_sandbox


def pytest_configure(config: pytest.Config) -> None:
    """One cache of kept environments (:mod:`releaselib.infra.envcache`) for the whole run, never the user's.

    Made by the main process before pytest-xdist starts its workers, which inherit it; removed at the end.
    """
    if hasattr(config, "workerinput") or CACHE_ENV in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="releaselib-test-cache-")
    os.environ[CACHE_ENV] = folder
    config.add_cleanup(lambda: (os.environ.pop(CACHE_ENV, None), shutil.rmtree(folder, ignore_errors=True)))


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


# -- running in parallel (pytest-xdist, `make test`) ---------------------------------
def _shared_fixture_scope(item: pytest.Item) -> str | None:
    """The widest scope among this test's own (tests.*) fixtures wider than a function, if any."""
    info = getattr(item, "_fixtureinfo", None)
    widest = None
    for defs in (info.name2fixturedefs.values() if info else ()):
        fixturedef = defs[-1]
        if not getattr(fixturedef.func, "__module__", "").startswith("tests."):
            continue  # pytest's own session fixtures (tmp_path_factory, ...) cost nothing
        if fixturedef.scope == "session":
            return "session"
        if fixturedef.scope in ("package", "module", "class"):
            widest = "module"
    return widest


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns the groups into the scheduler's scopes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that share an expensive fixture run on one worker; end-to-end modules start first.

    Under ``pytest -n N --dist loadgroup`` each worker builds its own copy of a
    module- or session-scoped fixture, so the tests using one go to the same
    worker (an ``xdist_group``): a module's release or servers, and the one
    released sample every record test copies, are set up once. The others are
    spread one by one. End-to-end modules (minutes each) are sent first, so
    the short tests fill in around them instead of one long test ending the
    run alone; each module's tests stay together, so its fixtures are built once.
    """
    for item in items:
        scope = _shared_fixture_scope(item)
        if scope == "session":
            item.add_marker(pytest.mark.xdist_group("session-fixtures"))
        elif scope == "module":
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
    heavy = {item.module.__name__ for item in items if item.module and item.get_closest_marker("e2e")}
    items.sort(key=lambda item: 0 if item.module and item.module.__name__ in heavy else 1)
