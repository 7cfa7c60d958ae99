"""Phases stepped through by hand in JupyterLab.

``releaselib open PHASE VERSION`` writes a working copy of the runbook into
the project (never into the record) with its one parameters cell filled in
(:func:`prepare_manual`), and starts JupyterLab on it (:mod:`releaselib.engine.lab`).
The maintainer executes it cell by cell, saves it, and ``releaselib archive
PHASE VERSION`` checks it and archives it into the record as the phase's next
attempt, marked as run by hand, with who ran it and when: :func:`archive_manual`.
"""

from __future__ import annotations

import ast
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import UsageError
from releaselib.core.registry import resolve_phases, runbook_path
from releaselib.core.secrets import find_secrets, redact, secret_values
from releaselib.core.versions import parse_release
from releaselib.engine.context import record_dir_for
from releaselib.infra.config import load_config

if TYPE_CHECKING:
    from releaselib.core.config_types import Config
from releaselib.record.notebooks import unfinished_cells, values_from_notebook

#: Where ``open`` puts the working copy: the project's root, so Lab (rooted at the
#: project) opens it and its kernel runs in the project. Kept out of git with
#: ``.git/info/exclude`` (local only; nothing is committed).
WORKING_SUFFIX = ".manual.ipynb"
CHECKPOINTS = ".ipynb_checkpoints"


def working_copy(repo: Path, phase: str, version: str) -> Path:
    """The notebook ``releaselib open`` prepares for ``phase`` of ``version``, in the project."""
    return Path(repo).resolve() / f"{phase}-{version}{WORKING_SUFFIX}"


def _checkpoint_of(notebook: Path) -> Path:
    return notebook.parent / CHECKPOINTS / f"{notebook.stem}-checkpoint{notebook.suffix}"


def _exclude_from_git(repo: Path, patterns: list[str]) -> None:
    """Add ``patterns`` to ``.git/info/exclude`` (local to this clone) so the working copy
    and Lab's checkpoints never make the tree dirty or land in a commit."""
    git_dir = repo / ".git"
    if not git_dir.is_dir():
        return
    exclude = git_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    lines = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
    missing = [p for p in patterns if p not in lines]
    if missing:
        text = "\n".join([*lines, "# releaselib open: notebooks stepped through by hand", *missing]) + "\n"
        exclude.write_text(text, encoding="utf-8")


def _literal(value: Any) -> str:
    """Python source for ``value``, strings in double quotes as the runbooks write them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def set_parameters(source: str, values: dict[str, Any]) -> str:
    """``source`` (a parameters cell) with each top-level ``name = ...`` of ``values`` set to
    the given value, its comment kept in its column; names it does not assign are appended."""
    tree = ast.parse(source)
    lines = source.splitlines()
    done = set()
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name not in values or node.value.end_lineno != node.lineno or node.value.end_col_offset is None:
            continue
        row = node.lineno - 1
        raw = lines[row].encode("utf-8")  # ast offsets count UTF-8 bytes
        code = (raw[: node.value.col_offset] + _literal(values[name]).encode("utf-8")).decode("utf-8")
        rest = raw[node.value.end_col_offset :].decode("utf-8")
        comment = rest.lstrip()
        if comment.startswith("#"):
            column = len(lines[row]) - len(comment)
            code = code.ljust(column) if len(code) < column else code + "  "
        lines[row] = code + (comment if comment.startswith("#") else rest)
        done.add(name)
    lines += [f"{name} = {_literal(value)}" for name, value in values.items() if name not in done]
    return "\n".join(lines)


def _executed_cells(path: Path) -> int:
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable file still counts as someone's work
        return -1
    return sum(1 for c in nb.cells if c.get("cell_type") == "code" and c.get("execution_count") is not None)


def prepare_manual(
    phase: str,
    version: str,
    *,
    repo: Path,
    outputs: Path,
    dry_run: bool = True,
    force: bool = False,
) -> Path:
    """Write the working copy of ``phase`` for ``version`` into the project; return its path.

    The runbook's own parameters cell is the only place parameters are set:
    it gets ``version``, ``repo``, ``dry_run`` and ``outputs`` (comments
    kept), so editing it is all a maintainer does. ``dry_run`` stays True by
    default. The last cell names the exact ``releaselib archive`` command.
    The copy lives in the project (see :func:`working_copy`), never in the
    record, so a save after archiving cannot touch the record.

    Raises :class:`UsageError` when a working copy exists already (it may hold
    executed cells) unless ``force``.
    """
    import nbformat

    repo = Path(repo).resolve()
    outputs = Path(outputs).resolve()
    parse_release(version)
    config = load_config(repo)
    (name,) = resolve_phases(phase, config)
    target = working_copy(repo, name, version)
    if target.exists() and not force:
        executed = _executed_cells(target)
        state = "" if executed == 0 else (
            f" with {executed} executed cell(s)" if executed > 0 else " (not a readable notebook)"
        )
        raise UsageError(
            f"{target} exists already{state}: opening {name} again would overwrite it.",
            hint=f"Archive it first (`releaselib archive {name[3:]} {version}`), or open it again with "
            "--force to throw it away and start over.",
        )
    nb = nbformat.read(runbook_path(name, config), as_version=4)
    values = {"version": version, "repo": str(repo), "dry_run": dry_run, "outputs": str(outputs)}
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise UsageError(
            f"The runbook of {name} has no cell tagged `parameters`.",
            hint="Tag its first code cell `parameters` (View > Cell Toolbar > Tags), as the bundled runbooks do.",
        )
    cell.source = set_parameters(cell.source, values)
    archive = archive_command(name, version, repo=repo, outputs=outputs, lines=True)
    archive_cell = nbformat.v4.new_markdown_cell(
        "## Save and archive\n\n"
        "When the last cell has run: save this notebook (**Ctrl+S**), close its tab, and put it into the "
        f"release record:\n\n```sh\n{archive}\n```\n\n"
        "Until then the record does not know this phase ran. Archiving checks the notebook, "
        "keeps who ran it and when, and removes this working copy."
    )
    archive_cell["id"] = f"{name[:2]}-archive"
    # The runbook's own last cell says this in general; the working copy names the exact command.
    nb.cells = [c for c in nb.cells if c.get("id") != archive_cell["id"]] + [archive_cell]
    nb.metadata.setdefault("releaselib", {}).update(phase=name, version=version, prepared_by_open=True)
    _exclude_from_git(repo, [f"/*{WORKING_SUFFIX}", f"/{CHECKPOINTS}/"])
    if force:
        _checkpoint_of(target).unlink(missing_ok=True)
    nbformat.write(nb, target)
    return target


def archive_command(phase: str, version: str, *, repo: Path, outputs: Path, lines: bool = False) -> str:
    """The archive command in full (``--repo`` and ``--outputs`` too), so it works from any
    folder; with ``lines``, one option a line (for a notebook, where long lines wrap mid-option)."""
    import shlex

    parts = [
        f"releaselib archive {shlex.quote(phase[3:])} {shlex.quote(version)}",
        f"--repo {shlex.quote(str(repo))}",
        f"--outputs {shlex.quote(str(outputs))}",
    ]
    return " \\\n    ".join(parts) if lines else " ".join(parts)


# -- archiving a notebook run by hand ------------------------------------------
def notebook_parameters(nb: Any) -> dict[str, Any]:
    """The parameters a notebook ran with: literal top-level assignments in its
    ``parameters`` and ``injected-parameters`` cells, later cells winning (as in the kernel)."""
    found: dict[str, Any] = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or not ({"parameters", "injected-parameters"} & set(tags)):
            continue
        try:
            tree = ast.parse(cell.get("source", ""))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return found


def _execution_times(nb: Any) -> tuple[str | None, str | None]:
    """First input and last reply timestamps the front end recorded (nbclient and
    JupyterLab with timing on write ``metadata.execution``), or None."""
    starts, ends = [], []
    for cell in nb.cells:
        execution = cell.get("metadata", {}).get("execution", {})
        if execution.get("iopub.execute_input"):
            starts.append(str(execution["iopub.execute_input"]))
        if execution.get("shell.execute_reply"):
            ends.append(str(execution["shell.execute_reply"]))
    return (min(starts) if starts else None, max(ends) if ends else None)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(delta.total_seconds(), 3)


def _phase_of(nb: Any) -> str | None:
    meta = nb.get("metadata", {})
    phase = meta.get("releaselib", {}).get("phase")
    if phase:
        return str(phase)
    input_path = meta.get("papermill", {}).get("input_path")
    return Path(input_path).stem if input_path else None


def archive_manual(
    phase: str,
    version: str,
    *,
    repo: Path,
    outputs: Path,
    notebook: Path | None = None,
) -> dict[str, Any]:
    """Archive a notebook a maintainer executed by hand as the next attempt of ``phase``.

    ``notebook`` defaults to the working copy ``releaselib open`` prepared
    in the project (:func:`working_copy`). The notebook is checked: it must be
    of ``phase``, its ``version`` parameter must be ``version``, and at least
    one code cell must have run. Its result is its own state: succeeded when
    every code cell completed without error, failed otherwise (the reason
    names the cells). A notebook run with ``dry_run = True`` goes to the
    ``<version>-dry-run`` record, like a headless dry run.

    Before anything is written the notebook is scanned for every secret value
    the configuration names; on a hit only a redacted copy is archived and the
    attempt is failed. The copy is named like a headless attempt
    (``<phase>.ipynb`` or ``<phase>.attemptN.ipynb``); the working copy and
    Lab's checkpoint of it are then removed (and any checkpoint folder in the
    record), so one copy only remains, the archived one. The entry is appended to ``record.json`` with ``mode:
    "manual"`` and ``run_by`` (git identity, OS user, host) and returned.

    Raises :class:`UsageError` for a missing or unreadable notebook, another
    phase's notebook, a version mismatch or a notebook nobody ran; and
    :class:`LockHeld` while a release of the package is running.
    """
    import nbformat

    from releaselib.engine.lock import release_lock
    from releaselib.infra.git import head_commit
    from releaselib.record.store import (
        FAILED,
        SUCCEEDED,
        Record,
        now_iso,
        operator_identity,
        sha256_file,
        write_atomic,
    )

    repo = Path(repo).resolve()
    outputs = Path(outputs).resolve()
    parse_release(version)
    config = load_config(repo)
    (name,) = resolve_phases(phase, config)
    source = Path(notebook).resolve() if notebook is not None else working_copy(repo, name, version)
    if not source.is_file():
        raise UsageError(
            f"No notebook to archive at {source}.",
            hint=f"Prepare it with `releaselib open {name.split('_', 1)[1]} {version}`, run it in JupyterLab, save it, "
            "then archive it (or pass --notebook PATH).",
        )
    try:
        text = source.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise UsageError(
            f"{source} is not a readable notebook: {exc}", hint="Save it from JupyterLab again (File > Save)."
        ) from exc
    nb_phase = _phase_of(nb)
    if nb_phase is not None and nb_phase != name:
        raise UsageError(
            f"{source.name} is the notebook of phase {nb_phase}, not {name}.",
            hint=f"Archive it as {nb_phase}, or pass the notebook of {name}.",
        )
    params = notebook_parameters(nb)
    if params.get("version") != version:
        raise UsageError(
            f"{source.name} ran with version = {params.get('version')!r}, not {version!r}.",
            hint=f'Set version = "{version}" in its parameters cell and run it again, or archive it under its own version.',
        )
    code_cells = [c for c in nb.cells if c.get("cell_type") == "code" and c.get("source", "").strip()]
    if not any(c.get("execution_count") is not None for c in code_cells):
        raise UsageError(
            f"No code cell of {source.name} has been executed.",
            hint="Run it in JupyterLab (Run > Run All Cells, or cell by cell), save it, then archive it.",
        )
    dry_run = params.get("dry_run", True) is not False
    record_dir = record_dir_for(outputs, config.package, version + ("-dry-run" if dry_run else ""))

    unfinished = unfinished_cells(nb)
    reason = ("not every cell completed: " + "; ".join(unfinished)) if unfinished else None
    known = secret_values(config.secret_env_names())
    missing = [env for env in _secrets_to_scan_for(config, name) if env not in known]
    if missing:
        raise UsageError(
            f"The notebook cannot be scanned for the value of {', '.join(missing)}: not set in this shell, "
            f"and {name} may have used it. Nothing was archived.",
            hint=f"Set {', '.join(missing)} here as it was set for JupyterLab, then run `releaselib archive` again.",
        )
    leaked = find_secrets(text, known)
    if leaked:
        text = redact(text, known)
        reason = (
            f"the notebook contained the value of {', '.join(leaked)}; only a redacted copy was archived"
        )
    started, ended = _execution_times(nb)

    with release_lock(outputs / config.package, version):
        record = Record.load(record_dir)
        if not record.exists:
            from releaselib.core.registry import phase_names
            from releaselib.engine.runner import _remote_url

            record.initialise(
                package=config.package, version=version, repo=repo, remote=config.remote,
                remote_url=_remote_url(repo, config.remote), phases=phase_names(config),
            )
        attempt = len(record.attempts(name)) + 1
        target = record_dir / (f"{name}.ipynb" if attempt == 1 else f"{name}.attempt{attempt}.ipynb")
        write_atomic(target, text.encode("utf-8"))
        runbook = runbook_path(name, config)
        try:
            commit_after = head_commit(repo)
        except Exception:  # noqa: BLE001 - informative only
            commit_after = None
        entry = record.append(
            {
                "phase": name,
                "attempt": attempt,
                "result": SUCCEEDED if reason is None else FAILED,
                "reason": reason,
                "mode": "manual",
                "run_by": operator_identity(repo),
                "dry_run": dry_run,
                "started": started,
                "ended": ended or now_iso(),
                "duration": _seconds_between(started, ended),
                "runbook": str(runbook),
                "runbook_sha256": sha256_file(runbook),
                "notebook": target.name,
                "notebook_sha256": sha256_file(target),
                "parameters": params,
                "values": {} if leaked else values_from_notebook(nb),
                "commit_before": None,
                "commit_after": commit_after,
                "archived_from": str(source),
            }
        )
    if source.name.endswith(WORKING_SUFFIX):
        source.unlink(missing_ok=True)
    # Lab's checkpoint is an unredacted copy of the notebook: it never outlives the archive,
    # and none may sit in a record folder.
    _checkpoint_of(source).unlink(missing_ok=True)
    for folder in (record_dir, record_dir_for(outputs, config.package, version)):
        shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    return entry


def _secrets_to_scan_for(config: Config, phase: str) -> list[str]:
    """The declared secrets a notebook of ``phase`` may hold: its phase's credentials and every extra one."""
    from releaselib.core.registry import get_phase

    needs = get_phase(phase, config).needs
    names = list(config.secrets)
    if "index" in needs:
        names.insert(0, config.publish.password_env)
    if "smtp" in needs and config.announce.user:
        names.insert(0, config.announce.password_env)
    return list(dict.fromkeys(names))
