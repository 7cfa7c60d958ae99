"""Phases stepped through by hand in JupyterLab.

``releaselib open PHASE VERSION`` writes a parameterized copy of the runbook
into the release's record folder with papermill's prepare-only mode: the
parameters are injected, nothing runs. The maintainer then executes it cell
by cell, saves it, and ``releaselib archive PHASE VERSION`` checks it and
archives it into the record as the phase's next attempt, marked as run by
hand, with who ran it: :func:`archive_manual`.
"""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from typing import Any

from releaselib.core.errors import UsageError
from releaselib.core.registry import resolve_phases, runbook_path
from releaselib.core.secrets import find_secrets, redact, secret_values
from releaselib.core.versions import parse_release
from releaselib.engine.context import record_dir_for
from releaselib.infra.config import load_config
from releaselib.record.notebooks import unfinished_cells, values_from_notebook


def prepare_manual(phase: str, version: str, *, repo: Path, outputs: Path, dry_run: bool = True) -> Path:
    """Write ``<record>/<phase>.manual.ipynb`` with the parameters injected; return its path.

    ``dry_run`` stays True by default: the maintainer flips it in the
    notebook when ready to make the changes.
    """
    import papermill

    repo = Path(repo).resolve()
    parse_release(version)
    config = load_config(repo)
    (name,) = resolve_phases(phase, config)
    record_dir = record_dir_for(outputs, config.package, version)
    record_dir.mkdir(parents=True, exist_ok=True)
    target = record_dir / f"{name}.manual.ipynb"
    papermill.execute_notebook(
        str(runbook_path(name, config)),
        str(target),
        parameters={"version": version, "repo": str(repo), "dry_run": dry_run, "outputs": str(Path(outputs).resolve())},
        prepare_only=True,
        progress_bar=False,
    )
    return target


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

    ``notebook`` defaults to the one ``releaselib open`` prepared
    (``<record>/<phase>.manual.ipynb``). The notebook is checked: it must be
    of ``phase``, its ``version`` parameter must be ``version``, and at least
    one code cell must have run. Its result is its own state: succeeded when
    every code cell completed without error, failed otherwise (the reason
    names the cells). A notebook run with ``dry_run = True`` goes to the
    ``<version>-dry-run`` record, like a headless dry run.

    Before anything is written the notebook is scanned for every secret value
    the configuration names; on a hit only a redacted copy is archived and the
    attempt is failed. The copy is named like a headless attempt
    (``<phase>.ipynb`` or ``<phase>.attemptN.ipynb``); the prepared
    ``.manual.ipynb`` in the record folder is then removed, so the record holds
    one copy only. The entry is appended to ``record.json`` with ``mode:
    "manual"`` and ``run_by`` (git identity, OS user, host) and returned.

    Raises :class:`UsageError` for a missing or unreadable notebook, another
    phase's notebook, a version mismatch or a notebook nobody ran; and
    :class:`LockHeld` while a release of the package is running.
    """
    import nbformat

    from releaselib.engine.runner import release_lock
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
    prepared_dir = record_dir_for(outputs, config.package, version)
    source = Path(notebook).resolve() if notebook is not None else prepared_dir / f"{name}.manual.ipynb"
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
    if source.parent in (prepared_dir, record_dir) and source.name.endswith(".manual.ipynb"):
        source.unlink(missing_ok=True)
    return entry
