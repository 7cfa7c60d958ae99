"""Render the release announcement and send it over SMTP.

Seed step 12: "Announce!" The message is rendered from a template (the
project's ``[tool.releaselib.announce] template``, else the bundled
``templates/announcement.txt``) with :class:`string.Template` placeholders:
``$package``, ``$version``, ``$changelog`` (this version's changelog section),
``$install`` (the pip command), ``$links`` and ``$index_url``.

Sending is the one irreversible step, so it is made safe to repeat: the
Message-ID is a function of the release (package, version, recipients) and is
recorded before the message is sent; the attempt that sends it records
``sent_message_id``; a resumed phase finds that value in the record and does
not mail the list twice. The SMTP password comes from the environment
variable the configuration names, and goes nowhere but the SMTP login.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import smtplib
import ssl
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from releaselib.core.errors import AnnounceError, SecretLeak
from releaselib.core.plan import Action, Plan
from releaselib.core.registry import ANNOUNCE
from releaselib.core.secrets import find_secrets, secret_values
from releaselib.phases.changelog import (
    MARKDOWN,
    changelog_format,
    changelog_path,
    find_section,
    release_notes,
    section_text,
)
from releaselib.record.journal import (
    SENDING,
    SENT,
    UNCERTAIN,
    append_event,
    irreversible_step,
    step_state,
)
from releaselib.record.store import Record, write_atomic

if TYPE_CHECKING:
    from releaselib.engine.context import Release

__all__ = [
    "BUNDLED_TEMPLATE",
    "PHASE",
    "PREVIEW_NAME",
    "SENT_MARKER_NAME",
    "Announcement",
    "SendAnnouncement",
    "install_command",
    "plan_announcement",
    "render_announcement",
    "sent_message_ids",
    "write_preview",
]

PHASE = ANNOUNCE
PREVIEW_NAME = "announcement.eml"
#: Written beside the record the moment the message has left: a notebook run by
#: hand (no runner, so no record.json entry yet) must not mail the list twice.
SENT_MARKER_NAME = "announcement-sent.json"
BUNDLED_TEMPLATE = Path(__file__).resolve().parent / "templates" / "announcement.txt"
SMTP_TIMEOUT = 30.0
PLACEHOLDERS = ("package", "version", "changelog", "install", "links", "index_url")

_PYPI_INDEXES = {"https://pypi.org/simple", "https://pypi.python.org/simple"}


@dataclass(frozen=True)
class Announcement:
    """One rendered announcement: everything the mail holds, and nothing else (no credentials)."""

    subject: str
    body: str
    sender: str
    to: tuple[str, ...]
    message_id: str
    date: str = field(default_factory=lambda: formatdate(localtime=True))

    def to_message(self) -> EmailMessage:
        """The message as it is sent: headers and a plain-text UTF-8 body.

        Raises :class:`AnnounceError` when a header cannot be written (e.g. a
        newline in the subject).
        """
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = ", ".join(self.to)
            message["Subject"] = self.subject
            message["Date"] = self.date
            message["Message-ID"] = self.message_id
            message.set_content(self.body, charset="utf-8")
        except (ValueError, TypeError) as exc:
            raise AnnounceError(
                f"The announcement's headers are not valid: {exc}",
                hint="Check `subject`, `sender` and `to` in [tool.releaselib.announce] (one line each, mail addresses).",
            ) from exc
        return message

    def as_text(self) -> str:
        """The whole message (headers, blank line, body) as an ``.eml`` file holds it."""
        return self.to_message().as_string(policy=SMTP_POLICY.clone(linesep="\n"))

    def __str__(self) -> str:
        return (
            f"From: {self.sender}\nTo: {', '.join(self.to)}\nSubject: {self.subject}\n"
            f"Message-ID: {self.message_id}\n\n{self.body}"
        )

    # A notebook's text/plain output (what a reviewer reads) shows the message, not a dataclass dump.
    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td><code>{html.escape(value)}</code></td></tr>"
            for name, value in (
                ("From", self.sender),
                ("To", ", ".join(self.to)),
                ("Subject", self.subject),
                ("Message-ID", self.message_id),
            )
        )
        return f"<table><tbody>{rows}</tbody></table><pre>{html.escape(self.body)}</pre>"


# --------------------------------------------------------------------------- rendering


def install_command(package: str, version: str, index_url: str | None) -> str:
    """``pip install <package>==<version>``, with ``--index-url`` when the index is not PyPI."""
    command = f"pip install {package}=={version}"
    if index_url and index_url.rstrip("/") not in _PYPI_INDEXES:
        command += f" --index-url {index_url}"
    return command


_ROLE = re.compile(r":[\w-]+(?::[\w-]+)?:`~?(?:([^`<]*?)\s*<[^`>]*>|([^`]+))`")


def _plain_rst(text: str) -> str:
    # A plain-text mail reads ":func:`pkg.encode`" as noise: keep the role's
    # text (or its title, for "title <target>"). Then drop the escapes the
    # changelog drafter adds to commit subjects (\*, \`, \|, \_, \\).
    text = _ROLE.sub(lambda m: m.group(1) or m.group(2), text)
    return re.sub(r"\\([\\*`|_:])", r"\1", text)


def _changes(release: Release) -> str:
    path = changelog_path(release)
    if path is None:
        return "(no changelog is kept for this project)"
    if release.dry_run and find_section(path, release.version) is None:
        # A dry run wrote no section; quote the draft a real run would write.
        body = release_notes(release)
    else:
        body = section_text(path, release.version)
    return body if changelog_format(path) == MARKDOWN else _plain_rst(body)


def _links(links: tuple[str, ...]) -> str:
    if not links:
        return ""
    return "Links:\n\n" + "\n".join(f"- {link}" for link in links)


def _template_text(release: Release) -> tuple[str, str]:
    """The template's text and where it came from (for messages)."""
    name = release.config.announce.template
    path = Path(release.config.root) / name if name else BUNDLED_TEMPLATE
    try:
        return path.read_text(encoding="utf-8"), str(name or path)
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnounceError(
            f"Cannot read the announcement template {name or path}: {exc}",
            hint="Fix or remove `template` in [tool.releaselib.announce] (without it the bundled template is used).",
        ) from exc


def message_id_for(package: str, version: str, sender: str, to: tuple[str, ...]) -> str:
    """The Message-ID of this release's announcement: the same on every attempt.

    :func:`email.utils.make_msgid` mixes in the time and a random number, so a
    resumed phase could not recognise the message an earlier attempt sent;
    this one is derived from the release alone, in the domain of the sender.
    """
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256("\0".join([package, version, *sorted(to)]).encode()).hexdigest()[:12]
    local = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{package}-{version}").strip("-.")
    return f"<{local}.announce.{digest}@{domain}>"


def render_announcement(release: Release) -> Announcement:
    """Render the announcement of ``release`` from the project's or the bundled template.

    The body quotes this version's changelog section (in a dry run with no
    section yet, the draft a real run would write), with the rst escapes the
    drafter adds removed. Rendering reads files only; nothing is sent.

    Raises :class:`AnnounceError` when ``sender`` or ``to`` is not configured,
    the template cannot be read or uses an unknown placeholder, and
    :class:`~releaselib.core.errors.ChangelogError` when the changelog has no
    section for the version.
    """
    config = release.config
    announce = config.announce
    if not announce.sender:
        raise AnnounceError(
            "No sender is configured for the announcement.",
            hint='Set sender = "Your Name <you@example.org>" in [tool.releaselib.announce].',
        )
    if not announce.to:
        raise AnnounceError(
            "No recipients are configured for the announcement.",
            hint='Set to = ["project-announce@example.org"] in [tool.releaselib.announce].',
        )
    template, source = _template_text(release)
    values = {
        "package": config.package,
        "version": release.version,
        "changelog": _changes(release).strip("\n"),
        "install": install_command(config.package, release.version, config.publish.index_url),
        "links": _links(tuple(announce.links)),
        "index_url": config.publish.index_url,
    }
    try:
        body = string.Template(template).substitute(values)
    except KeyError as exc:
        raise AnnounceError(
            f"The announcement template {source} uses an unknown placeholder ${exc.args[0]}.",
            hint="Use only " + ", ".join(f"${name}" for name in PLACEHOLDERS) + " (write $$ for a dollar sign).",
        ) from exc
    except ValueError as exc:
        raise AnnounceError(
            f"The announcement template {source} is not a valid string.Template: {exc}",
            hint="Write $$ for a literal dollar sign; placeholders are $name or ${name}.",
        ) from exc
    # An empty $links (or $changelog) would leave a gap of several blank lines.
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
    try:
        subject = announce.subject.format(package=config.package, version=release.version)
    except (KeyError, IndexError, ValueError) as exc:
        raise AnnounceError(
            f"The announcement subject {announce.subject!r} cannot be filled in: {exc}",
            hint="Use only {package} and {version} in `subject` in [tool.releaselib.announce].",
        ) from exc
    to = tuple(announce.to)
    return Announcement(
        subject=subject,
        body=body,
        sender=announce.sender,
        to=to,
        message_id=message_id_for(config.package, release.version, announce.sender, to),
    )


# --------------------------------------------------------------------------- sending


def sent_message_ids(release: Release) -> set[str]:
    """Every Message-ID an attempt of this phase recorded as sent.

    Failed attempts count too: an attempt that sent the mail and then failed
    still sent it. Values recorded in this session (a plan executed twice in
    one kernel) count as well, and so does the marker :class:`SendAnnouncement`
    writes beside the record (a notebook run by hand, outside the runner).
    """
    found: set[str] = set()
    marker = Path(release.record_dir) / SENT_MARKER_NAME
    if marker.is_file():
        try:
            found.add(json.loads(marker.read_text(encoding="utf-8"))["message_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnnounceError(
                f"{marker} exists but cannot be read ({exc}); it says an announcement was sent.",
                hint="Check the list's archive; delete the file only if the announcement was not sent.",
            ) from exc
    for entry in Record.load(release.record_dir).attempts(PHASE):
        value = entry.get("values", {}).get("sent_message_id")
        if value:
            found.add(value)
    if release.values.get("sent_message_id"):
        found.add(release.values["sent_message_id"])
    return found


def _refuse_secrets(release: Release, text: str, where: str) -> None:
    leaked = find_secrets(text, secret_values(release.config.secret_env_names()))
    if leaked:
        raise SecretLeak(
            f"The announcement holds the value of {', '.join(leaked)}; it is not {where}.",
            hint="Remove the secret from the changelog or the template, then run the phase again.",
        )


class SendAnnouncement(Action):
    """Send the announcement once: done when the record says its Message-ID was sent."""

    def __init__(self, release: Release, announcement: Announcement, *, resend: bool = False,
                 delivered: bool = False) -> None:
        self.release = release
        self.announcement = announcement
        self.settings = release.config.announce
        self.resend = resend
        self.delivered = delivered

    @property
    def server(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def describe(self) -> str:
        how = []
        if self.settings.starttls:
            how.append("STARTTLS")
        if self.settings.user:
            how.append(f"login {self.settings.user}")
        extra = f" ({', '.join(how)})" if how else ""
        return (
            f"send {self.announcement.subject!r} to {', '.join(self.announcement.to)} "
            f"via {self.server}{extra}"
        )

    def is_done(self) -> bool:
        """True when the record, the sent marker or the journal says this Message-ID was sent.

        Raises :class:`AnnounceError` when the journal shows an earlier attempt
        was interrupted *while* sending (its last word is "sending"): whether
        the list got the mail cannot be known from here, so a human looks and
        says which: ``resend=True`` (it did not arrive: send it) or
        ``delivered=True`` (it arrived: journal it as sent, send nothing).
        """
        message_id = self.announcement.message_id
        if message_id in sent_message_ids(self.release):
            return True
        state = step_state(self.release.record_dir, message_id)
        event = state.get("event") if state else None
        if event == SENT:
            return True
        interrupted = state is not None and event in (SENDING, UNCERTAIN)
        if self.delivered and not interrupted:
            raise AnnounceError(
                f"delivered=true says an interrupted attempt reached the list, but no attempt was "
                f"interrupted while sending {message_id}.",
                hint=f"Run `releaselib run {self.release.version} --resume` without -p delivered=true.",
            )
        if not interrupted or self.resend:
            return False
        if self.delivered:
            if not self.release.dry_run:
                append_event(self.release.record_dir, SENT, message_id, phase=PHASE,
                             detail=f"delivered=true: the maintainer found it in the list archive "
                             f"(the attempt of {state.get('time')} was interrupted while sending)")
            return True
        detail = f" ({state['detail']})" if state.get("detail") else ""
        raise AnnounceError(
            f"An earlier attempt was interrupted while sending {message_id} at {state.get('time')} "
            f"(pid {state.get('pid')} on {state.get('host')}){detail}; it may or may not have reached "
            f"{', '.join(self.announcement.to)}.",
            hint="Check the list archive for that Message-ID. If it arrived, run "
            f"`releaselib run {self.release.version} --resume -p delivered=true` (nothing is sent again); "
            f"if it did not, run `releaselib run {self.release.version} --resume -p resend=true`.",
        )

    def _password(self) -> str | None:
        if not self.settings.user:
            return None
        password = os.environ.get(self.settings.password_env)
        if not password:
            raise AnnounceError(
                f"The SMTP password variable {self.settings.password_env} is not set "
                f"(user {self.settings.user} must log in to {self.server}).",
                hint=f"export {self.settings.password_env}=... and run `releaselib run {self.release.version} --resume`.",
            )
        return password

    def _resume_hint(self, what: str) -> str:
        return f"{what}, then run `releaselib run {self.release.version} --resume`."

    def apply(self) -> None:
        """Connect, optionally STARTTLS and log in, send; record ``sent_message_id``.

        Raises :class:`AnnounceError` when the server cannot be reached, the
        login or a recipient is refused, or the server fails mid-way.
        """
        announcement = self.announcement
        message = announcement.to_message()
        _refuse_secrets(self.release, announcement.as_text(), "sent")
        password = self._password()
        if self.release.values.get("message_id") != announcement.message_id:
            self.release.record("message_id", announcement.message_id)
        host, port = self.settings.smtp_host, self.settings.smtp_port
        if not host:
            raise AnnounceError(
                "No SMTP server is configured to send the announcement through.",
                hint="Set smtp-host (and smtp-port) in [tool.releaselib.announce], "
                "or leave 09_announce out with --phases.",
            )
        recipients = [address for _, address in getaddresses(list(announcement.to))]
        sender = parseaddr(announcement.sender)[1]
        try:
            with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
                smtp.ehlo()
                if self.settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.settings.user:
                    smtp.login(self.settings.user, password or "")
                # Journalled durably right before and after: a process killed in
                # between leaves "sending", and a re-run asks instead of resending.
                with irreversible_step(
                    self.release.record_dir,
                    announcement.message_id,
                    phase=PHASE,
                    nothing_done=(smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError),
                ):
                    refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        except ConnectionRefusedError as exc:
            raise AnnounceError(
                f"could not connect to SMTP server {self.server}: connection refused",
                hint=self._resume_hint("Start the SMTP server, or fix `smtp-host`/`smtp-port` in [tool.releaselib.announce]"),
            ) from exc
        except TimeoutError as exc:
            raise AnnounceError(
                f"the SMTP server {self.server} did not answer within {SMTP_TIMEOUT:g} s",
                hint=self._resume_hint("Check that the server is up and reachable"),
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise AnnounceError(
                f"the SMTP server {self.server} refused the login of {self.settings.user}: "
                f"{exc.smtp_code} {_reply(exc.smtp_error)}",
                hint=self._resume_hint(f"Set the right password in the environment variable {self.settings.password_env}"),
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            refused_all = ", ".join(f"{addr} ({code} {_reply(reply)})" for addr, (code, reply) in exc.recipients.items())
            raise AnnounceError(
                f"the SMTP server {self.server} refused every recipient: {refused_all}; nothing was sent",
                hint=self._resume_hint("Fix `to` in [tool.releaselib.announce] or the server's relay settings"),
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise AnnounceError(
                f"the SMTP server {self.server} refused the sender {sender}: {exc.smtp_code} {_reply(exc.smtp_error)}",
                hint=self._resume_hint("Fix `sender` in [tool.releaselib.announce]"),
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            needed = "STARTTLS" if self.settings.starttls else "AUTH"
            raise AnnounceError(
                f"the SMTP server {self.server} does not support {needed}: {exc}",
                hint=self._resume_hint("Set `starttls` or `user` in [tool.releaselib.announce] to what the server offers"),
            ) from exc
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            raise AnnounceError(
                f"sending the announcement through {self.server} failed: {exc}",
                hint=self._resume_hint("Check the SMTP server's log"),
            ) from exc
        except OSError as exc:
            raise AnnounceError(
                f"could not connect to SMTP server {self.server}: {exc.strerror or exc}",
                hint=self._resume_hint("Start the SMTP server, or fix `smtp-host`/`smtp-port` in [tool.releaselib.announce]"),
            ) from exc
        # From here on the message has left: record it before anything else can fail.
        marker = {
            "message_id": announcement.message_id,
            "sent_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "server": self.server,
            "to": recipients,
            "refused": sorted(refused),
        }
        write_atomic(Path(self.release.record_dir) / SENT_MARKER_NAME, json.dumps(marker, indent=2).encode() + b"\n")
        self.release.record("sent_message_id", announcement.message_id)
        if refused:
            names = ", ".join(f"{addr} ({code} {_reply(reply)})" for addr, (code, reply) in refused.items())
            raise AnnounceError(
                f"the announcement was sent, but {self.server} refused some recipients: {names}",
                hint="Forward the message (announcement.eml in the record) to them by hand; "
                "a resumed phase will not send it again.",
            )


def _reply(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def plan_announcement(release: Release, announcement: Announcement | None = None, *, resend: bool = False,
                      delivered: bool = False) -> Plan:
    """The announce step: one :class:`SendAnnouncement`, already done if the record says it was sent.

    Renders the announcement when none is given. After an attempt that was
    interrupted while sending, ``resend=True`` sends again and
    ``delivered=True`` records it as sent (see :meth:`SendAnnouncement.is_done`).
    Raises :class:`AnnounceError` when both are given, or when no SMTP host
    is configured (and whatever :func:`render_announcement` raises).
    """
    if resend and delivered:
        raise AnnounceError(
            "resend=true and delivered=true were both given: the mail either arrived or it did not, not both.",
            hint=f"Check the list archive, then run `releaselib run {release.version} --resume` "
            "with only the one that is true.",
        )
    if not release.config.announce.smtp_host:
        raise AnnounceError(
            "No SMTP server is configured for the announcement.",
            hint='Set smtp-host (and smtp-port, starttls, user) in [tool.releaselib.announce], '
            "or leave out phase 09_announce.",
        )
    announcement = announcement if announcement is not None else render_announcement(release)
    plan = Plan(title=f"Announce {release.config.package} {release.version}")
    plan.add(SendAnnouncement(release, announcement, resend=resend, delivered=delivered))
    return plan


def write_preview(release: Release, announcement: Announcement) -> Path:
    """Write the whole message (headers and body) to ``record_dir / "announcement.eml"``; return the path.

    The file holds only what :class:`Announcement` renders (never a
    credential). Raises :class:`~releaselib.core.errors.SecretLeak`, writing
    nothing, if the value of a secret environment variable is in the text.
    """
    text = announcement.as_text()
    _refuse_secrets(release, text, "written to the record")
    path = Path(release.record_dir) / PREVIEW_NAME
    write_atomic(path, text.encode("utf-8"))
    return path
