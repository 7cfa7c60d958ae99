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

A project with runtime dependencies installs back from the local index only
if that index has them: before the first phase the rehearsal resolves the
project's dependencies against its usual index (pip's own configuration) and
drops those files into the local index; the release's own files still come
only from the build, and 06_publish proves them by hash.

A failed rehearsal keeps its folder (the clone, the copy of the remote, the
index's files) and says so, checks that the real repository and remote are
unchanged, and names ``releaselib rehearse VERSION --resume --workdir DIR``,
which continues the rehearsal against fresh local servers on the same files.
It never suggests a command that would reach the real index or remote.

What a rehearsal cannot show: the real index's and list's credentials (local
servers take throwaway ones) and the real docs host (a hook on the bare copy
rebuilds a local page, as the docs builder would).
"""

from __future__ import annotations

import json
import os
import re
import secrets as token
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core.errors import ReleaseError, RepoStateError, UsageError
from releaselib.infra import git, processes
from releaselib.infra.config import OVERRIDES_ENV, load_config, pattern_regex

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

__all__ = ["Rehearsal", "RehearsalFailed", "rehearse", "repository_fingerprint", "serve_runtime_dependencies"]

#: What a rehearsal folder holds so that ``rehearse --resume`` finds its clone (no secrets: new servers, new tokens).
STATE_FILE = "rehearsal.json"


class RehearsalFailed(ReleaseError):
    """A phase failed during a rehearsal; the hint resumes the rehearsal, never the real release."""

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
    dependencies: list[str] = field(default_factory=list)  # files served from the project's real index
    stand_ins: list[str] = field(default_factory=list)  # settings the project lacks, filled in for the rehearsal

    def summary(self) -> str:
        lines = [
            f"Rehearsal of {self.version} finished: every phase ran against throwaway copies.",
            (
                f"Nothing in the real repository or its remote changed (checked: {', '.join(self.unchanged)}); "
                "the real package index and mailing list were never contacted."
            ),
            f"The rehearsal's record: {self.record_dir}",
        ]
        if self.dependencies:
            lines.insert(2, f"Runtime dependencies served by the local index: {', '.join(self.dependencies)}")
        lines[2:2] = self.stand_ins
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


# Who the rehearsal's mail is from and to when the project has not said yet (.invalid never resolves).
STAND_IN_SENDER = "releaselib rehearsal <release@rehearsal.invalid>"
STAND_IN_TO = "announce@rehearsal.invalid"


def _overrides(config: Config, servers: Any) -> dict[str, Any]:
    announce: dict[str, Any] = {
        "smtp-host": servers.mail.host,
        "smtp-port": servers.mail.port,
        "starttls": False,
        "user": _USER,
    }
    # The local catcher takes any address: a project that has not filled in [announce] yet
    # (init writes it commented out) still rehearses its mail.
    if not config.announce.sender:
        announce["sender"] = STAND_IN_SENDER
    if not config.announce.to:
        announce["to"] = [STAND_IN_TO]
    return {
        "publish": {"repository-url": servers.index.upload_url, "index-url": servers.index.simple_url},
        "docs-check": {"url": servers.docs.url, "timeout": DOCS_TIMEOUT, "interval": 0.2},
        "announce": announce,
    }


def _stand_ins(config: Config) -> list[str]:
    missing = [key for key, value in (("sender", config.announce.sender), ("to", config.announce.to)) if not value]
    if not missing:
        return []
    return [f"[announce] {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: the rehearsal mailed "
            f"from {STAND_IN_SENDER} to {STAND_IN_TO} at its local catcher; set them before the real release."]


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
    resume: bool = False,
) -> Rehearsal:
    """Run the release of ``version`` for real against a clone, a bare copy of the remote and local servers.

    The record is written under ``<workdir>/outputs``; the clone, the copy and
    the servers' files are removed at the end unless ``keep`` or the
    rehearsal failed. Afterwards, failed or not, the real repository and
    remote are compared with a fingerprint taken before. With ``resume``,
    ``workdir`` must be the folder of an earlier rehearsal of ``version``:
    its clone continues where it stopped.

    Raises :class:`RehearsalFailed` when a phase fails (the rehearsal found a
    problem the real release would meet; its hint resumes the rehearsal),
    :class:`ReleaseError` if the real repository or remote changed, and
    :class:`UsageError` when there is nothing to resume.
    """
    from releaselib.core.registry import resolve_phases
    from releaselib.engine.runner import Runner
    from releaselib.local.demo import scoped_env
    from releaselib.local.docs_hook import install_docs_hook
    from releaselib.local.servers import LocalServers

    repo_path = Path(repo).resolve()
    config = load_config(repo_path)
    before = repository_fingerprint(repo_path, config.remote, config.push_timeout)
    if resume:
        root, clone, mirror = _resumable(workdir, version, repo_path)
    else:
        root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="releaselib-rehearsal-"))
        root.mkdir(parents=True, exist_ok=True)
        clone, mirror = _clone(repo_path, config, root)
        (root / STATE_FILE).write_text(json.dumps({
            "version": version, "repo": str(repo_path), "clone": str(clone), "mirror": str(mirror),
        }, indent=2), encoding="utf-8")
    outputs = root / "outputs"
    index_password, smtp_password = token.token_urlsafe(16), token.token_urlsafe(16)
    rehearsal = Rehearsal(version, outputs, root, stand_ins=_stand_ins(config))
    failure: ReleaseError | None = None
    try:
        with LocalServers(root / "servers", index_password=index_password, smtp_password=smtp_password,
                          index_username=_USER, smtp_username=_USER) as servers:
            if config.version_files:
                install_docs_hook(mirror, servers.docs.site_dir, package=config.package,
                                  version_file=config.version_files[0].path,
                                  version_re=pattern_regex(config.version_files[0]).pattern,
                                  changelog=config.changelog or "CHANGELOG", branch=config.branch)
            if not resume:
                rehearsal.dependencies = serve_runtime_dependencies(clone, servers.index.packages_dir,
                                                                    config.package, root / "dependencies.log")
            env = {
                OVERRIDES_ENV: json.dumps(_overrides(config, servers)),
                config.publish.username_env: _USER,
                config.publish.password_env: index_password,
                config.announce.password_env: smtp_password,
            }
            with scoped_env(env):
                runner = Runner(repo=clone, version=version, outputs=outputs, parameters=dict(parameters or {}),
                                cell_timeout=cell_timeout, progress=progress, resume=resume)
                rehearsal.record_dir = runner.record_dir
                rehearsal.outcomes = runner.run(resolve_phases(phases, runner.config))
    except ReleaseError as exc:
        failure = exc
    finally:
        if not keep and failure is None and sys.exc_info()[0] is None:
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
    if failure is not None:
        raise _rehearsal_failure(failure, version, repo_path, root, rehearsal.unchanged) from failure
    return rehearsal


_RUN_RESUME = re.compile(r"releaselib run \S+ --resume[^`\n]*")


def _rehearsal_failure(
    exc: ReleaseError, version: str, repo: Path, root: Path, unchanged: list[str]
) -> RehearsalFailed:
    command = f"releaselib rehearse {version} --resume --repo {repo} --workdir {root}"
    # The runner's words name the throwaway clone, whose configuration points at the real index.
    message = _RUN_RESUME.sub(command, exc.message)
    return RehearsalFailed(
        f"The rehearsal of {version} failed.\n{message}\n"
        f"The real repository and its remote are unchanged (checked: {', '.join(unchanged)}); "
        f"the rehearsal's clone, remote copy and index files are kept in {root}.",
        hint=f"Read the notebook. A cause outside the project (network, a missing tool or Python): fix it and "
        f"continue with `{command}`. A cause in the project: fix it in the real repository and start a new "
        f"rehearsal with `releaselib rehearse {version}`. Never resume the throwaway clone with `releaselib run`: "
        "its configuration names the real index.",
    )


def _resumable(workdir: str | os.PathLike[str] | None, version: str, repo: Path) -> tuple[Path, Path, Path]:
    if workdir is None:
        raise UsageError(
            "rehearse --resume needs the folder of the rehearsal to continue.",
            hint=f"Pass --workdir DIR, as named by the failed rehearsal: `releaselib rehearse {version} --resume "
            "--workdir DIR`.",
        )
    root = Path(workdir).resolve()
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{root} holds no rehearsal to resume ({STATE_FILE} is missing or unreadable).",
            hint=f"Start a new rehearsal with `releaselib rehearse {version}`.",
        ) from exc
    clone, mirror = Path(state["clone"]), Path(state["mirror"])
    if state.get("version") != version or Path(state.get("repo", "")) != repo or not clone.is_dir():
        raise UsageError(
            f"The rehearsal in {root} is of {state.get('repo')} {state.get('version')}, not of {repo} {version}, "
            "or its clone is gone.",
            hint=f"Start a new rehearsal with `releaselib rehearse {version}`.",
        )
    return root, clone, mirror


def serve_runtime_dependencies(project: Path, packages_dir: Path, package: str, log: Path) -> list[str]:
    """Put the runtime dependencies of ``project`` into ``packages_dir`` (the local index); return their file names.

    pip resolves them against the indexes pip is configured with, then
    downloads each dependency's file for this interpreter. Dependencies
    stated in ``[project]`` and not ``dynamic`` are final (PEP 621: no
    backend adds to them, a ``setup.py`` included): pip resolves those
    requirements alone, and an empty list asks nothing. Otherwise pip builds
    the project's metadata (nothing is compiled) to learn them.
    Raises :class:`ReleaseError` when pip cannot resolve or download them.
    """
    static = _static_dependencies(project)
    if static == []:
        return []
    report = log.parent / "dependencies-report.json"
    _pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
          *(static if static is not None else [str(project)])], log, "resolving the project's runtime dependencies")
    data = json.loads(report.read_text(encoding="utf-8"))
    from packaging.utils import canonicalize_name

    wanted = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in data.get("install", [])
        if canonicalize_name(item["metadata"]["name"]) != canonicalize_name(package)
    ]
    if not wanted:
        return []
    before = set(os.listdir(packages_dir)) if packages_dir.is_dir() else set()
    packages_dir.mkdir(parents=True, exist_ok=True)
    _pip(["download", "--no-deps", "--quiet", "--dest", str(packages_dir), *wanted], log,
         "downloading the project's runtime dependencies")
    return sorted(set(os.listdir(packages_dir)) - before)


def _static_dependencies(project: Path) -> list[str] | None:
    """``[project] dependencies`` when pyproject.toml states them statically; None when only a build can tell."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        return None
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    table = data.get("project")
    if not isinstance(table, dict) or "dependencies" in table.get("dynamic", []):
        return None
    dependencies = table.get("dependencies", [])
    return [str(item) for item in dependencies] if isinstance(dependencies, list) else None


def _pip(args: list[str], log: Path, what: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    try:
        proc = processes.run(command, timeout=CLONE_TIMEOUT, log=log, title=what, merge_stderr=False,
                             env={**os.environ, "PIP_NO_INPUT": "1"})
    except processes.CommandTimeout as exc:
        raise ReleaseError(f"The rehearsal timed out {what}; see {log}.",
                           hint="Check that pip can reach the project's usual index.") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ReleaseError(
            f"The rehearsal failed {what} (pip exit {proc.returncode}):\n{tail}",
            hint=f"The local index must serve the release's dependencies; see {log}, and check that pip can "
            "reach the project's usual index.",
        )
