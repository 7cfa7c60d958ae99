"""Phases stepped through by hand in JupyterLab.

``releaselib open PHASE VERSION`` writes a parameterized copy of the runbook
into the release's record folder with papermill's prepare-only mode: the
parameters are injected, nothing runs. The maintainer then executes it cell
by cell.
"""

from __future__ import annotations

from pathlib import Path

from .config import load_config
from .context import record_dir_for
from .runner import resolve_phases, runbook_path
from .versions import parse_release


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
