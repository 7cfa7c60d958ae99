"""The record's anchor on the remote: a git note that pins the chain's head.

Anyone who can write ``outputs/`` can rewrite a record consistently: edit an
entry and its notebook, recompute every hash, and the chain alone says
"whole". So at the end of every phase that changes the remote (06_publish,
08_post_release, 09_announce) and at the end of the release, the runner
writes the chain's state into a git note on the release's tag object, under
``refs/notes/releaselib``, and pushes that ref to the remote. ``verify``
reads the note back **from the remote** and compares.

The note is plain text: a first line naming the format, the anchor as JSON
(:func:`anchor_of`: the header's hash, every entry's hash in order, the
released files with their sha256, the BUMP, tag and post-release commits),
a ``Signed-off-by`` line, and, when the maintainer set
``RELEASELIB_SIGNING_KEY`` to an SSH private key, an SSH signature of the
JSON made with ``ssh-keygen -Y sign`` (the mechanism git uses for
SSH-signed commits), which ``verify --allowed-signers FILE`` checks.

Every git call here runs with a timeout and can never prompt
(:func:`releaselib.infra.git.network_env`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releaselib.core.errors import GitError
from releaselib.infra import processes
from releaselib.infra.git import network_env, remote_tag_object
from releaselib.record.store import SUCCEEDED, Record, header_hash

__all__ = [
    "ANCHOR_FORMAT", "NOTES_REF", "REMOTE_PHASES", "SIGNATURE_NAMESPACE", "SIGNING_KEY_ENV", "Anchor",
    "anchor_of", "push_anchor", "read_remote_anchor",
]

NOTES_REF = "refs/notes/releaselib"
ANCHOR_FORMAT = "releaselib-record-anchor/1"
#: Phases after which the remote holds something the record describes.
REMOTE_PHASES = ("06_publish", "08_post_release", "09_announce")
SIGNING_KEY_ENV = "RELEASELIB_SIGNING_KEY"
SIGNATURE_NAMESPACE = "releaselib-record"
_TIMEOUT = 60.0


def anchor_of(record: Record) -> dict[str, Any]:
    """What the anchor pins: the header, every entry's hash, and what the release put on the remote."""
    files = []
    for phase in ("06_publish", "05_build"):
        listed = record.value(phase, "files", None)
        if listed:
            files = [{"filename": item.get("filename"), "sha256": item.get("sha256")} for item in listed]
            break
    return {
        "format": ANCHOR_FORMAT,
        "package": record.data.get("package"),
        "version": record.data.get("version"),
        "header": header_hash(record.data),
        "entries": [entry.get("hash") for entry in record.entries],
        "head": record.entries[-1].get("hash") if record.entries else None,
        "tag": record.value("04_commit_tag", "tag", None),
        "bump_commit": record.value("04_commit_tag", "bump_commit", None),
        "post_release_commit": record.value("08_post_release", "post_release_commit", None),
        "files": files,
    }


def _run(args: list[str], cwd: Path, *, input_text: str | None = None, timeout: float = _TIMEOUT,
         check: bool = True) -> processes.Completed:
    """Run ``args`` through the process layer (own session, group killed on timeout or interrupt)."""
    try:
        result = processes.run(args, cwd=cwd, env=network_env(), input=input_text, timeout=timeout,
                               merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise GitError(f"`{' '.join(args[:4])}` did not finish within {timeout:g} s.",
                       hint="Check the network and the remote, then run again.") from exc
    if check and result.returncode != 0:
        from releaselib.core.secrets import strip_userinfo

        detail = strip_userinfo((result.stderr or result.stdout).strip()) or f"exit status {result.returncode}"
        raise GitError(f"`{' '.join(args[:4])}` failed: {detail}",
                       hint="Check that the remote is reachable without a prompt, then run again.")
    return result


def _tag_object(repo: Path, tag: str) -> str | None:
    result = _run(["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], repo, check=False)
    return result.stdout.strip() or None


def _sign(text: str) -> str | None:
    key = os.environ.get(SIGNING_KEY_ENV)
    if not key:
        return None
    with tempfile.TemporaryDirectory(prefix="releaselib-sign-") as folder:
        data = Path(folder) / "anchor.json"
        data.write_text(text, encoding="utf-8")
        _run(["ssh-keygen", "-q", "-Y", "sign", "-f", key, "-n", SIGNATURE_NAMESPACE, str(data)], Path(folder))
        return (Path(folder) / "anchor.json.sig").read_text(encoding="ascii")


def note_text(anchor: dict[str, Any], signer: str) -> str:
    """The note: format line, the anchor JSON on one line, sign-off, optional SSH signature."""
    body = json.dumps(anchor, sort_keys=True, separators=(",", ":"))
    signature = _sign(body)
    text = f"{ANCHOR_FORMAT}\n{body}\n\nSigned-off-by: {signer}\n"
    if signature:
        text += "\n" + signature
    return text


def push_anchor(record: Record, repo: Path, remote: str, timeout: float = _TIMEOUT) -> str | None:
    """Write the record's anchor as a note on the release tag and push ``refs/notes/releaselib``.

    Returns the tag object the note is on, or None when there is no tag yet
    (nothing is anchored before 04_commit_tag), or the remote does not have it. The remote's notes are fetched
    first, so notes of other releases are kept. Raises :class:`GitError` when
    the remote cannot be reached or refuses the push.
    """
    tag = record.value("04_commit_tag", "tag", None)
    target = _tag_object(repo, str(tag)) if tag else None
    if target is None:
        return None
    if remote_tag_object(repo, remote, str(tag), timeout) != target:
        # The release has not reached the remote (a rejected push lands nothing, not even a note).
        return None
    operator = record.data.get("operator") or {}
    signer = f"{operator.get('git_name') or operator.get('os_user') or 'unknown'} <{operator.get('git_email') or ''}>"
    text = note_text(anchor_of(record), signer)
    for _ in range(3):  # another release may push notes between our fetch and our push
        fetched = _run(["git", "fetch", "--quiet", remote, f"+{NOTES_REF}:{NOTES_REF}"], repo, check=False,
                       timeout=timeout)
        if fetched.returncode != 0 and "couldn't find remote ref" not in fetched.stderr.lower():
            _run(["git", "fetch", "--quiet", remote, f"+{NOTES_REF}:{NOTES_REF}"], repo, timeout=timeout)
        _run(["git", "-c", "user.useConfigOnly=false", "notes", "--ref", NOTES_REF, "add", "-f", "-F", "-", target],
             repo, input_text=text)
        pushed = _run(["git", "push", "--quiet", remote, f"{NOTES_REF}:{NOTES_REF}"], repo, check=False,
                      timeout=timeout)
        if pushed.returncode == 0:
            return target
    _run(["git", "push", "--quiet", remote, f"{NOTES_REF}:{NOTES_REF}"], repo, timeout=timeout)
    return target


@dataclass
class Anchor:
    """The anchor as read from the remote."""

    anchor: dict[str, Any]
    body: str
    signer: str | None
    signature: str | None
    tag_object: str


def parse_note(text: str, tag_object: str) -> Anchor | None:
    lines = text.splitlines()
    if len(lines) < 2 or lines[0].strip() != ANCHOR_FORMAT:
        return None
    body = lines[1]
    try:
        anchor = json.loads(body)
    except ValueError:
        return None
    signer = next((line[len("Signed-off-by: "):] for line in lines if line.startswith("Signed-off-by: ")), None)
    start = text.find("-----BEGIN SSH SIGNATURE-----")
    signature = text[start:] if start >= 0 else None
    return Anchor(anchor, body, signer, signature, tag_object)


def read_remote_anchor(url: str, tag: str, scratch: Path) -> tuple[Anchor | None, dict[str, str]]:
    """Fetch the tag and ``refs/notes/releaselib`` from ``url`` into a scratch repository and read the note.

    Returns ``(anchor or None, {ref: sha} of the remote)``. Raises
    :class:`GitError` when the remote cannot be reached. Nothing is written
    to the released repository.
    """
    _run(["git", "init", "--quiet", "--bare", str(scratch)], scratch.parent)
    listed = _run(["git", "ls-remote", url], scratch)
    refs = {}
    for line in listed.stdout.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    wanted = [f"+{ref}:{ref}" for ref in refs
              if (ref == NOTES_REF or ref.startswith(("refs/heads/", "refs/tags/"))) and not ref.endswith("^{}")]
    if wanted:
        _run(["git", "fetch", "--quiet", url, *wanted], scratch)
    tag_object = refs.get(f"refs/tags/{tag}")
    if NOTES_REF not in refs or tag_object is None:
        return None, refs
    note = _run(["git", "notes", "--ref", NOTES_REF, "show", tag_object], scratch, check=False)
    if note.returncode != 0:
        return None, refs
    return parse_note(note.stdout, tag_object), refs


def verify_signature(anchor: Anchor, allowed_signers: Path, scratch: Path) -> str | None:
    """None when the anchor's SSH signature is valid for its signer's email in ``allowed_signers``; else why not."""
    if not anchor.signature:
        return "the anchor is not signed"
    identity = (anchor.signer or "").rpartition("<")[2].rstrip(">").strip()
    signature = scratch / "anchor.sig"
    signature.write_text(anchor.signature, encoding="ascii")
    result = _run(["ssh-keygen", "-Y", "verify", "-f", str(allowed_signers), "-I", identity,
                   "-n", SIGNATURE_NAMESPACE, "-s", str(signature)], scratch, input_text=anchor.body, check=False)
    if result.returncode != 0:
        said = str(result.stderr or result.stdout).strip().splitlines() or ["?"]
        return f"its SSH signature does not verify for {identity or 'an unnamed signer'}: {said[-1]}"
    return None


def has_remote_effects(record: Record) -> bool:
    """True when a successful, real (not dry-run) attempt of a remote-changing phase is in the record."""
    return any(entry.get("phase") in REMOTE_PHASES and entry.get("result") == SUCCEEDED and not entry.get("dry_run")
               for entry in record.entries)
