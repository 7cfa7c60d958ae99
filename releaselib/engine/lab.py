"""JupyterLab for a phase stepped through by hand.

:func:`lab_command` builds the command line and environment ``releaselib open``
starts JupyterLab with: rooted at the project (the file browser shows the
project, the kernel runs there), bound to 127.0.0.1 on a port and token chosen
here (so the URL can be printed before Lab starts), with cell timing recorded
(a by-hand attempt gets real ``started`` and ``duration``), and with
:class:`RecordGuardContentsManager`, which keeps the release records
read-only to the person at the keyboard.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: Lab settings a by-hand run needs, as *defaults* (a user's own settings still win):
#: cell timing on (``metadata.execution`` in every executed cell), no news pop-ups.
LAB_DEFAULTS = {
    "@jupyterlab/notebook-extension:tracker": {"recordTiming": True},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}
GUARD_CLASS = "releaselib.engine.lab.RecordGuardContentsManager"
GUARD_ENV = "RELEASELIB_READ_ONLY"


@dataclass(frozen=True)
class LabLaunch:
    """How to start JupyterLab on one prepared notebook, and where it will be."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    url: str
    config_dir: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lab_command(
    notebook: Path,
    *,
    repo: Path,
    read_only: Sequence[Path],
    extra: Sequence[str] = (),
    port: int | None = None,
) -> LabLaunch:
    """The JupyterLab command for ``notebook`` (a file inside ``repo``).

    ``read_only``: folders (the release records) Lab may show but never write,
    delete, rename or checkpoint. ``extra`` is passed to ``jupyter lab`` last
    (for example ``--allow-root`` or ``--no-browser``).
    """
    repo = Path(repo).resolve()
    relative = Path(notebook).resolve().relative_to(repo).as_posix()
    port = port or free_port()
    token = secrets.token_urlsafe(24)
    config_dir = Path(tempfile.mkdtemp(prefix="releaselib-lab-"))
    (config_dir / "labconfig").mkdir()
    (config_dir / "labconfig" / "default_setting_overrides.json").write_text(json.dumps(LAB_DEFAULTS, indent=2))
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(config_dir), env.get("JUPYTER_CONFIG_PATH")) if p)
    env[GUARD_ENV] = json.dumps([str(Path(p).resolve()) for p in read_only])
    argv = [
        sys.executable, "-m", "jupyter", "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={repo}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.contents_manager_class={GUARD_CLASS}",
        relative,
        *extra,
    ]
    url = f"http://127.0.0.1:{port}/lab/tree/{quote(relative)}?token={token}"
    return LabLaunch(argv=argv, env=env, cwd=repo, url=url, config_dir=config_dir)


def _guarded_dirs() -> list[Path]:
    try:
        return [Path(p) for p in json.loads(os.environ.get(GUARD_ENV, "[]"))]
    except ValueError:
        return []


try:
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from tornado.web import HTTPError
except ImportError:  # pragma: no cover - jupyter is a dependency; the guard is only used inside Lab
    pass
else:

    class RecordGuardContentsManager(AsyncLargeFileManager):
        """Lab's file manager, except that nothing under a release record is written,
        deleted, renamed or checkpointed: the record changes only through
        ``releaselib archive`` and the runner. The folders come from
        ``$RELEASELIB_READ_ONLY`` (a JSON list), set by :func:`lab_command`."""

        def _refuse_in_record(self, path: str) -> None:
            target = Path(self._get_os_path(path)).resolve()  # type: ignore[no-untyped-call]
            for guarded in _guarded_dirs():
                if target == guarded or guarded in target.parents:
                    raise HTTPError(
                        403,
                        f"{path} is in the release record ({guarded}), which is read-only here. "
                        "Work in the notebook `releaselib open` prepared; `releaselib archive` puts it into the record.",
                    )

        async def save(self, model, path=""):  # type: ignore[no-untyped-def]
            self._refuse_in_record(path)
            return await super().save(model, path)  # type: ignore[no-untyped-call]

        async def delete_file(self, path):  # type: ignore[no-untyped-def]
            self._refuse_in_record(path)
            return await super().delete_file(path)  # type: ignore[no-untyped-call]

        async def rename_file(self, old_path, new_path):  # type: ignore[no-untyped-def]
            self._refuse_in_record(old_path)
            self._refuse_in_record(new_path)
            return await super().rename_file(old_path, new_path)  # type: ignore[no-untyped-call]

        async def create_checkpoint(self, path):  # type: ignore[no-untyped-def]
            self._refuse_in_record(path)
            return await super().create_checkpoint(path)  # type: ignore[no-untyped-call]


def run_lab(launch: LabLaunch) -> int:
    """Run JupyterLab until it exits (:func:`releaselib.infra.processes.run_in_terminal`:
    Ctrl-C and SIGTERM reach Lab, which shuts its kernels down; nothing is killed
    outright); its exit code. Removes the settings folder :func:`lab_command` made."""
    import shutil

    from releaselib.infra import processes

    try:
        return processes.run_in_terminal(launch.argv, cwd=launch.cwd, env=launch.env)
    finally:
        shutil.rmtree(launch.config_dir, ignore_errors=True)
