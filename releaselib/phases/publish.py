"""Upload the built files to the package index, and prove the release from the outside.

Re-runnable by construction. twine's ``--skip-existing`` only works against
PyPI, so idempotence is decided here: before each upload the index's PEP 503
simple page is read, and a file already listed with the same sha256 is
"already done". A file listed with another sha256 stops the release: an index
never accepts the same filename twice.

Credentials reach twine only through its environment (``TWINE_USERNAME`` /
``TWINE_PASSWORD``), copied from the variables the configuration names; they
never appear on a command line, in a log or in a message.

:mod:`releaselib.phases.verify_index` then installs ``<package>==<version>`` into a fresh
virtual environment from that index alone (pip's configuration, other
indexes, find-links and cache switched off), imports it, checks its version,
and checks that the file pip chose is byte-for-byte the one that was built.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import PublishError
from releaselib.core.plan import Action, Plan
from releaselib.core.secrets import strip_userinfo
from releaselib.infra import processes
from releaselib.infra.index import index_files
from releaselib.phases.verify_index import RESUME, VerifyResult, verify_from_index, verify_release

if TYPE_CHECKING:
    from releaselib.core.config_types import Config
    from releaselib.engine.context import Release

__all__ = [
    "UploadAction",
    "VerifyResult",
    "check_credentials",
    "plan_upload",
    "verify_from_index",
    "verify_release",
]

_RESUME = RESUME


# --------------------------------------------------------------------------- credentials


def check_credentials(config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`PublishError` unless the index username and password variables are set.

    Names the variables that are missing or empty; never shows a value.
    """
    environ = os.environ if environ is None else environ
    names = [config.publish.username_env, config.publish.password_env]
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise PublishError(
            f"The index credentials are not in the environment: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set.",
            hint=f"Export {' and '.join(missing)} in the shell that runs releaselib (for PyPI: username "
            "__token__ and an API token as the password); they are never written to the record.",
        )


# --------------------------------------------------------------------------- uploading


def _reachable(url: str, timeout: float = 5.0) -> str | None:
    """None when something accepts TCP connections at ``url``'s host and port, else the reason."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


_HTTP_ERROR = re.compile(r"HTTPError:\s*(\d{3})\s+(.*?)\s+from\s+(\S+)")
_STATUS_MEANING = {
    401: "no or incomplete credentials",
    403: "wrong username or password",
    400: "the index rejected the file (often: a file of that name is already there)",
    409: "a file of that name is already there",
}


@dataclass
class UploadAction(Action):
    """Upload one file with twine, unless the index already has it with the same sha256."""

    path: Path
    sha256: str
    package: str
    repository_url: str
    simple_url: str
    username_env: str = "TWINE_USERNAME"
    password_env: str = "TWINE_PASSWORD"
    log: Path | None = None
    timeout: float = 300.0

    @property
    def filename(self) -> str:
        return self.path.name

    def describe(self) -> str:
        return f"upload {self.filename} (sha256 {self.sha256[:12]}…) to {strip_userinfo(self.repository_url)}"

    def is_done(self) -> bool:
        """True when the index lists this filename with this sha256.

        Raises :class:`PublishError` when it lists the filename with another
        hash (the index will never take a second file of that name), or when
        the index cannot be read.
        """
        listed = index_files(self.simple_url, self.package, timeout=30.0)
        if self.filename not in listed:
            return False
        there = listed[self.filename]
        if there == self.sha256:
            return True
        if not there:
            raise PublishError(
                f"{self.filename} is already on {strip_userinfo(self.simple_url)} but the index gives no sha256 for it, so "
                "releaselib cannot tell whether it is the file built here.",
                hint="Configure the index to publish sha256 fragments (pypiserver: --hash-algo sha256), or "
                "compare the files by hand.",
            )
        raise PublishError(
            f"{self.filename} is already on {strip_userinfo(self.simple_url)} with different content "
            f"(index sha256 {there[:16]}…, built file {self.sha256[:16]}…). An index never accepts a "
            "filename twice.",
            hint="Release a post-release instead (e.g. VERSION.post1), or, on a private index, delete the file "
            f"there, {_RESUME}.",
        )

    def _env(self) -> dict[str, str]:
        # child_env drops every TWINE_* of the caller; only the configured credentials go in.
        return processes.child_env(
            {
                "TWINE_USERNAME": _required(self.username_env),
                "TWINE_PASSWORD": _required(self.password_env),
                # Never ask a keyring (it can block on a desktop bus) or a terminal.
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "COLUMNS": "200",
            }
        )

    # twine takes about half a second to start: the files of a release go up in one command.
    applies_together = True

    def apply(self) -> None:
        """Run ``twine upload`` for this file, then confirm the index lists it with our sha256 (:meth:`apply_all`)."""
        self.apply_all([self])

    @classmethod
    def apply_all(cls, actions: Sequence[Action]) -> None:
        """Upload the files of ``actions`` with one ``twine upload``, in their order, then confirm the index
        lists each with its sha256.

        Raises :class:`PublishError` when the index is down, refuses the
        credentials (401/403, with the URL and status), rejects a file (the
        first one it does not list is named: twine stops there), or lists one
        afterwards with another hash.
        """
        uploads = [action for action in actions if isinstance(action, UploadAction)]
        first = uploads[0]
        if any(action._target() != first._target() for action in uploads) or len(uploads) != len(actions):
            for action in actions:  # not one index, one log and one set of credentials: one command each
                type(action).apply_all([action])
            return
        down = _reachable(first.repository_url)
        if down is not None:
            raise PublishError(
                f"Cannot reach the upload URL {strip_userinfo(first.repository_url)}: {down}.",
                hint=f"Start the index or fix [tool.releaselib.publish] repository-url, {_RESUME}; nothing was "
                "uploaded by this step.",
            )
        command = [
            sys.executable, "-m", "twine", "--no-color", "upload",
            "--non-interactive", "--disable-progress-bar",
            "--repository-url", first.repository_url,
            *(str(action.path) for action in uploads),
        ]  # fmt: skip
        timeout = sum(action.timeout for action in uploads)
        try:
            proc = processes.run(command, env=first._env(), timeout=timeout)
        except processes.CommandTimeout as exc:
            raise PublishError(
                f"Uploading {', '.join(a.filename for a in uploads)} to {strip_userinfo(first.repository_url)} did not "
                f"finish within {timeout:.0f} s.",
                hint=f"Check the index, {_RESUME}; a file that did arrive is then skipped.",
            ) from exc
        output = proc.stdout
        processes.append_log(first.log, command, None, output, f"exit {proc.returncode} after {proc.duration:.1f} s")
        listed = index_files(first.simple_url, first.package)
        missing = [action for action in uploads if listed.get(action.filename) != action.sha256]
        if proc.returncode != 0:
            raise (missing[0] if missing else uploads[-1])._failure(output, proc.returncode)
        if missing:
            action = missing[0]
            raise PublishError(
                f"twine uploaded {action.filename} to {strip_userinfo(action.repository_url)}, but "
                f"{strip_userinfo(action.simple_url)} then lists "
                f"{'no such file' if action.filename not in listed else 'it with another sha256'}.",
                hint="Check that repository-url and index-url in [tool.releaselib.publish] name the same index.",
            )

    def _target(self) -> tuple[object, ...]:
        return (self.repository_url, self.simple_url, self.package, self.username_env, self.password_env, self.log)

    def _failure(self, output: str, code: int) -> PublishError:
        match = _HTTP_ERROR.search(output)
        if match:
            status, reason = int(match.group(1)), match.group(2).strip()
            meaning = _STATUS_MEANING.get(status, "")
            message = (
                f"The index at {strip_userinfo(self.repository_url)} refused the upload of {self.filename}: {status} {reason}"
                + (f" — {meaning}" if meaning else "")
                + "."
            )
            if status in (401, 403):
                hint = (
                    f"Fix {self.username_env} / {self.password_env} in the environment (for PyPI: username "
                    f"__token__ and a valid API token), {_RESUME}; nothing else was changed."
                )
            else:
                hint = f"See the log{f' ({self.log})' if self.log else ''} for twine's full answer, {_RESUME}."
            return PublishError(message, hint=hint)
        if "Connection refused" in output or "ConnectionError" in output or "Max retries" in output:
            return PublishError(
                f"Cannot reach the upload URL {strip_userinfo(self.repository_url)} (connection refused) while uploading "
                f"{self.filename}.",
                hint=f"Start the index or fix [tool.releaselib.publish] repository-url, {_RESUME}.",
            )
        last = [line for line in output.strip().splitlines() if line.strip()][-5:]
        return PublishError(
            f"twine upload of {self.filename} to {strip_userinfo(self.repository_url)} failed (exit {code}):\n" + "\n".join(last),
            hint=f"See the log{f' ({self.log})' if self.log else ''}, {_RESUME}.",
        )


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise PublishError(
            f"{name} is not set in the environment.",
            hint=f"Export {name} in the shell that runs releaselib, {_RESUME}.",
        )
    return value


def _upload_order(artifact: Any) -> tuple[int, str]:
    # Wheels before the sdist: an installer that sees only the sdist would build from source meanwhile.
    return (0 if artifact.kind == "wheel" else 1, artifact.filename)


def plan_upload(release: Release, artifacts: Sequence[Any], allow_untested: bool = False, *, gate: bool = True) -> Plan:
    """One :class:`UploadAction` per artifact (wheels first, then the sdist), to ``config.publish``,
    after the record shows the tagged commit tested and built (a :class:`TestedGate` first,
    unless ``gate`` is False: only for callers that are not a release, such as tests of uploading)."""
    from releaselib.phases.gates import TestedGate

    publish = release.config.publish
    logs = Path(release.record_dir) / "logs"
    plan = Plan(f"Upload {release.config.package} {release.version} to {strip_userinfo(publish.repository_url)}")
    if gate:
        plan.add(TestedGate(release, what="upload the files", allow_untested=allow_untested))
    for artifact in sorted(artifacts, key=_upload_order):
        plan.add(
            UploadAction(
                path=Path(artifact.path),
                sha256=artifact.sha256,
                package=release.config.package,
                repository_url=publish.repository_url,
                simple_url=publish.index_url,
                username_env=publish.username_env,
                password_env=publish.password_env,
                log=logs / "upload.log",
            )
        )
    return plan
