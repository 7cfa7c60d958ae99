"""The release record: ``outputs/<package>/<version>/record.json``.

The record is the auditable account of a release: who ran it, where, with
which tools, and for every phase every attempt with its result, timing, the
hashes of the runbook and of the executed notebook, and the values the phase
recorded. Entries are chained: each carries the hash of the one before it, so
removing or editing an entry breaks the chain. The first entry chains to the
hash of the header (who, where, tools), so the header cannot be edited either.
The file is written atomically (temporary file, then rename), so a crash never
leaves half a record, and is scanned for every known secret before it is written.

The schema is documented in ``docs/record.md``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from releaselib.core import secrets as secret_scan
from releaselib.core.errors import RecordError, SecretLeak

#: 2: the first entry's ``prev`` is the hash of the header (schema 1: 64 zeros).
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
RECORD_NAME = "record.json"
GENESIS = "0" * 64

SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"

#: Distributions whose versions are kept in the record (missing ones are skipped).
TOOL_DISTRIBUTIONS = (
    "releaselib", "papermill", "nbclient", "nbformat", "ipykernel", "jupyter_client",
    "build", "twine", "GitPython", "packaging", "setuptools", "pip", "auditwheel", "uv",
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash of an entry: every field but ``hash`` itself, canonically encoded."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def header_hash(data: dict[str, Any]) -> str:
    """The hash of a record's header: every top-level field but ``entries``, canonically encoded."""
    body = {key: value for key, value in data.items() if key != "entries"}
    return hashlib.sha256(canonical(body)).hexdigest()


def genesis(data: dict[str, Any]) -> str:
    """What the first entry's ``prev`` must be: the header's hash (64 zeros in a schema 1 record)."""
    return GENESIS if data.get("schema") == 1 else header_hash(data)


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TOOL_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    from releaselib.infra import venv

    versions.update(venv.tool_versions())  # which installer made the environments, and uv's own version
    return versions


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def operator_identity(repo: Path | None) -> dict[str, str | None]:
    """Who is releasing: git identity of the repository, OS user, host."""
    name = email = None
    if repo is not None:
        try:
            import git

            reader = git.Repo(repo).config_reader()
            name = _text(reader.get_value("user", "name", ""))
            email = _text(reader.get_value("user", "email", ""))
        except Exception:  # noqa: BLE001 - identity is informative, never fatal
            pass
    try:
        os_user = getpass.getuser()
    except Exception:  # noqa: BLE001
        os_user = None
    return {"git_name": name, "git_email": email, "os_user": os_user, "host": socket.gethostname()}


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a record is for reviewers, so give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


GITATTRIBUTES = (
    "# Release records are archived exactly as executed: exempt them from\n"
    "# output-stripping filters such as nbstripout, so a committed record stays whole.\n"
    "*.ipynb -filter -diff\n"
)


def ensure_gitattributes(outputs: Path) -> None:
    """Write ``outputs/.gitattributes`` (once) so committing a record keeps it byte-for-byte."""
    path = Path(outputs) / ".gitattributes"
    if not path.exists():
        write_atomic(path, GITATTRIBUTES.encode())


@dataclass
class Record:
    """The record of one release, loaded from and saved to its folder."""

    directory: Path
    data: dict[str, Any] = field(default_factory=dict)
    #: ``{name: value}`` of every secret known to the run: never written, in any form.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> Path:
        return self.directory / RECORD_NAME

    @classmethod
    def load(cls, directory: Path) -> "Record":
        """Load the record in ``directory``; an absent record is an empty one."""
        directory = Path(directory)
        path = directory / RECORD_NAME
        if not path.exists():
            return cls(directory, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordError(
                f"The release record {path} cannot be read: {exc}",
                hint="Restore it from version control or a backup; releaselib never writes half a record.",
            ) from exc
        if data.get("schema") not in READABLE_SCHEMAS:
            raise RecordError(
                f"{path} has schema {data.get('schema')!r}; this releaselib reads schema {SCHEMA_VERSION}.",
                hint="Use the releaselib version that wrote it (see its `tools` field).",
            )
        return cls(directory, data)

    @property
    def exists(self) -> bool:
        return bool(self.data)

    def initialise(self, *, package: str, version: str, repo: Path, remote: str, remote_url: str | None) -> None:
        """Fill the header of a new record (does nothing if it already has one)."""
        if self.data:
            return
        self.data = {
            "schema": SCHEMA_VERSION,
            "package": package,
            "version": version,
            "created": now_iso(),
            "operator": operator_identity(repo),
            "tools": tool_versions(),
            # A credential in the URL (https://user:TOKEN@host) is never kept.
            "repo": {"path": str(repo), "remote": remote,
                     "remote_url": secret_scan.strip_userinfo(remote_url) if remote_url else None},
            "entries": [],
        }
        self.data = self._scrubbed(self.data)[0]

    def _scrubbed(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``data`` without userinfo in its URLs and with every known secret redacted; the secrets found."""
        data = secret_scan.strip_userinfo_deep(data)
        leaked = secret_scan.find_secrets(json.dumps(data, ensure_ascii=False), self.secrets)
        if leaked:
            data = secret_scan.redact_deep(data, self.secrets)
        return data, leaked

    def save(self) -> None:
        """Write record.json atomically; refuse (:class:`SecretLeak`) to write a known secret in any form."""
        text = json.dumps(self.data, indent=2, ensure_ascii=False)
        leaked = secret_scan.find_secrets(text, self.secrets)
        if leaked:
            raise SecretLeak(
                f"record.json would contain the value of {', '.join(leaked)}; it was not written.",
                hint="Report this as a releaselib bug; entries are redacted before they are added.",
            )
        write_atomic(self.path, text.encode() + b"\n")

    # -- entries -----------------------------------------------------------
    @property
    def entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.data.get("entries", [])
        return entries

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Chain ``entry`` to the last one, append it and save the record.

        URLs lose their userinfo; an entry holding a known secret is redacted
        and recorded as failed, saying which secret was found.
        """
        entry, leaked = self._scrubbed(dict(entry))
        if leaked:
            entry["result"] = FAILED
            found = f"the record entry contained the value of {', '.join(leaked)}; it was redacted"
            entry["reason"] = f"{entry['reason']}; {found}" if entry.get("reason") else found
        entry["prev"] = self.entries[-1]["hash"] if self.entries else genesis(self.data)
        entry["hash"] = entry_hash(entry)
        self.data.setdefault("entries", []).append(entry)
        self.save()
        return entry

    def attempts(self, phase: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry.get("phase") == phase]

    def latest(self, phase: str) -> dict[str, Any] | None:
        attempts = self.attempts(phase)
        return attempts[-1] if attempts else None

    def succeeded(self, phase: str) -> bool:
        latest = self.latest(phase)
        return latest is not None and latest.get("result") == SUCCEEDED

    def value(self, phase: str, key: str, default: Any = ...) -> Any:
        """The value ``key`` recorded by the latest successful attempt of ``phase``."""
        for entry in reversed(self.attempts(phase)):
            if entry.get("result") == SUCCEEDED and key in entry.get("values", {}):
                return entry["values"][key]
        if default is not ...:
            return default
        raise RecordError(
            f"The record has no value {key!r} from phase {phase}.",
            hint=f"Run phase {phase} first (releaselib run VERSION --phases {phase}).",
        )

    def chain_problems(self) -> list[str]:
        """Each break in the hash chain, described; empty when the chain is intact."""
        problems = []
        prev = genesis(self.data)
        for index, entry in enumerate(self.entries):
            label = f"entry {index + 1} ({entry.get('phase')} attempt {entry.get('attempt')})"
            if entry.get("prev") != prev:
                problems.append(
                    f"{label}: does not chain to the header (the header was edited)" if index == 0 else
                    f"{label}: does not chain to the entry before it (an entry was removed or reordered)"
                )
            if entry.get("hash") != entry_hash(entry):
                problems.append(f"{label}: its content does not match its hash (it was edited)")
            prev = entry.get("hash", "")
        return problems
