"""The local servers really start, serve, refuse bad credentials and stop."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import logging
import os
import smtplib
import socket
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from releaselib.core.errors import ReleaseError
from releaselib.local.servers import (
    DocsServer,
    LocalServers,
    MailCatcher,
    PackageIndex,
    ServerError,
    free_port,
)

PASSWORD = "index-s3cret"


# --------------------------------------------------------------------------- helpers


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def make_sdist(dest: Path, name: str = "tinypkg", version: str = "0.1") -> Path:
    """A minimal valid sdist: ``<name>-<version>/PKG-INFO`` in a gzipped tar."""
    base = f"{name}-{version}"
    members = {
        f"{base}/PKG-INFO": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: tiny\n"
        ).encode(),
        f"{base}/pyproject.toml": f'[project]\nname = "{name}"\nversion = "{version}"\n'.encode(),
    }
    path = dest / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def twine_upload(
    index: PackageIndex, dist: Path, password: str
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "twine", "upload",
        "--non-interactive", "--disable-progress-bar",
        "--repository-url", index.upload_url,
        "-u", index.username, "-p", password,
        str(dist),
    ]  # fmt: skip
    return subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TWINE_PASSWORD": "", "TWINE_USERNAME": ""},
    )


def post_status(url: str, credentials: str | None) -> tuple[int, str | None]:
    """Status of an empty POST (pypiserver checks auth before reading the form)."""
    request = urllib.request.Request(url, data=b"", method="POST")
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("WWW-Authenticate")


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(
        parsed.hostname or "127.0.0.1", parsed.port, timeout=10
    )
    try:
        conn.request("GET", parsed.path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[PackageIndex]:
    with PackageIndex(tmp_path / "index", password=PASSWORD) as server:
        yield server


# --------------------------------------------------------------------------- free_port


def test_free_port_can_be_bound_on_localhost() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert 0 < port < 65536


# --------------------------------------------------------------------------- index


def test_index_starts_serves_and_stops(tmp_path: Path) -> None:
    index = PackageIndex(tmp_path / "index", password=PASSWORD)
    assert not port_answers(index.port)
    index.start()
    pid = index.pid
    assert pid is not None
    try:
        status, _, body = get(index.simple_url)
        assert status == 200
        assert b"Simple Index" in body
        assert index.simple_url == index.url + "simple/"
        assert index.upload_url == index.url
        assert index.url == f"http://127.0.0.1:{index.port}/"
        assert (
            f"Listening on http://127.0.0.1:{index.port}/"
            in (tmp_path / "index" / "pypiserver.log").read_text()
        )
        assert index.files() == {}
    finally:
        index.stop()
    assert not port_answers(index.port)
    assert process_gone(pid)
    assert index.pid is None
    index.stop()  # a second stop is harmless


def test_index_never_falls_back_to_pypi(index: PackageIndex) -> None:
    status, headers, _ = get(index.simple_url + "requests/")
    assert status == 404
    assert "Location" not in headers


def test_upload_auth_statuses_401_403_and_accepted(index: PackageIndex) -> None:
    # No credentials: 401 with a challenge; wrong password or user: 403;
    # right credentials pass auth (then 400, as the empty form has no :action).
    assert post_status(index.upload_url, None) == (401, 'Basic realm="pypi"')
    assert post_status(index.upload_url, "releaser:wrong")[0] == 403
    assert post_status(index.upload_url, f"someone:{PASSWORD}")[0] == 403
    assert post_status(index.upload_url, f"releaser:{PASSWORD}")[0] == 400


def test_set_password_takes_effect_without_restart(index: PackageIndex) -> None:
    pid = index.pid
    index.set_password("new-s3cret")
    assert post_status(index.upload_url, f"releaser:{PASSWORD}")[0] == 403
    assert post_status(index.upload_url, "releaser:new-s3cret")[0] == 400
    assert index.pid == pid
    with pytest.raises(ServerError):
        index.set_password("")


def test_twine_upload_with_wrong_password_is_refused_403_and_stores_nothing(
    index: PackageIndex, tmp_path: Path
) -> None:
    dist = make_sdist(tmp_path)
    before = index.files()
    result = twine_upload(index, dist, "wrong")
    assert result.returncode != 0
    assert "403 Forbidden" in result.stdout + result.stderr
    assert index.files() == before == {}
    assert get(index.simple_url + "tinypkg/")[0] == 404


def test_twine_upload_with_right_password_lands_with_sha256_on_simple_page(
    index: PackageIndex, tmp_path: Path
) -> None:
    dist = make_sdist(tmp_path)
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    result = twine_upload(index, dist, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert index.files() == {"tinypkg-0.1.tar.gz": digest}

    status, _, body = get(index.simple_url + "tinypkg/")
    assert status == 200
    link = (
        f'<a href="/packages/tinypkg-0.1.tar.gz#sha256={digest}">tinypkg-0.1.tar.gz</a>'
    )
    assert link in body.decode()
    status, _, payload = get(index.url + "packages/tinypkg-0.1.tar.gz")
    assert status == 200 and payload == dist.read_bytes()

    # Uploading the same file again is refused (no --overwrite): 400 for twine.
    again = twine_upload(index, dist, PASSWORD)
    assert again.returncode != 0
    assert "400 Bad Request" in again.stdout + again.stderr
    assert index.files() == {"tinypkg-0.1.tar.gz": digest}


def test_index_start_failure_raises_with_log_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        index = PackageIndex(tmp_path / "index", password=PASSWORD, port=port)
        with pytest.raises(ServerError) as info:
            index.start()
    assert isinstance(info.value, ReleaseError)
    assert "Address already in use" in info.value.message
    assert info.value.hint
    assert index.pid is None


def test_index_is_not_fooled_by_another_server_on_its_port(tmp_path: Path) -> None:
    with DocsServer(tmp_path / "site") as impostor:
        (tmp_path / "site" / "simple").mkdir()
        (tmp_path / "site" / "simple" / "index.html").write_text("Simple Index")
        index = PackageIndex(tmp_path / "index", password=PASSWORD, port=impostor.port)
        with pytest.raises(ServerError, match="exited"):
            index.start()
    assert index.pid is None


def test_index_requires_a_password(tmp_path: Path) -> None:
    with pytest.raises(ServerError):
        PackageIndex(tmp_path, password="")


# --------------------------------------------------------------------------- mail


def a_message(subject: str = "releaselib 2.2 released") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "releaser@example.org"
    message["To"] = "list@example.org"
    message["Subject"] = subject
    message.set_content("Version 2.2 is out.\n")
    return message


def test_mail_catcher_keeps_what_it_receives_and_stops() -> None:
    with MailCatcher() as mail:
        assert mail.host == "127.0.0.1"
        with smtplib.SMTP(mail.host, mail.port, timeout=10) as client:
            client.send_message(
                a_message(), to_addrs=["list@example.org", "cc@example.org"]
            )
        (received,) = mail.wait_for(1)
        assert received["Subject"] == "releaselib 2.2 released"
        assert received.get_content() == "Version 2.2 is out.\n"
        assert mail.received[0].mail_from == "releaser@example.org"
        assert mail.received[0].rcpt_tos == ("list@example.org", "cc@example.org")
        port = mail.port
    assert not port_answers(port)
    mail.stop()  # a second stop is harmless


def test_mail_catcher_requires_auth_when_given_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mail.log")
    with MailCatcher(username="announcer", password="mail-s3cret") as mail:
        with smtplib.SMTP(mail.host, mail.port, timeout=10) as client:
            client.login("announcer", "mail-s3cret")
            client.send_message(a_message("authenticated"))

        with (
            smtplib.SMTP(mail.host, mail.port, timeout=10) as client,
            pytest.raises(smtplib.SMTPAuthenticationError),
        ):
            client.login("announcer", "wrong")

        with smtplib.SMTP(mail.host, mail.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(a_message("anonymous"))
            assert refused.value.smtp_code == 530

        messages = mail.wait_for(1)
        assert [m["Subject"] for m in messages] == ["authenticated"]
    # aiosmtpd's own noise about AUTH without TLS and its deprecated attribute
    # is dropped; its other logging still flows.
    logged = [
        record.getMessage() for record in caplog.records if record.name == "mail.log"
    ]
    assert logged, "aiosmtpd logged nothing at all: the check below would be empty"
    assert not [m for m in logged if "deprecated" in m or "auth_require_tls" in m]


def test_mail_catcher_wait_for_times_out_with_a_count() -> None:
    with MailCatcher() as mail, pytest.raises(ServerError, match="received 0"):
        mail.wait_for(1, timeout=0.2)


def test_mail_catcher_wants_both_username_and_password() -> None:
    with pytest.raises(ServerError):
        MailCatcher(username="announcer")


def test_mail_catcher_port_taken_raises_server_error() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        with pytest.raises(ServerError):
            MailCatcher(port=blocker.getsockname()[1]).start()


# --------------------------------------------------------------------------- docs


def test_docs_server_serves_current_files_quietly_and_stops(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>pkg 2.1</h1>")
    threads_before = threading.active_count()
    with DocsServer(site) as docs:
        status, headers, body = get(docs.url)
        assert status == 200 and body == b"<h1>pkg 2.1</h1>"
        assert headers["Cache-Control"] == "no-store"
        (site / "index.html").write_text("<h1>pkg 2.2</h1>")
        assert get(docs.url + "index.html")[2] == b"<h1>pkg 2.2</h1>"
        assert get(docs.url + "missing.html")[0] == 404
        port = docs.port
    assert not port_answers(port)
    assert threading.active_count() == threads_before
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --------------------------------------------------------------------------- all


def test_local_servers_start_all_and_stop_all(tmp_path: Path) -> None:
    with LocalServers(
        tmp_path, index_password=PASSWORD, smtp_password="mail-s3cret"
    ) as servers:
        pid = servers.index.pid
        assert pid is not None
        assert get(servers.index.simple_url)[0] == 200
        assert port_answers(servers.mail.port)
        assert servers.docs.site_dir == tmp_path / "site"
        assert get(servers.docs.url)[0] == 200
        summary = servers.describe()
        for part in (
            servers.index.url,
            servers.docs.url,
            str(servers.mail.port),
            "AUTH required",
        ):
            assert part in summary
        assert PASSWORD not in summary and "mail-s3cret" not in summary
        ports = (servers.index.port, servers.mail.port, servers.docs.port)
    assert process_gone(pid)
    assert not any(port_answers(port) for port in ports)


def test_local_servers_stop_the_started_ones_when_one_fails(tmp_path: Path) -> None:
    servers = LocalServers(tmp_path, index_password=PASSWORD)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        servers.docs.port = blocker.getsockname()[1]  # the last to start will fail
        with pytest.raises(ServerError), servers:
            pytest.fail("must not get here")
    assert servers.index.pid is None
    assert not port_answers(servers.index.port)
    assert not port_answers(servers.mail.port)


def test_the_index_password_file_is_sha256_crypt_at_the_standard_rounds():
    """pypiserver checks the file's hash on every upload: 535,000 rounds (passlib's default) cost 0.4 s each.

    The password is a one-time random token of the run, so SHA-crypt's own default of 5,000 rounds
    (what glibc's crypt and mkpasswd write) is ample; the hash still verifies through passlib.
    """
    from passlib.apache import HtpasswdFile

    from releaselib.local.servers.index import _htpasswd_line

    line = _htpasswd_line("releaser", "a-one-time-token")
    user, _, hashed = line.decode().strip().partition(":")
    assert user == "releaser" and hashed.startswith("$5$") and "rounds=" not in hashed
    assert HtpasswdFile.from_string(line).check_password("releaser", "a-one-time-token")
    assert not HtpasswdFile.from_string(line).check_password("releaser", "another")
