"""The announcement: rendered from the changelog, sent once over real SMTP, previewed in dry run."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from releaselib.phases.announce import (
    PREVIEW_NAME,
    SENT_MARKER_NAME,
    install_command,
    plan_announcement,
    render_announcement,
    write_preview,
)
from releaselib.core.config_types import AnnounceConfig, Config, PublishConfig
from releaselib.engine.context import Release
from releaselib.core.errors import AnnounceError, SecretLeak
from releaselib.core.plan import ALREADY_DONE, DONE, WOULD_DO
from releaselib.record.store import FAILED, Record
from releaselib.local.servers import MailCatcher, free_port
from releaselib.record.journal import SENDING, SENT, append_event, step_state

CANARY = "canary-Pw-7f3e9b1c"
PASSWORD_ENV = "TEST_ANNOUNCE_SMTP_PASSWORD"
USER = "releaser"
LIST = "bsonlite-announce@example.org"

CHANGELOG = """\
Changelog
=========

Changes in Version 1.1
----------------------

- Fix \\*args handling in :func:`bsonlite.encode`.
- Support the \\`bytes\\` type and the \\| operator_ in\\_place.

Changes in Version 1.0
----------------------

- The C extension packs 32-bit integers.
"""


# --------------------------------------------------------------------------- helpers


def make_project(root: Path, template: str | None = None) -> Path:
    (root / "doc").mkdir(parents=True, exist_ok=True)
    (root / "doc" / "changelog.rst").write_text(CHANGELOG, encoding="utf-8")
    if template is not None:
        (root / "announcement.txt").write_text(template, encoding="utf-8")
    return root


def make_release(
    root: Path,
    *,
    port: int = 25,
    dry_run: bool = False,
    user: str | None = USER,
    starttls: bool = False,
    index_url: str = "http://127.0.0.1:8080/simple/",
    template: str | None = None,
    to: tuple[str, ...] = (LIST,),
) -> Release:
    announce = AnnounceConfig(
        smtp_host="127.0.0.1", smtp_port=port, starttls=starttls, user=user, password_env=PASSWORD_ENV,
        sender="Release Manager <release@example.org>", to=to,
        template="announcement.txt" if template is not None else None,
        links=("Docs: https://bsonlite.example.org/", "Source: https://git.example.org/bsonlite"),
    )
    config = Config(
        root=make_project(root, template), package="bsonlite", import_name="bsonlite",
        changelog="doc/changelog.rst", publish=PublishConfig(index_url=index_url), announce=announce,
        secrets=(PASSWORD_ENV,),
    )
    return Release(version="1.1", repo=root, config=config, dry_run=dry_run, record_dir=root / "outputs" / "1.1")


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, CANARY)
    return CANARY


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    with MailCatcher(username=USER, password=CANARY) as server:
        yield server


def sent_nothing(catcher: MailCatcher) -> bool:
    return catcher.messages == []


# --------------------------------------------------------------------------- rendering


def test_rendered_with_the_changelog_section_install_line_and_links(tmp_path: Path) -> None:
    announcement = render_announcement(make_release(tmp_path))

    assert announcement.subject == "[ANN] bsonlite 1.1 released"
    assert announcement.to == (LIST,)
    body = announcement.body
    assert body.startswith("We are pleased to announce the release of bsonlite 1.1.")
    # The section of 1.1 as plain text (drafter's escapes and Sphinx roles removed), and not 1.0's.
    assert "- Fix *args handling in bsonlite.encode." in body
    assert "- Support the `bytes` type and the | operator_ in_place." in body
    assert "32-bit" not in body
    assert "pip install bsonlite==1.1 --index-url http://127.0.0.1:8080/simple/" in body
    assert "- Docs: https://bsonlite.example.org/" in body
    assert "$" not in body and "\n\n\n" not in body


def test_message_id_is_the_same_on_every_attempt_and_in_the_senders_domain(tmp_path: Path) -> None:
    first = render_announcement(make_release(tmp_path))
    again = render_announcement(make_release(tmp_path))
    other_list = render_announcement(make_release(tmp_path, to=("someone@example.net",)))

    assert first.message_id == again.message_id
    assert first.message_id.startswith("<bsonlite-1.1.") and first.message_id.endswith("@example.org>")
    assert other_list.message_id != first.message_id


def test_install_command_names_the_index_only_when_it_is_not_pypi() -> None:
    assert install_command("bsonlite", "1.1", "https://pypi.org/simple/") == "pip install bsonlite==1.1"
    assert install_command("bsonlite", "1.1", "https://pypi.org/simple") == "pip install bsonlite==1.1"
    assert (
        install_command("bsonlite", "1.1", "http://127.0.0.1:9/simple/")
        == "pip install bsonlite==1.1 --index-url http://127.0.0.1:9/simple/"
    )


def test_project_template_is_used_and_an_unknown_placeholder_is_an_error(tmp_path: Path) -> None:
    announcement = render_announcement(make_release(tmp_path / "a", template="$package $version from $index_url\n"))
    assert announcement.body == "bsonlite 1.1 from http://127.0.0.1:8080/simple/\n"

    with pytest.raises(AnnounceError, match=r"unknown placeholder \$verison") as caught:
        render_announcement(make_release(tmp_path / "b", template="$package $verison\n"))
    assert "$version" in (caught.value.hint or "")


def test_missing_section_is_a_changelog_error(tmp_path: Path) -> None:
    from releaselib.core.errors import ChangelogError

    release = make_release(tmp_path)
    (tmp_path / "doc" / "changelog.rst").write_text(CHANGELOG.split("Changes in Version 1.1")[0]
                                                     + "Changes in Version 1.0\n----------------------\n\n- x\n")
    with pytest.raises(ChangelogError, match="no section for 1.1"):
        render_announcement(release)


# --------------------------------------------------------------------------- sending


def test_sent_exactly_once_with_auth(tmp_path: Path, password: str, catcher: MailCatcher) -> None:
    release = make_release(tmp_path, port=catcher.port)
    announcement = render_announcement(release)
    plan = plan_announcement(release, announcement)
    assert str(plan).splitlines()[1].endswith(
        f"send '[ANN] bsonlite 1.1 released' to {LIST} via 127.0.0.1:{catcher.port} (login releaser)"
    )

    assert release.execute(plan).outcomes == [DONE]
    [message] = catcher.wait_for(1)
    assert message["Subject"] == "[ANN] bsonlite 1.1 released"
    assert message["Message-ID"] == announcement.message_id
    assert message["To"] == LIST
    assert "- Fix *args handling in bsonlite.encode." in message.get_content()
    assert catcher.received[0].rcpt_tos == (LIST,)
    assert catcher.received[0].mail_from == "release@example.org"
    assert release.values["message_id"] == announcement.message_id
    assert release.values["sent_message_id"] == announcement.message_id

    # The same plan again (a cell re-run) sends nothing more.
    again = plan_announcement(release, render_announcement(release))
    assert release.execute(again).outcomes == [ALREADY_DONE]
    # Nor does the notebook run again by hand, outside the runner: a new kernel,
    # no record.json yet, only the marker written beside the record.
    assert not (release.record_dir / "record.json").exists()
    by_hand = make_release(tmp_path, port=catcher.port)
    assert by_hand.execute(plan_announcement(by_hand)).outcomes == [ALREADY_DONE]
    marker = json.loads((release.record_dir / SENT_MARKER_NAME).read_text())
    assert marker["message_id"] == announcement.message_id and marker["to"] == [LIST]
    assert len(catcher.messages) == 1


def test_a_resume_after_a_failed_attempt_that_sent_does_not_send_again(
    tmp_path: Path, password: str, catcher: MailCatcher
) -> None:
    release = make_release(tmp_path, port=catcher.port)
    announcement = render_announcement(release)
    # The record of an attempt that sent the mail and then failed (e.g. writing the preview).
    record = Record(release.record_dir, {})
    record.initialise(package="bsonlite", version="1.1", repo=tmp_path, remote="origin", remote_url=None)
    record.append({"phase": "09_announce", "attempt": 1, "result": FAILED,
                   "values": {"message_id": announcement.message_id, "sent_message_id": announcement.message_id}})

    resumed = make_release(tmp_path, port=catcher.port)
    plan = resumed.execute(plan_announcement(resumed))
    assert plan.outcomes == [ALREADY_DONE]
    assert sent_nothing(catcher)


def test_an_interrupted_send_is_settled_by_the_maintainer_who_checked_the_archive(
    tmp_path: Path, password: str, catcher: MailCatcher
) -> None:
    """A kill while sending leaves "sending": the resume stops; ``delivered`` or ``resend`` settles it."""
    release = make_release(tmp_path, port=catcher.port)
    announcement = render_announcement(release)
    append_event(release.record_dir, SENDING, announcement.message_id, phase="09_announce")

    with pytest.raises(AnnounceError) as stopped:
        release.execute(plan_announcement(release, announcement))
    assert "-p delivered=true" in stopped.value.hint and "-p resend=true" in stopped.value.hint
    with pytest.raises(AnnounceError, match="not both"):
        plan_announcement(release, announcement, resend=True, delivered=True)

    # The archive shows it: nothing is sent, and the journal says who settled it.
    confirmed = make_release(tmp_path, port=catcher.port)
    assert confirmed.execute(plan_announcement(confirmed, announcement, delivered=True)).outcomes == [ALREADY_DONE]
    assert sent_nothing(catcher)
    state = step_state(release.record_dir, announcement.message_id)
    assert state["event"] == SENT and "delivered=true" in state["detail"]
    # From then on it is simply sent: a plain resume does nothing either.
    again = make_release(tmp_path, port=catcher.port)
    assert again.execute(plan_announcement(again, announcement)).outcomes == [ALREADY_DONE]
    assert sent_nothing(catcher)


def test_delivered_without_an_interrupted_send_is_refused(tmp_path: Path, password: str, catcher: MailCatcher) -> None:
    release = make_release(tmp_path, port=catcher.port)
    with pytest.raises(AnnounceError, match="no attempt was interrupted while sending"):
        release.execute(plan_announcement(release, delivered=True))
    assert sent_nothing(catcher)


def test_wrong_password_is_an_announce_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catcher: MailCatcher
) -> None:
    wrong = "not-the-password-123"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    release = make_release(tmp_path, port=catcher.port)
    with pytest.raises(AnnounceError) as caught:
        release.execute(plan_announcement(release))

    assert f"127.0.0.1:{catcher.port}" in caught.value.message and "535" in caught.value.message
    assert PASSWORD_ENV in (caught.value.hint or "")
    assert wrong not in str(caught.value) and CANARY not in str(caught.value)
    assert sent_nothing(catcher)
    assert "sent_message_id" not in release.values
    assert not (release.record_dir / SENT_MARKER_NAME).exists()
    # The Message-ID was recorded before the attempt, so the record shows one was prepared.
    assert "message_id" in release.values


def test_missing_password_variable_is_an_announce_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catcher: MailCatcher
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    release = make_release(tmp_path, port=catcher.port)
    with pytest.raises(AnnounceError, match=PASSWORD_ENV):
        release.execute(plan_announcement(release))
    assert sent_nothing(catcher)


def test_server_down_names_host_and_port(tmp_path: Path, password: str) -> None:
    port = free_port()
    release = make_release(tmp_path, port=port)
    with pytest.raises(AnnounceError) as caught:
        release.execute(plan_announcement(release))
    assert caught.value.message == f"could not connect to SMTP server 127.0.0.1:{port}: connection refused"
    assert "smtp-host" in (caught.value.hint or "") and "--resume" in (caught.value.hint or "")


def test_starttls_against_a_server_without_it(tmp_path: Path, password: str, catcher: MailCatcher) -> None:
    release = make_release(tmp_path, port=catcher.port, starttls=True)
    with pytest.raises(AnnounceError, match="does not support STARTTLS"):
        release.execute(plan_announcement(release))
    assert sent_nothing(catcher)


class _RefuseRecipients:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.endswith("@example.org"):
            return "550 5.1.1 no such list"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.delivered = list(envelope.rcpt_tos)
        return "250 OK"


def test_refused_recipients(tmp_path: Path) -> None:
    handler = _RefuseRecipients()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), server_hostname="test", ready_timeout=10)
    controller.start()  # type: ignore[no-untyped-call]
    try:
        release = make_release(tmp_path / "all", port=controller.port, user=None)
        with pytest.raises(AnnounceError, match=f"refused every recipient: {LIST} \\(550"):
            release.execute(plan_announcement(release))
        assert "sent_message_id" not in release.values

        # Some accepted: the message has left, so it is recorded as sent, and the refusal reported.
        release = make_release(tmp_path / "some", port=controller.port, user=None, to=(LIST, "ok@example.net"))
        with pytest.raises(AnnounceError, match="was sent, but .* refused some recipients"):
            release.execute(plan_announcement(release))
        assert handler.delivered == ["ok@example.net"]
        assert release.values["sent_message_id"] == render_announcement(release).message_id
    finally:
        controller.stop()  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------- dry run and preview


def test_dry_run_sends_nothing_and_writes_the_preview(tmp_path: Path, password: str, catcher: MailCatcher) -> None:
    release = make_release(tmp_path, port=catcher.port, dry_run=True)
    announcement = render_announcement(release)
    plan = release.execute(plan_announcement(release, announcement))
    assert plan.outcomes == [WOULD_DO]
    assert "sent_message_id" not in release.values

    path = write_preview(release, announcement)
    assert path == release.record_dir / PREVIEW_NAME
    text = path.read_text(encoding="utf-8")
    parsed = email.message_from_string(text, policy=email.policy.default)
    assert parsed["Subject"] == "[ANN] bsonlite 1.1 released"
    assert parsed["Message-ID"] == announcement.message_id
    assert parsed["From"] == "Release Manager <release@example.org>"
    assert "- Fix *args handling" in parsed.get_content()
    # Nothing reached the server: a real message now is the first it sees.
    assert sent_nothing(catcher)


def test_password_is_nowhere_in_the_preview_or_the_announcement(
    tmp_path: Path, password: str, catcher: MailCatcher
) -> None:
    release = make_release(tmp_path, port=catcher.port)
    announcement = render_announcement(release)
    plan = release.execute(plan_announcement(release, announcement))
    path = write_preview(release, announcement)

    assert CANARY not in path.read_text(encoding="utf-8")
    assert CANARY not in repr(announcement) and CANARY not in str(announcement)
    assert CANARY not in announcement._repr_html_()
    assert CANARY not in str(plan)
    assert CANARY not in catcher.messages[0].as_string()


def test_a_secret_in_the_changelog_is_never_written_or_sent(
    tmp_path: Path, password: str, catcher: MailCatcher
) -> None:
    release = make_release(tmp_path, port=catcher.port)
    changelog = tmp_path / "doc" / "changelog.rst"
    changelog.write_text(CHANGELOG.replace("32-bit", "x").replace("in\\_place.", f"in\\_place {CANARY}."))
    announcement = render_announcement(release)

    with pytest.raises(SecretLeak, match=PASSWORD_ENV):
        write_preview(release, announcement)
    assert not (release.record_dir / PREVIEW_NAME).exists()
    with pytest.raises(SecretLeak):
        release.execute(plan_announcement(release, announcement))
    assert sent_nothing(catcher)


def test_no_smtp_host_or_sender_is_an_announce_error(tmp_path: Path) -> None:
    import dataclasses

    release = make_release(tmp_path)
    no_host = dataclasses.replace(release.config, announce=dataclasses.replace(release.config.announce, smtp_host=None))
    with pytest.raises(AnnounceError, match="No SMTP server"):
        plan_announcement(dataclasses.replace(release, config=no_host))
    no_sender = dataclasses.replace(release.config, announce=dataclasses.replace(release.config.announce, sender=None))
    with pytest.raises(AnnounceError, match="No sender"):
        render_announcement(dataclasses.replace(release, config=no_sender))


def test_dry_run_of_the_sample_quotes_the_draft_a_real_run_would_write(tmp_path: Path) -> None:
    import dataclasses

    from releaselib.infra.config import load_config
    from releaselib.local.sandbox import create_sandbox

    sandbox = create_sandbox(tmp_path)
    config = load_config(sandbox.repo)
    config = dataclasses.replace(config, announce=AnnounceConfig(
        smtp_host="127.0.0.1", sender="Release Manager <release@example.org>", to=(LIST,)))
    release = Release(version="1.1", repo=sandbox.repo, config=config, dry_run=True,
                      record_dir=tmp_path / "outputs" / "bsonlite" / "1.1-dry-run")
    announcement = render_announcement(release)
    commits = [line for line in announcement.body.splitlines() if line.startswith("- ")]
    # The three commits the sandbox made since 1.0, drafted from the git log; nothing was written.
    assert len(commits) == 3, announcement.body
    assert "pip install bsonlite==1.1\n" in announcement.body  # PyPI: no --index-url
    assert "Changes in Version 1.1" not in (sandbox.repo / "doc" / "changelog.rst").read_text()
