"""No secret on disk in any form: canary values through every path that writes or prints.

Each test plants a canary (a value that appears nowhere else) and checks the
real file, message or page for it.
"""

from __future__ import annotations

import base64
import errno
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.core import secrets
from releaselib.core.errors import PublishError, SecretLeak
from releaselib.phases.publish import index_files
from releaselib.record.store import FAILED, Record

CANARY = 'canary-"quote\\back<&>-7f3a'  # needs JSON, HTML and URL escaping
TOKEN = "ghp_canaryTOKEN0123456789"


def test_every_escaped_form_of_a_secret_is_found_and_redacted():
    known = {"MY_TOKEN": CANARY}
    for text in (
        json.dumps({"source": f"password = {CANARY}"}),                 # a notebook's JSON
        json.dumps({"source": f"password = {CANARY}"}, ensure_ascii=True),
        f"<pre>{secrets.html.escape(CANARY)}</pre>",                    # report.html
        "https://host/?p=" + secrets.urllib.parse.quote(CANARY, safe=""),  # a URL
        json.dumps({"x": CANARY.replace('"', "\u0022")}).replace('\\"', "\\u0022"),  # an unusual JSON escape
    ):
        assert secrets.find_secrets(text, known) == ["MY_TOKEN"], text
        redacted = secrets.redact(text, known)
        assert secrets.find_secrets(redacted, known) == [], redacted
        assert secrets.REDACTED in redacted


def test_userinfo_is_stripped_from_every_url_in_a_text():
    text = f"pushing to https://bot:{TOKEN}@git.example.org/repo.git and ssh://git@host/x, http://h/ok"
    assert secrets.strip_userinfo(text) == "pushing to https://git.example.org/repo.git and ssh://host/x, http://h/ok"
    assert secrets.url_credentials(f"https://bot:{TOKEN}@h/simple/") == ("https://h/simple/", "bot", TOKEN)


def test_a_token_in_the_remote_url_reaches_neither_record_nor_review(tmp_path):
    from releaselib.record.audit import review_text

    record = Record(tmp_path / "outputs" / "pkg" / "1.0")
    record.initialise(package="pkg", version="1.0", repo=tmp_path, remote="origin",
                      remote_url=f"https://bot:{TOKEN}@git.example.org/pkg.git")
    record.save()
    record.append({"phase": "00_preflight", "attempt": 1, "result": "succeeded", "reason": None,
                   "values": {"start": {"remote": f"https://bot:{TOKEN}@git.example.org/pkg.git"}}})

    written = (record.directory / "record.json").read_text()
    assert TOKEN not in written
    assert "https://git.example.org/pkg.git" in written
    assert TOKEN not in review_text(tmp_path / "outputs", "pkg", "1.0")
    assert Record.load(record.directory).chain_problems() == []


def test_record_json_is_scanned_an_entry_holding_a_secret_is_redacted_and_failed(tmp_path):
    record = Record(tmp_path / "rec", secrets={"TWINE_PASSWORD": CANARY})
    record.initialise(package="pkg", version="1.0", repo=tmp_path, remote="origin", remote_url=None)
    record.save()
    entry = record.append({"phase": "03_bump", "attempt": 1, "result": "succeeded", "reason": None,
                           "values": {"files_changed": [f"notes mention {CANARY}"]}})

    raw = (record.directory / "record.json").read_text()
    assert all(form not in raw for form in secrets.forms(CANARY))
    assert entry["result"] == FAILED and "TWINE_PASSWORD" in entry["reason"]
    assert Record.load(record.directory).chain_problems() == []
    # save() itself refuses to write a secret that got into the data some other way.
    record.data["created"] = CANARY
    with pytest.raises(SecretLeak, match="TWINE_PASSWORD"):
        record.save()
    assert CANARY not in (record.directory / "record.json").read_text()


def test_a_secret_inside_a_longer_parameter_value_is_refused():
    assert secrets.parameter_secrets({"next_version": f"1.2+{CANARY}"}, {"TWINE_PASSWORD": CANARY}) == ["next_version"]
    assert secrets.parameter_secrets({"next_version": "1.2+dev"}, {"TWINE_PASSWORD": CANARY}) == []


@pytest.fixture
def index_with_password() -> Iterator[str]:
    """A PEP 503 page served only with HTTP basic auth ``bot:TOKEN``; yields the base URL."""
    expected = "Basic " + base64.b64encode(f"bot:{TOKEN}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            body = b'<a href="/f/pkg-1.0.tar.gz#sha256=' + b"a" * 64 + b'">pkg-1.0.tar.gz</a>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_in_an_index_url_authenticate_and_never_reach_a_message(index_with_password):
    url = index_with_password.replace("http://", f"http://bot:{TOKEN}@") + "/simple/"
    assert index_files(url, "pkg") == {"pkg-1.0.tar.gz": "a" * 64}

    wrong = index_with_password.replace("http://", "http://bot:wrong-password-1@") + "/simple/"
    with pytest.raises(PublishError) as info:
        index_files(wrong, "pkg")
    assert "wrong-password-1" not in str(info.value) and "401" in str(info.value)

    down = f"http://bot:{TOKEN}@127.0.0.1:9/simple/"
    with pytest.raises(PublishError) as info:
        index_files(down, "pkg")
    assert TOKEN not in str(info.value) and "127.0.0.1:9" in str(info.value)


# -- the CLI edge -----------------------------------------------------------------------------


def test_a_10000_digit_version_is_one_clear_message(capsys):
    code = main(["run", "1" * 10000, "--repo", "."])
    err = capsys.readouterr().err
    assert code != 0 and "error:" in err and "TIP:" in err and "Traceback" not in err
    assert len(err) < 1000


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("boom")])
def test_an_unforeseen_error_is_one_message_with_the_log(monkeypatch, capsys, failure, tmp_path):
    import releaselib.cli as cli

    def explode(args: object) -> int:
        raise failure

    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(cli, "cmd_status", explode)
    code = main(["status", "1.0"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "error:" in err and "TIP:" in err
    logs = list(tmp_path.glob("releaselib-error-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and str(logs[0]) in " ".join(err.split())
    if isinstance(failure, OSError):
        assert "no space left" in err.lower() and "df -h" in err
