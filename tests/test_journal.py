"""The durable journal of irreversible steps."""

from __future__ import annotations

import smtplib

import pytest

from releaselib.record.journal import (
    NOT_SENT,
    SENDING,
    SENT,
    UNCERTAIN,
    append_event,
    irreversible_step,
    journal_path,
    read_journal,
    step_state,
)


def test_a_completed_step_is_sent(tmp_path):
    with irreversible_step(tmp_path, "<m@x>", phase="09_announce"):
        assert step_state(tmp_path, "<m@x>")["event"] == SENDING  # durable before the step runs
    assert step_state(tmp_path, "<m@x>")["event"] == SENT
    assert [e["event"] for e in read_journal(tmp_path)] == [SENDING, SENT]


def test_a_failure_that_proves_nothing_left_is_not_sent(tmp_path):
    with pytest.raises(smtplib.SMTPSenderRefused):
        with irreversible_step(tmp_path, "<m@x>", nothing_done=(smtplib.SMTPSenderRefused,)):
            raise smtplib.SMTPSenderRefused(550, b"no", "a@b")
    state = step_state(tmp_path, "<m@x>")
    assert state["event"] == NOT_SENT and "550" in state["detail"]


def test_any_other_failure_is_uncertain(tmp_path):
    with pytest.raises(ConnectionResetError), irreversible_step(tmp_path, "<m@x>"):
        raise ConnectionResetError("reset mid-DATA")
    assert step_state(tmp_path, "<m@x>")["event"] == UNCERTAIN


def test_a_torn_last_line_is_skipped_and_keys_are_separate(tmp_path):
    append_event(tmp_path, SENT, "<a@x>")
    append_event(tmp_path, SENDING, "<b@x>")
    with open(journal_path(tmp_path), "ab") as handle:
        handle.write(b'{"event": "sent", "key": "<b@x>"')  # the crash came mid-write
    assert step_state(tmp_path, "<a@x>")["event"] == SENT
    assert step_state(tmp_path, "<b@x>")["event"] == SENDING
    assert step_state(tmp_path, "<c@x>") is None
    assert len(read_journal(tmp_path)) == 2
