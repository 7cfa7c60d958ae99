"""``releaselib verify``: is a release record whole, and does the world agree with it?

Reads ``outputs/<package>/<version>/`` and, to compare, the remote (the
anchor note, :mod:`releaselib.record.anchor`, and the git objects the record
names) and with ``index=True`` the package index. Writes nothing.

Three kinds of finding (:class:`Verification`):

- ``problems``: the record is not whole, or disagrees with the remote or the
  index (an edited entry, a notebook that does not match, a rewritten record
  the anchor on the remote contradicts, a file the index serves differently);
- ``unchecked``: what could not be checked this time and why (the remote or
  the index is unreachable, a declared secret is not set here): not a verdict
  on the record;
- ``checked``: what was compared beyond the folder (the anchor, the index).

The checks are listed in ``docs/record.md``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releaselib.core import secrets as secret_scan
from releaselib.core.errors import GitError, PublishError, RecordError, ReleaseError
from releaselib.infra.config.load import PINNED_NAME
from releaselib.record import anchor as anchors
from releaselib.record.audit import _short, recorded_files, release_dir
from releaselib.record.journal import JOURNAL_NAME
from releaselib.record.notebook_pages import FILES_DIR
from releaselib.record.notebooks import VALUE_MIME, read_notebook, unfinished_cells
from releaselib.record.notebooks import values_from_notebook as notebook_values
from releaselib.record.store import RECORD_NAME, SUCCEEDED, Record, sha256_file
from releaselib.record.summary import ANNOUNCEMENT_NAME

__all__ = ["VALUE_MIME", "Verification", "notebook_values", "verify_record", "verify_release"]



@dataclass
class Verification:
    """What verify found: problems (not whole), what it could not check, and what it compared."""

    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return not self.problems


def _released_repo(record: Record, repo: Path | None) -> Path | None:
    """``repo`` when it is the project the record released; else None (the record's own path is used).

    ``verify`` run from another repository (``--repo`` defaults to the current folder) must not
    look for the anchor on that repository's remote.
    """
    if repo is None:
        return None
    from releaselib.infra.config import load_config

    try:
        return repo if load_config(Path(repo).resolve()).package == record.data.get("package") else None
    except (ReleaseError, OSError):
        return None


def _project_config(record: Record, repo: Path | None) -> Any:
    """The project's configuration, from ``repo`` or the repository the record names; None if unreadable."""
    from releaselib.infra.config import load_config

    for candidate in (repo, (record.data.get("repo") or {}).get("path")):
        if not candidate:
            continue
        try:
            return load_config(Path(candidate).resolve())
        except (ReleaseError, OSError):
            continue
    return None


def _secret_names(config: Any) -> tuple[str, ...]:
    if config is not None:
        return tuple(config.secret_env_names())
    from releaselib.core.config_types import AnnounceConfig, PublishConfig

    return (PublishConfig().password_env, AnnounceConfig().password_env)


def verify_release(
    outputs: Path,
    package: str,
    version: str,
    *,
    index: bool = False,
    secrets: Mapping[str, str] | None = None,
    repo: Path | None = None,
    anchor: bool = True,
    allowed_signers: Path | None = None,
) -> list[str]:
    """Every reason the record of ``package`` ``version`` is not whole, one line each (see :func:`verify_record`)."""
    return verify_record(outputs, package, version, index=index, secrets=secrets, repo=repo, anchor=anchor,
                         allowed_signers=allowed_signers).problems


def verify_record(
    outputs: Path,
    package: str,
    version: str,
    *,
    index: bool = False,
    secrets: Mapping[str, str] | None = None,
    repo: Path | None = None,
    anchor: bool = True,
    allowed_signers: Path | None = None,
) -> Verification:
    """Check the record of ``package`` ``version``; never raises for a damaged record (the damage is the answer).

    Problems: record.json absent, unreadable, or naming another release; the
    hash chain (which starts at the header) broken; a notebook missing, not
    matching its sha256, or (for a successful attempt) with a cell that did
    not complete; an entry's ``values`` not those its notebook shows; a
    notebook no entry names; a secret (declared variables set here, passwords
    in the configured URLs, plus ``secrets``) in any file, in any encoding; with
    ``anchor``, a record the anchor on the remote contradicts, or git objects
    on the remote that are not the recorded ones; with ``allowed_signers``, an
    anchor without a valid SSH signature; with ``index``, a recorded file the
    index does not serve with its sha256. An unreachable remote or index is
    ``unchecked``, not a problem.
    """
    result = Verification()
    directory = release_dir(outputs, package, version)
    if not directory.is_dir():
        result.problems.append(f"{directory}: no such record folder")
        return result
    if not (directory / RECORD_NAME).is_file():
        result.problems.append(f"{RECORD_NAME} is missing from {directory}")
        return result
    try:
        record = Record.load(directory)
    except RecordError as exc:
        result.problems.append(f"{RECORD_NAME}: {exc.message}")
        return result
    problems = result.problems
    # A dry run's record lives in "<version>-dry-run" and names the plain version.
    for key, expected in (("package", {package}), ("version", {version, version.removesuffix("-dry-run")})):
        if record.data.get(key) not in expected:
            problems.append(f"{RECORD_NAME}: {key} is {record.data.get(key)!r}, but the folder says {max(expected)!r}")
    problems += [f"{RECORD_NAME}: {problem}" for problem in record.chain_problems()]
    problems += _notebook_problems(record)
    problems += _orphan_problems(record)

    repo = _released_repo(record, repo)
    config = _project_config(record, repo)
    names = _secret_names(config)
    remote_url = _remote_url(record, config, repo)
    known = secret_scan.known_secrets(config, remote_url=remote_url) if config is not None else \
        secret_scan.secret_values(names)
    known.update({name: value for name, value in (secrets or {}).items() if value})
    for name in secret_scan.missing_secrets(names):
        if name not in known:
            result.unchecked.append(f"secrets: {name} is not set here, so the record was not scanned for its value")
    problems += _secret_problems(directory, known)

    if anchor and not str(version).endswith("-dry-run"):
        _anchor_check(record, remote_url, result, allowed_signers)
    if index:
        _index_check(record, package, config, result)
    return result


def _remote_url(record: Record, config: Any, repo: Path | None) -> str | None:
    """The remote's URL as the released repository's git sees it (credentials and all), else as recorded."""
    from releaselib.infra.git import remote_url

    remote = (record.data.get("repo") or {}).get("remote") or (config.remote if config is not None else "origin")
    for candidate in (repo, (record.data.get("repo") or {}).get("path")):
        if candidate and Path(candidate).is_dir():
            try:
                url = remote_url(Path(candidate).resolve(), remote)
            except ReleaseError:
                continue
            if url:
                return url
    return (record.data.get("repo") or {}).get("remote_url")


def _notebook_problems(record: Record) -> list[str]:

    problems = []
    for number, entry in enumerate(record.entries, start=1):
        label = f"entry {number} ({entry.get('phase')} attempt {entry.get('attempt')})"
        name = entry.get("notebook")
        succeeded = entry.get("result") == SUCCEEDED
        if not name:
            if succeeded:
                problems.append(f"{label}: succeeded but names no notebook")
            continue
        if Path(str(name)).name != name:
            problems.append(f"{label}: notebook name {name!r} points outside the record folder")
            continue
        path = record.directory / str(name)
        if not path.is_file():
            problems.append(f"{name}: missing (the notebook of {label})")
            continue
        actual = sha256_file(path)
        if actual != entry.get("notebook_sha256"):
            problems.append(
                f"{name}: does not match its recorded sha256 (it was changed after it was archived; "
                f"recorded {_short(entry.get('notebook_sha256'))}, now {_short(actual)})"
            )
        if not succeeded:
            continue
        try:
            nb = read_notebook(path)  # JSON: no nbformat/jsonschema import on verify's path
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook is a finding
            problems.append(f"{name}: not a readable notebook ({type(exc).__name__}: {exc})")
            continue
        for cell_problem in unfinished_cells(nb):
            problems.append(f"{name}: {cell_problem} (recorded as succeeded)")
        if actual == entry.get("notebook_sha256"):
            shown = secret_scan.strip_userinfo_deep(notebook_values(nb))
            recorded = entry.get("values") or {}
            for key in sorted(set(shown) | set(recorded)):
                if key not in recorded:
                    problems.append(f"{label}: its notebook records {key!r}, which the entry lacks")
                elif key not in shown:
                    problems.append(f"{label}: value {key!r} is not in its notebook's outputs")
                elif _json(shown[key]) != _json(recorded[key]):
                    problems.append(f"{label}: value {key!r} differs from what its notebook shows")
    return problems




def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _orphan_problems(record: Record) -> list[str]:
    """Notebooks in the folder that no entry names (a dropped attempt leaves one behind), and any
    JupyterLab checkpoint (an unredacted copy of a notebook; never part of the record)."""
    named = {str(entry.get("notebook")) for entry in record.entries if entry.get("notebook")}
    problems = [
        f"{path.name}: a notebook no entry of the record names (an entry was removed?)"
        for path in sorted(record.directory.glob("*.ipynb"))
        if path.name not in named
    ]
    problems += [
        f"{path.relative_to(record.directory).as_posix()}: a JupyterLab checkpoint no entry names "
        "(delete it; it may hold what the archived notebook redacted)"
        for path in sorted(record.directory.rglob(".ipynb_checkpoints/*"))
        if path.is_file()
    ]
    return problems + _stray_files(record)


#: What a record folder holds besides its notebooks: the record itself, the announcement's journal,
#: copy and marker, the detection pinned for the release, and what is derived from the record (the
#: report) or written beside it by its phases (logs/, and dist/ for the files the record lists).
_RECORD_FILES = {"record.json", JOURNAL_NAME, ANNOUNCEMENT_NAME, "announcement-sent.json", PINNED_NAME, "report.html"}
_RECORD_FOLDERS = {"logs", FILES_DIR, ".ipynb_checkpoints"}


def _stray_files(record: Record) -> list[str]:
    """Files no entry accounts for: anything unknown at the top, and a file in dist/ no entry lists."""
    listed = {str(item.get("filename")) for entry in record.entries
              for item in ((entry.get("values") or {}).get("files") or []) if isinstance(item, dict)}
    problems = []
    for path in sorted(record.directory.iterdir()):
        if path.is_dir():
            if path.name == "dist":
                problems += [f"dist/{file.name}: a file no entry of the record lists (planted, or left over?)"
                             for file in sorted(path.iterdir()) if file.name not in listed]
            elif path.name not in _RECORD_FOLDERS:
                problems.append(f"{path.name}/: a folder no entry of the record accounts for")
        elif path.suffix != ".ipynb" and path.name not in _RECORD_FILES and not path.name.startswith("."):
            problems.append(f"{path.name}: a file no entry of the record accounts for")
    return problems


def _secret_problems(directory: Path, known: Mapping[str, str]) -> list[str]:
    if not known:
        return []
    problems = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            problems.append(f"{path.relative_to(directory)}: cannot be read to scan for secrets ({exc})")
            continue
        leaked = secret_scan.find_secrets(text, known)
        if leaked:
            problems.append(f"{path.relative_to(directory)}: contains the value of {', '.join(leaked)}")
    return problems


def _anchor_check(record: Record, url: str | None, result: Verification, allowed_signers: Path | None) -> None:
    """Compare the record with the anchor note on the remote and with the git objects it names."""
    # Checked whenever there is a tag to hold a note, not only when the record says the remote was
    # changed: a forger who cuts off the tail removes exactly the entries that say so.
    tag = record.value("04_commit_tag", "tag", None)
    pushed = anchors.has_remote_effects(record)
    if not tag:
        if pushed:
            result.problems.append("anchor: the record says the release changed the remote but names no tag")
        return
    if not url:
        result.unchecked.append("anchor: the record names no remote URL, so nothing was compared")
        return
    shown = secret_scan.strip_userinfo(url)
    with tempfile.TemporaryDirectory(prefix="releaselib-verify-") as folder:
        try:
            found, refs = anchors.read_remote_anchor(url, str(tag), Path(folder) / "remote.git")
        except GitError as exc:
            result.unchecked.append(f"anchor: the remote {shown} could not be read, so the record was not "
                                    f"compared with it ({exc.message})")
            return
        problems = result.problems
        if found is None:
            if pushed:
                problems.append(f"anchor: {shown} has no releaselib anchor ({anchors.NOTES_REF}) on tag {tag}, "
                                "though the record says the release changed the remote")
            return
        result.checked.append(f"the anchor on {shown}")
        problems += _anchor_problems(record, found.anchor, shown)
        problems += _object_problems(record, refs, Path(folder) / "remote.git", shown)
        if allowed_signers is not None:
            why = anchors.verify_signature(found, allowed_signers, Path(folder))
            if why:
                problems.append(f"anchor: {why}")
            else:
                result.checked.append(f"the anchor's SSH signature ({found.signer})")


def _anchor_problems(record: Record, anchor: Mapping[str, Any], shown: str) -> list[str]:
    ours = anchors.anchor_of(record)
    problems = []
    if anchor.get("header") != ours["header"]:
        problems.append(f"{RECORD_NAME}: its header (operator, tools, repo, created) differs from the anchor on {shown}")
    theirs = list(anchor.get("entries") or [])
    for index, pinned in enumerate(theirs):
        if index >= len(record.entries):
            problems.append(f"{RECORD_NAME}: ends at entry {len(record.entries)}, but the anchor on {shown} "
                            f"pins {len(theirs)} entries (the record was cut short)")
            break
        if record.entries[index].get("hash") != pinned:
            entry = record.entries[index]
            problems.append(f"entry {index + 1} ({entry.get('phase')} attempt {entry.get('attempt')}): differs "
                            f"from the anchor on {shown} (the record was rewritten)")
            break
    recorded = {(f.get("filename"), f.get("sha256")) for f in ours["files"]}
    pinned_files = {(f.get("filename"), f.get("sha256")) for f in anchor.get("files") or []}
    for filename, sha in sorted(pinned_files - recorded, key=str):
        problems.append(f"{filename}: the anchor on {shown} pins sha256 {_short(sha)}, the record does not")
    return problems


def _object_problems(record: Record, refs: Mapping[str, str], scratch: Path, shown: str) -> list[str]:
    """The tag on the remote points at the recorded BUMP commit; the post-release commit is on the remote."""
    problems = []
    tag = record.value("04_commit_tag", "tag", None)
    bump = record.value("04_commit_tag", "bump_commit", None)
    peeled = refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")
    if bump and peeled and peeled != bump:
        problems.append(f"tag {tag}: on {shown} it points at {_short(peeled)}, the record's BUMP commit is {_short(bump)}")
    post = record.value("08_post_release", "post_release_commit", None)
    if post:
        found = anchors._run(["git", "cat-file", "-e", f"{post}^{{commit}}"], scratch, check=False).returncode == 0
        if not found:
            problems.append(f"08_post_release: the post-release commit {_short(post)} is not on {shown}")
    return problems


def _index_url(record: Record, config: Any) -> str | None:
    if config is not None:
        return str(config.publish.index_url)
    verified = record.value("06_publish", "verified", None)
    if isinstance(verified, dict) and verified.get("index_url"):
        return str(verified["index_url"])
    return None


def _index_problems(record: Record, package: str, config: Any) -> list[str]:
    from releaselib.infra.index import index_files, project_url

    phase, files = recorded_files(record)
    if not files:
        return ["--index: the record lists no files (no successful 05_build or 06_publish with a `files` value)"]
    simple = _index_url(record, config)
    if simple is None:
        return ["--index: no index URL known (the project's configuration cannot be read and 06_publish recorded none)"]
    url = project_url(simple, package)
    try:
        served = index_files(simple, package)
    except PublishError as exc:
        raise _Unreachable(f"--index: {exc.message}") from exc
    problems = []
    for item in files:
        filename, expected = str(item["filename"]), str(item.get("sha256") or "")
        if filename not in served:
            problems.append(f"{filename}: missing from the index ({url})")
        elif not served[filename]:
            problems.append(f"{filename}: the index lists it without a sha256, so it cannot be checked ({url})")
        elif served[filename] != expected.lower():
            problems.append(
                f"{filename}: the index serves a different file (sha256 {served[filename]}, "
                f"recorded {expected or '?'} by {phase})"
            )
    return problems



class _Unreachable(Exception):
    pass


def _index_check(record: Record, package: str, config: Any, result: Verification) -> None:
    try:
        problems = _index_problems(record, package, config)
    except _Unreachable as exc:
        result.unchecked.append(f"{exc} The index was not checked; this says nothing about the record.")
        return
    result.problems += problems
    if not problems:
        result.checked.append("the index")
