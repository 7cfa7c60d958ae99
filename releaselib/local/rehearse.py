"""``releaselib rehearse VERSION``: the whole release, for real, against throwaway copies.

A rehearsal clones the project into a throwaway folder, gives the clone a
bare copy of the real remote (``git clone --mirror``) as its remote, starts a
local package index, SMTP catcher and docs server, and runs every phase with
the same runbooks and the same code a real release runs. Nothing is
committed to point the clone at those servers: the overrides travel in
:data:`releaselib.infra.config.OVERRIDES_ENV`, which reaches the kernels through
their environment. The maintainer ends with the complete record of the
release before doing it, and a statement, checked, that the real repository
and remote did not change.

What a rehearsal cannot show: the real index's and list's credentials (local
servers take throwaway ones) and the real docs host (a hook on the bare copy
rebuilds a local page, as the docs builder would).
"""

from __future__ import annotations

import json
import os
import secrets as token
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import ReleaseError, RepoStateError
from releaselib.infra import git, processes
from releaselib.infra.config import OVERRIDES_ENV, load_config

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

__all__ = ["Rehearsal", "rehearse", "repository_fingerprint"]

#: Seconds the rehearsal's docs check waits for the local docs page.
DOCS_TIMEOUT = 60.0
CLONE_TIMEOUT = 300.0
_USER = "rehearsal"


@dataclass
class Rehearsal:
    """What a rehearsal did and where its record is."""

    version: str
    record_dir: Path
    workdir: Path
    outcomes: list[Any] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # what was checked to be unchanged

    def summary(self) -> str:
        lines = [
            f"Rehearsal of {self.version} finished: every phase ran against throwaway copies.",
            (
                f"Nothing in the real repository or its remote changed (checked: {', '.join(self.unchanged)}); "
                "the real package index and mailing list were never contacted."
            ),
            f"The rehearsal's record: {self.record_dir}",
        ]
        return "\n".join(lines)


def repository_fingerprint(repo: Path, remote: str, timeout: float = 60.0) -> dict[str, Any]:
    """Refs, HEAD, status of ``repo`` and the refs on ``remote``: what a rehearsal must not change.

    Raises :class:`GitError` when the remote cannot be listed in time.
    """
    return {
        "refs": _git_out(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": _git_out(repo, "rev-parse", "HEAD"),
        "status": _git_out(repo, "status", "--porcelain"),
        "remote": _ls_remote_all(repo, remote, timeout),
    }


def _git_out(cwd: Path, *args: str, timeout: float = 120.0) -> str:
    try:
        proc = processes.run(["git", *args], cwd=cwd, env=git.network_env(), timeout=timeout, merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise RepoStateError(
            f"`git {' '.join(args)}` did not finish within {timeout:g} s in {cwd}.",
            hint="Check the repository and its remote with the same git command.",
        ) from exc
    if proc.returncode != 0:
        raise RepoStateError(
            f"`git {' '.join(args)}` failed in {cwd}: {proc.stderr.strip() or proc.returncode}",
            hint="Check the repository and its remote with the same git command.",
        )
    return proc.stdout.strip()


def _ls_remote_all(repo: Path, remote: str, timeout: float) -> str:
    return _git_out(repo, "ls-remote", remote, timeout=timeout)


def _clone(repo: Path, config: Config, workdir: Path) -> tuple[Path, Path]:
    """The throwaway clone and the bare copy of the remote it pushes to."""
    url = git.remote_url(repo, config.remote)
    if url is None:
        raise RepoStateError(
            f"The repository has no remote named {config.remote}, so there is nothing to rehearse pushing to.",
            hint=f"Add it with `git remote add {config.remote} URL`, or set `remote` in [tool.releaselib].",
        )
    mirror = workdir / "remote.git"
    clone = workdir / repo.name
    _git_out(workdir, "clone", "--quiet", "--mirror", url, str(mirror), timeout=CLONE_TIMEOUT)
    _git_out(workdir, "clone", "--quiet", "--origin", config.remote, "--branch", config.branch, str(repo), str(clone),
             timeout=CLONE_TIMEOUT)
    _git_out(clone, "remote", "set-url", config.remote, str(mirror))
    _git_out(clone, "fetch", "--quiet", "--tags", config.remote)
    _git_out(clone, "branch", "--quiet", "--set-upstream-to", f"{config.remote}/{config.branch}")
    # The identity the real release would commit and tag with.
    for key in ("user.name", "user.email"):
        value = processes.run(["git", "config", "--get", key], cwd=repo, timeout=60,
                              merge_stderr=False).stdout.strip()  # fmt: skip
        if value:
            _git_out(clone, "config", key, value)
    return clone, mirror


def _overrides(config: Config, servers: Any) -> dict[str, Any]:
    return {
        "publish": {"repository-url": servers.index.upload_url, "index-url": servers.index.simple_url},
        "docs-check": {"url": servers.docs.url, "timeout": DOCS_TIMEOUT, "interval": 0.2},
        "announce": {
            "smtp-host": servers.mail.host,
            "smtp-port": servers.mail.port,
            "starttls": False,
            "user": _USER,
        },
    }


def rehearse(
    version: str,
    repo: str | os.PathLike[str] = ".",
    *,
    phases: Sequence[str] | str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    keep: bool = False,
    parameters: Mapping[str, Any] | None = None,
    cell_timeout: float | None = 3600.0,
    progress: Callable[[str, str, Any], None] | None = None,
) -> Rehearsal:
    """Run the release of ``version`` for real against a clone, a bare copy of the remote and local servers.

    The record is written under ``<workdir>/outputs``; the clone, the copy and
    the servers' files are removed at the end unless ``keep``. Afterwards the
    real repository and remote are compared with a fingerprint taken before.

    Raises whatever the release raises (:class:`PhaseFailed` naming the phase:
    the rehearsal found a problem the real release would meet), and
    :class:`ReleaseError` if the real repository or remote changed.
    """
    from releaselib.core.registry import resolve_phases
    from releaselib.engine.runner import Runner
    from releaselib.local.demo import scoped_env
    from releaselib.local.sandbox import install_docs_hook
    from releaselib.local.servers import LocalServers

    repo_path = Path(repo).resolve()
    config = load_config(repo_path)
    before = repository_fingerprint(repo_path, config.remote, config.push_timeout)
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="releaselib-rehearsal-"))
    root.mkdir(parents=True, exist_ok=True)
    clone, mirror = _clone(repo_path, config, root)
    outputs = root / "outputs"
    index_password, smtp_password = token.token_urlsafe(16), token.token_urlsafe(16)
    rehearsal = Rehearsal(version, outputs, root)
    try:
        with LocalServers(root / "servers", index_password=index_password, smtp_password=smtp_password,
                          index_username=_USER, smtp_username=_USER) as servers:
            if config.version_files:
                install_docs_hook(mirror, servers.docs.site_dir, package=config.package,
                                  version_file=config.version_files[0].path,
                                  changelog=config.changelog or "CHANGELOG", branch=config.branch)
            env = {
                OVERRIDES_ENV: json.dumps(_overrides(config, servers)),
                config.publish.username_env: _USER,
                config.publish.password_env: index_password,
                config.announce.password_env: smtp_password,
            }
            with scoped_env(env):
                runner = Runner(repo=clone, version=version, outputs=outputs, parameters=dict(parameters or {}),
                                cell_timeout=cell_timeout, progress=progress)
                rehearsal.record_dir = runner.record_dir
                rehearsal.outcomes = runner.run(resolve_phases(phases, runner.config))
    finally:
        if not keep:
            for path in (clone, mirror, root / "servers"):
                shutil.rmtree(path, ignore_errors=True)
    after = repository_fingerprint(repo_path, config.remote, config.push_timeout)
    changed = [name for name in before if before[name] != after[name]]
    if changed:
        raise ReleaseError(
            f"The real repository changed during the rehearsal ({', '.join(changed)}); the rehearsal does not "
            "write there, so someone or something else did.",
            hint="Look at `git status`, `git log --all` and `git ls-remote` before releasing.",
        )
    rehearsal.unchanged = ["local refs", "HEAD", "working tree status", f"refs on {config.remote}"]
    return rehearsal
