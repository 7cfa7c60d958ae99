"""Read a release record back: review it, verify it is whole, compare two releases.

Everything here reads ``outputs/<package>/<version>/`` and nothing else (the
package index too, for ``verify_release(..., index=True)``). Nothing here
writes to a record: a reviewer months later must be able to run these on a
record copied out of version control.

- :func:`verify_release`: every reason the record is not whole, one per line.
- :func:`review_text` (review.py): the release at a glance, as plain text.
- :func:`diff_text` (diff.py): two releases side by side.

The shape of ``record.json`` is documented in ``docs/record.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core import secrets as secret_scan
from releaselib.core.errors import PublishError, RecordError, ReleaseError
from releaselib.core.registry import PUBLISH
from releaselib.record.diff import diff_text
from releaselib.record.review import review_text
from releaselib.record.store import RECORD_NAME, SUCCEEDED, Record, sha256_file
from releaselib.record.summary import (
    PhaseSummary,
    _short,
    docs_summary,
    find_releases,
    load_release,
    phase_summaries,
    recorded_files,
    release_dir,
    resolve_package,
)

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

# review_text and diff_text live in review.py and diff.py; the summaries they share in
# summary.py. They are re-exported here so `from releaselib.record.audit import ...` keeps working.
__all__ = [
    "PhaseSummary",
    "diff_text",
    "docs_summary",
    "find_releases",
    "load_release",
    "phase_summaries",
    "recorded_files",
    "resolve_package",
    "review_text",
    "verify_release",
]


# --------------------------------------------------------------------------- verify


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


def _secret_names(config: Config) -> tuple[str, ...]:
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
) -> list[str]:
    """Every reason the record of ``package`` ``version`` is not whole, one line each.

    An empty list means whole: record.json present and readable; the hash chain
    intact; every entry's notebook present and matching its sha256; every code
    cell of every successful attempt's notebook completed; every successful
    attempt has its notebook; no secret value (of the variables the project's
    configuration names as secrets, set in this environment, plus ``secrets``)
    in any file under the record folder; and with ``index=True``, the index
    (``[tool.releaselib.publish] index-url``) serves every recorded file with
    its recorded sha256. The configuration is read from ``repo``, else from
    the repository the record names. Never raises for a damaged record: the
    damage is the answer.
    """
    directory = release_dir(outputs, package, version)
    if not directory.is_dir():
        return [f"{directory}: no such record folder"]
    if not (directory / RECORD_NAME).is_file():
        return [f"{RECORD_NAME} is missing from {directory}"]
    try:
        record = Record.load(directory)
    except RecordError as exc:
        return [f"{RECORD_NAME}: {exc.message}"]
    problems: list[str] = []
    # A dry run's record lives in "<version>-dry-run" and names the plain version.
    for key, expected in (("package", {package}), ("version", {version, version.removesuffix("-dry-run")})):
        if record.data.get(key) not in expected:
            problems.append(f"{RECORD_NAME}: {key} is {record.data.get(key)!r}, but the folder says {max(expected)!r}")
    problems += [f"{RECORD_NAME}: {problem}" for problem in record.chain_problems()]
    problems += _notebook_problems(record)

    config = _project_config(record, repo)
    known = secret_scan.secret_values(_secret_names(config))
    known.update({name: value for name, value in (secrets or {}).items() if value})
    problems += _secret_problems(directory, known)

    if index:
        problems += _index_problems(record, package, config)
    return problems


def _notebook_problems(record: Record) -> list[str]:
    import nbformat

    from releaselib.record.notebooks import unfinished_cells

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
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook is a finding
            problems.append(f"{name}: not a readable notebook ({type(exc).__name__}: {exc})")
            continue
        for cell_problem in unfinished_cells(nb):
            problems.append(f"{name}: {cell_problem} (recorded as succeeded)")
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


def _index_url(record: Record, config: Config) -> str | None:
    if config is not None:
        return str(config.publish.index_url)
    verified = record.value(PUBLISH, "verified", None)
    if isinstance(verified, dict) and verified.get("index_url"):
        return str(verified["index_url"])
    return None


def _index_problems(record: Record, package: str, config: Config) -> list[str]:
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
        return [f"--index: {exc.message}"]
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
