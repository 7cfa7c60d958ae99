"""The docs check against a real HTTP server: found, found later, timeout, errors, dry run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from releaselib.core.config_types import Config, DocsCheckConfig
from releaselib.engine.context import Release
from releaselib.phases.docs import DocsResult, shows_version, wait_for_docs
from releaselib.core.errors import DocsError
from releaselib.local.servers import DocsServer, free_port

# --------------------------------------------------------------------------- helpers


def write_page(site: Path, version: str) -> None:
    """The page the sandbox's docs hook builds: title and h1 name the version."""
    site.mkdir(parents=True, exist_ok=True)
    title = f"bsonlite {version} documentation"
    (site / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>{title}</title>"
        f"<script>var latest = '9.9';</script></head>"
        f"<body><h1>{title}</h1><p>Built from commit <code>abc123</code>.</p></body></html>\n",
        encoding="utf-8",
    )


def make_release(tmp_path: Path, version: str, url: str | None, *, dry_run: bool = False,
                 timeout: float = 5.0, interval: float = 1.0) -> Release:
    config = Config(
        root=tmp_path, package="bsonlite", import_name="bsonlite",
        docs_check=DocsCheckConfig(url=url, timeout=timeout, interval=interval),
    )
    return Release(version=version, repo=tmp_path, config=config, dry_run=dry_run, record_dir=tmp_path / "record")


class FakeTime:
    """A clock that moves only when the code under test sleeps; ``on_sleep`` runs at each sleep."""

    def __init__(self, on_sleep: Callable[[int], None] | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    write_page(path, "1.0+dev")
    return path


@pytest.fixture
def docs_server(site: Path) -> Iterator[DocsServer]:
    with DocsServer(site) as server:
        yield server


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("bsonlite 1.1 documentation", True),
        ("Release v1.1.", True),
        ("(1.1)", True),
        ("bsonlite 1.10 documentation", False),
        ("bsonlite 1.1+dev documentation", False),
        ("bsonlite 1.1.2", False),
        ("bsonlite 21.1", False),
        ("1.1rc1", False),
        ("1.1-dev", False),
    ],
)
def test_version_is_matched_as_a_whole_token(text: str, shown: bool) -> None:
    assert shows_version(text, "1.1") is shown


def test_docs_found_immediately(tmp_path: Path, site: Path, docs_server: DocsServer) -> None:
    write_page(site, "1.1")
    fake = FakeTime()
    result = wait_for_docs(make_release(tmp_path, "1.1", docs_server.url), clock=fake.clock, sleep=fake.sleep)

    assert result.found and result.attempts == 1 and fake.sleeps == []
    assert result.title == "bsonlite 1.1 documentation"
    assert "1.1" in (result.excerpt or "")
    # Scripts are not visible text: the 9.9 in the script is not reported.
    assert "9.9" not in result.versions_seen
    record = result.as_record()
    assert record["found"] is True and record["url"] == docs_server.url and record["skipped"] is False
    assert "shows 1.1" in str(result) and "shows 1.1" in result._repr_html_()


def test_docs_found_after_the_page_changes_mid_poll(tmp_path: Path, site: Path, docs_server: DocsServer) -> None:
    def rebuild_on_second_sleep(count: int) -> None:
        if count == 2:
            write_page(site, "1.1")

    fake = FakeTime(rebuild_on_second_sleep)
    release = make_release(tmp_path, "1.1", docs_server.url, timeout=60, interval=5)
    result = wait_for_docs(release, clock=fake.clock, sleep=fake.sleep)

    assert result.found
    assert result.attempts == 3
    assert fake.sleeps == [5, 5]
    assert result.elapsed == pytest.approx(10)


def test_timeout_names_the_url_and_what_the_page_showed(tmp_path: Path, docs_server: DocsServer) -> None:
    # Real clock and sleep, a short deadline: the loop really ends.
    release = make_release(tmp_path, "1.1", docs_server.url, timeout=0.3, interval=0.05)
    with pytest.raises(DocsError) as caught:
        wait_for_docs(release)

    message = str(caught.value)
    assert docs_server.url in caught.value.message
    assert "showed 1.0+dev" in caught.value.message
    assert "bsonlite 1.0+dev documentation" in caught.value.message
    assert "releaselib run 1.1 --resume" in (caught.value.hint or "")
    assert "docs build" in message


def test_1_10_on_the_page_is_not_1_1(tmp_path: Path, site: Path, docs_server: DocsServer) -> None:
    write_page(site, "1.10")
    fake = FakeTime()
    with pytest.raises(DocsError, match=r"showed 1\.10\b"):
        wait_for_docs(make_release(tmp_path, "1.1", docs_server.url, timeout=3, interval=1),
                      clock=fake.clock, sleep=fake.sleep)
    assert len(fake.sleeps) == 3  # polled until the deadline, never mistaking 1.10 for 1.1

    result = wait_for_docs(make_release(tmp_path, "1.10", docs_server.url), clock=fake.clock, sleep=fake.sleep)
    assert result.found and result.attempts == 1


def test_connection_refused_is_retried_until_the_server_comes_up(tmp_path: Path, site: Path) -> None:
    write_page(site, "1.1")
    port = free_port()
    server = DocsServer(site, port=port)

    def start_on_second_sleep(count: int) -> None:
        if count == 2:
            server.start()

    fake = FakeTime(start_on_second_sleep)
    try:
        result = wait_for_docs(make_release(tmp_path, "1.1", f"http://127.0.0.1:{port}/", timeout=60, interval=2),
                               clock=fake.clock, sleep=fake.sleep)
    finally:
        server.stop()
    assert result.found and result.attempts == 3 and result.error is None


def test_connection_refused_until_the_deadline_reports_the_last_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    fake = FakeTime()
    with pytest.raises(DocsError) as caught:
        wait_for_docs(make_release(tmp_path, "1.1", url, timeout=4, interval=1), clock=fake.clock, sleep=fake.sleep)
    assert url in caught.value.message
    assert "connection refused" in caught.value.message
    assert len(fake.sleeps) == 4


def test_http_error_is_retried_then_reported(tmp_path: Path, site: Path, docs_server: DocsServer) -> None:
    url = docs_server.url + "missing/page.html"

    def create_page_on_first_sleep(count: int) -> None:
        if count == 1:
            write_page(site / "missing", "1.1")
            (site / "missing" / "index.html").rename(site / "missing" / "page.html")

    fake = FakeTime(create_page_on_first_sleep)
    result = wait_for_docs(make_release(tmp_path, "1.1", url, timeout=10, interval=1), clock=fake.clock, sleep=fake.sleep)
    assert result.found and result.attempts == 2

    fake = FakeTime()
    with pytest.raises(DocsError, match="HTTP 404"):
        wait_for_docs(make_release(tmp_path, "1.1", docs_server.url + "gone.html", timeout=2, interval=1),
                      clock=fake.clock, sleep=fake.sleep)


def test_dry_run_fetches_once_and_does_not_fail(tmp_path: Path, docs_server: DocsServer) -> None:
    fake = FakeTime()
    result = wait_for_docs(make_release(tmp_path, "1.1", docs_server.url, dry_run=True, timeout=600),
                           clock=fake.clock, sleep=fake.sleep)
    assert not result.found and result.attempts == 1 and fake.sleeps == []
    assert result.versions_seen[0] == "1.0+dev"
    assert "dry run" in str(result) and "1.0+dev" in str(result) and "600" in str(result)
    assert result.as_record()["dry_run"] is True

    # A dry run against a server that is down reports it and still does not raise.
    down = wait_for_docs(make_release(tmp_path, "1.1", f"http://127.0.0.1:{free_port()}/", dry_run=True),
                         clock=fake.clock, sleep=fake.sleep)
    assert not down.found and down.error == "connection refused" and fake.sleeps == []


def test_no_url_configured_is_skipped_not_an_error(tmp_path: Path) -> None:
    result = wait_for_docs(make_release(tmp_path, "1.1", None))
    assert isinstance(result, DocsResult)
    assert result.skipped and not result.found and result.attempts == 0
    assert str(result) == "no docs URL configured; skipped"
    assert result.as_record()["skipped"] is True


def test_a_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match="not an http"):
        wait_for_docs(make_release(tmp_path, "1.1", "ftp://example.org/docs/"))


def test_version_only_in_the_title_counts(tmp_path: Path, site: Path, docs_server: DocsServer) -> None:
    (site / "index.html").write_text("<html><head><title>bsonlite 1.1</title></head><body><p>Welcome.</p></body></html>")
    result = wait_for_docs(make_release(tmp_path, "1.1", docs_server.url))
    assert result.found and result.excerpt == "bsonlite 1.1"


# --------------------------------------------------------------------------- the version the page declares (issue 10)


def _write(site: Path, body: str) -> None:
    (site / "index.html").write_text(body, encoding="utf-8")


def test_a_page_declaring_the_dev_version_fails_though_its_changelog_names_the_new_one(
    tmp_path: Path, site: Path, docs_server: DocsServer
) -> None:
    _write(site, "<html><head><title>bsonlite 1.1+dev documentation</title></head><body>"
                 "<h1>bsonlite 1.1+dev documentation</h1><h2>Changelog</h2>"
                 "<h3>Changes in Version 1.1</h3><p>Faster.</p></body></html>")
    fake = FakeTime()
    with pytest.raises(DocsError, match=r"declares 'bsonlite 1\.1\+dev documentation'"):
        wait_for_docs(make_release(tmp_path, "1.1", docs_server.url, timeout=2, interval=1),
                      clock=fake.clock, sleep=fake.sleep)


@pytest.mark.parametrize(
    ("head", "body", "found"),
    [
        ('<meta name="docsearch:version" content="1.1">', "<p>see 1.0</p>", True),
        ('<meta name="version" content="1.0">', "<h2>Changelog</h2><p>1.1: faster</p>", False),
        ("", '<div class="version">1.1</div><p>Changelog: 1.0</p>', True),
        ("", '<span class="rst-current-version">v1.0</span><p>New in 1.1</p>', False),
        ("", '<select class="version-switcher"><option selected>1.1</option><option>1.0</option></select>', True),
        ("", '<select class="version-switcher"><option>1.1</option><option selected>1.0</option></select>', False),
        ("", "<p>Nothing declares a version; the text says 1.1.</p>", True),
    ],
)
def test_declared_version_sources(tmp_path: Path, site: Path, docs_server: DocsServer,
                                  head: str, body: str, found: bool) -> None:
    _write(site, f"<html><head><title>bsonlite docs</title>{head}</head><body>{body}</body></html>")
    fake = FakeTime()
    release = make_release(tmp_path, "1.1", docs_server.url, dry_run=True)
    assert wait_for_docs(release, clock=fake.clock, sleep=fake.sleep).found is found


def test_a_configured_version_pattern_is_what_the_page_declares(
    tmp_path: Path, site: Path, docs_server: DocsServer
) -> None:
    _write(site, "<html><head><title>bsonlite docs</title></head><body><p>Release: 1.0</p>"
                 "<p>Changelog: 1.1 is coming</p></body></html>")
    config = Config(root=tmp_path, package="bsonlite", import_name="bsonlite",
                    docs_check=DocsCheckConfig(url=docs_server.url, version_pattern=r"Release: ([\d.]+)"))
    release = Release(version="1.1", repo=tmp_path, config=config, dry_run=True, record_dir=tmp_path / "record")
    result = wait_for_docs(release)
    assert not result.found and result.declared == ("1.0",)
