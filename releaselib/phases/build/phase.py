"""The build phase: every step for a release, its result, and the files it left for publish."""

from __future__ import annotations

import dataclasses
import html
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from releaselib.core.errors import BuildError, ReleaseError
from releaselib.core.registry import BUILD
from releaselib.phases.build.artifacts import Artifact, InterpreterLike, _CurrentPython
from releaselib.phases.build.coverage import Coverage, collect_wheelhouse, wheelhouse_coverage
from releaselib.infra import processes, venv
from releaselib.phases.build.artifacts import RESUME_HINT
from releaselib.phases.build.install import InstallTest, TestEnvironments, create_venv, install_test
from releaselib.phases.build.steps import (
    _clean_env,
    _commit_time,
    _parallel,
    _raise_all,
    _run,
    _tail,
    build_sdist,
    build_wheels,
    checkout_release,
    repair_wheels,
    twine_check,
)

if TYPE_CHECKING:
    from releaselib.core.config_types import Config
    from releaselib.engine.context import Release

# --------------------------------------------------------------------------- the phase


@dataclass
class BuildResult:
    """What the build phase produced: the files in ``dist``, their install tests, the wheel coverage."""

    version: str
    dist_dir: Path
    artifacts: list[Artifact]
    install_tests: list[InstallTest] = field(default_factory=list)
    coverage: Coverage | None = None
    interpreters: list[str] = field(default_factory=list)
    duration: float = 0.0
    twine_warnings: list[str] = field(default_factory=list)  # kept when twine-strict = false
    pre_build: str | None = None  # the configured pre-build command that ran in the export

    @property
    def sdist(self) -> Artifact | None:
        return next((a for a in self.artifacts if a.kind == "sdist"), None)

    @property
    def wheels(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == "wheel"]

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready description for ``release.record("build", ...)``."""
        return {
            "version": self.version,
            "dist_dir": str(self.dist_dir),
            "files": [a.as_record() for a in self.artifacts],
            "install_tests": [t.as_record() for t in self.install_tests],
            "coverage": self.coverage.as_record() if self.coverage else None,
            "interpreters": list(self.interpreters),
            "duration": round(self.duration, 1),
            "twine_warnings": list(self.twine_warnings),
            "pre_build": self.pre_build,
        }

    def _tests_for(self, filename: str) -> str:
        tests = [t for t in self.install_tests if t.filename == filename]
        if not tests:
            return "not tested here"
        return ", ".join(f"{'passed' if t.passed else 'FAILED'} on {t.python}" for t in tests)

    def __str__(self) -> str:
        lines = [f"{len(self.artifacts)} file(s) for version {self.version} in {self.dist_dir}"]
        for a in self.artifacts:
            lines.append(f"  {a.filename}  {a.size:>9,d} B  sha256 {a.sha256[:16]}...  {self._tests_for(a.filename)}")
        if self.pre_build:
            lines.append(f"pre-build step run in the export: {self.pre_build} (log: pre-build.log)")
        for warning in self.twine_warnings:
            lines.append(f"twine check warning (twine-strict = false): {warning}")
        if self.coverage is not None:
            lines.append(str(self.coverage))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(a.filename)}</code></td><td>{html.escape(a.kind)}</td>"
            f"<td>{html.escape(a.python_tag)}</td><td>{html.escape(a.platform_tag)}</td>"
            f"<td style='text-align:right'>{a.size:,d}</td><td><code>{a.sha256[:16]}…</code></td>"
            f"<td>{html.escape(self._tests_for(a.filename))}</td></tr>"
            for a in self.artifacts
        )
        table = (
            f"<p><strong>{len(self.artifacts)} file(s)</strong> for version {html.escape(self.version)} in "
            f"<code>{html.escape(str(self.dist_dir))}</code> ({self.duration:.0f} s)</p>"
            "<table><thead><tr><th>file</th><th>kind</th><th>python</th><th>platform</th><th>bytes</th>"
            f"<th>sha256</th><th>install test</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        if self.pre_build:
            table += f"<p>Pre-build step run in the export: <code>{html.escape(self.pre_build)}</code></p>"
        for warning in self.twine_warnings:
            table += f"<p><strong>twine check warning</strong> (twine-strict = false): {html.escape(warning)}</p>"
        if self.coverage is not None:
            table += "<p><strong>Wheel coverage</strong></p>" + self.coverage._repr_html_()
        return table


def _interpreters_for(config: Config) -> list[InterpreterLike]:
    versions = tuple(config.matrix.python)
    if not versions:
        return [_CurrentPython()]
    from releaselib.infra.interpreters import find_interpreters

    # A configured Python that is missing (and not allowed to be) raises MatrixError, naming it.
    found = find_interpreters(versions, allow_missing=tuple(config.matrix.allow_missing))
    if not found.found:
        raise BuildError(
            f"None of the configured Pythons ({', '.join(versions)}) is installed on this machine.",
            hint="Install at least one (pyenv install 3.12), or change [tool.releaselib.matrix] python.",
        )
    return list(found.found)


def build_release(release: Release, *, interpreters: Sequence[InterpreterLike] | None = None) -> BuildResult:
    """Build, repair, check and install-test every file of ``release`` from its tag.

    Exports ``release.tag``, builds the sdist, one wheel per configured
    interpreter found (one pure wheel for a pure project) from the sdist,
    repairs Linux wheels to manylinux, adds the wheelhouse's wheels, runs
    ``twine check --strict``, installs and tests each wheel on its interpreter
    (a pure wheel on every one) and the sdist on the first, then checks the
    platform x Python coverage. The final files are in
    ``release.record_dir / "dist"`` (emptied first: a re-run rebuilds).
    Full logs go to ``release.logs_dir``. Raises :class:`BuildError` at the
    first failing step; nothing has been pushed or uploaded by then.
    """
    started = time.monotonic()
    config = release.config
    matrix = config.matrix
    chosen = list(interpreters) if interpreters is not None else _interpreters_for(config)
    logs = release.logs_dir
    dist = Path(release.record_dir) / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    drop = [matrix.no_extension_variable[0]] if matrix.no_extension_variable else []
    build_env = _clean_env(drop=drop)
    if config.version_source == "scm":
        # The tag is the version, but the clean export has no .git to read it from: tell
        # setuptools-scm (and hatch-vcs, which uses it) the tag's version; _check_version
        # below proves every file was built as that version.
        build_env["SETUPTOOLS_SCM_PRETEND_VERSION"] = release.version
    ref = _release_ref(release)
    epoch = _commit_time(Path(release.repo), ref)
    if epoch:
        # Same commit, same timestamps in the archives: a rebuild is as close to identical as the backend allows.
        build_env["SOURCE_DATE_EPOCH"] = epoch
    for name in ("build-sdist.log", "repair.log", "twine-check.log"):
        (logs / name).unlink(missing_ok=True)
    for old in logs.glob("build-wheel-*.log"):
        old.unlink()

    with tempfile.TemporaryDirectory(prefix="releaselib-build-") as tmp, ExitStack() as cleanup:
        work = Path(tmp)
        # The install tests' environments are made while the files build (the sdist build, the repair and
        # the checks leave a core idle); each install test gets a copy of its interpreter's.
        environments = TestEnvironments(work / "test-envs", matrix.test_requires, timeout=matrix.timeout)
        cleanup.callback(environments.close)
        environments.start(chosen)
        export = checkout_release(Path(release.repo), ref, work / "export")
        if ref == "HEAD":
            _bump_export(release, export)
        if matrix.pre_build:
            run_pre_build(matrix.pre_build, export, chosen[0], work / "pre-build-venv",
                          log=logs / "pre-build.log", timeout=matrix.timeout, requires=matrix.pre_build_requires)
        staging = work / "dist"
        sdist = build_sdist(export, staging, log=logs / "build-sdist.log", env=build_env, timeout=matrix.timeout)
        _check_version(sdist, config.package, release.version)
        built = build_wheels(sdist.path, staging, chosen, logs_dir=logs, env=build_env, timeout=matrix.timeout)
        by_python = {a.filename: v for v, a in built.items()}
        repaired = repair_wheels(list(built.values()), staging, log=logs / "repair.log")
        wheel_python = {new.filename: by_python[old.filename] for old, new in zip(built.values(), repaired)}
        for wheel in repaired:
            _check_version(wheel, config.package, release.version)
        foreign: list[Artifact] = []
        if matrix.wheelhouse:
            folder = Path(matrix.wheelhouse)
            if not folder.is_absolute():
                folder = Path(config.root) / folder
            ours = {w.filename for w in repaired}
            foreign = [w for w in collect_wheelhouse(folder, config.package, release.version) if w.filename not in ours]
        twine_warnings = twine_check([sdist, *repaired], log=logs / "twine-check.log", strict=matrix.twine_strict)

        finals: list[Artifact] = []
        for artifact in [sdist, *repaired, *foreign]:
            target = dist / artifact.filename
            shutil.copy2(artifact.path, target)
            finals.append(artifact.moved_to(target))

        jobs: list[tuple[Artifact, InterpreterLike]] = []
        by_version = {i.version: i for i in chosen}
        for artifact in finals:
            if artifact.origin != "built":
                continue
            if artifact.kind == "sdist":
                jobs.append((artifact, chosen[0]))
            elif artifact.is_pure:
                jobs.extend((artifact, i) for i in chosen)
            else:
                jobs.append((artifact, by_version[wheel_python[artifact.filename]]))

        def run(job: tuple[Artifact, InterpreterLike]) -> InstallTest | BuildError:
            artifact, interpreter = job
            try:
                return install_test(
                    artifact,
                    interpreter,
                    export,
                    matrix.test_command,
                    logs_dir=logs,
                    test_requires=tuple(matrix.test_requires),
                    import_name=config.import_name,
                    extension_check=matrix.extension_check if any(not a.is_pure for a in repaired) else None,
                    drop_env=drop,
                    timeout=matrix.timeout,
                    workdir=work,
                    distribution=config.package,
                    environments=environments,
                )
            except BuildError as exc:
                return exc

        outcomes = _parallel(run, jobs)
    failures = [o for o in outcomes if isinstance(o, BuildError)]
    tests = [o for o in outcomes if isinstance(o, InstallTest)]
    if failures:
        _raise_all(failures)

    coverage = wheelhouse_coverage(
        finals,
        list(matrix.python) or [i.requested for i in chosen],
        tuple(matrix.platforms) or ("linux",),
        tuple(matrix.allow_missing_platforms),
        allow_missing_pythons=tuple(matrix.allow_missing),
    )
    result = BuildResult(
        version=release.version,
        dist_dir=dist,
        artifacts=finals,
        install_tests=tests,
        coverage=coverage,
        interpreters=[i.version for i in chosen],
        duration=time.monotonic() - started,
        twine_warnings=twine_warnings,
        pre_build=matrix.pre_build,
    )
    coverage.raise_for_missing()
    return result


def run_pre_build(
    command: str, export: Path, interpreter: InterpreterLike, venv_dir: Path, *, log: Path, timeout: float,
    requires: Sequence[str] = (),
) -> None:
    """Run the configured pre-build ``command`` in ``export`` (e.g. cythonize), logged to ``log``.

    It runs through ``/bin/sh -c`` in a fresh venv on ``interpreter`` holding
    the project's build requirements and ``requires`` (``pre-build-requires``:
    Cython, where the build only compiles the C file), as the matrix cells do.
    Raises :class:`BuildError` naming the log when it fails.
    """
    from releaselib.phases.installed import shell_argv
    from releaselib.phases.matrix import build_requires

    log.unlink(missing_ok=True)
    create_venv(interpreter, venv_dir, log=log, timeout=timeout, with_pip=False)
    environment = venv.VirtualEnv(venv_dir)
    env = environment.env()
    try:
        venv.install(environment, list(dict.fromkeys([*build_requires(export), *requires])), log=log,
                     timeout=timeout, title="pre-build requirements", env=env)  # fmt: skip
    except processes.CommandTimeout as exc:
        raise BuildError(f"Installing the build requirements took over {timeout:.0f} s; see {log}.",
                         hint="Check the index and the load, then resume.") from exc  # fmt: skip
    proc = _run(shell_argv(command), log=log, what=f"The pre-build step `{command}`", cwd=export, env=env,
                timeout=timeout)  # fmt: skip
    if proc.returncode != 0:
        raise BuildError(
            f"The pre-build step `{command}` failed (exit {proc.returncode}); see {log}.\n{_tail(proc.stdout, 1200)}",
            hint="Fix `pre-build` in [tool.releaselib.matrix] or the project at the tag, then "
            f"`releaselib run VERSION --resume` ({RESUME_HINT}).",
        )


def _check_version(artifact: Artifact, package: str, version: str) -> None:
    if canonicalize_name(artifact.name) != canonicalize_name(package) or Version(artifact.version) != Version(version):
        raise BuildError(
            f"The build produced {artifact.filename} ({artifact.name} {artifact.version}), but the release is "
            f"{package} {version}.",
            hint="The version files at the tag do not hold the release version: run the bump and commit_tag "
            "phases for this version, then build again.",
        )


def _release_ref(release: Release) -> str:
    """The tag; in a dry run before the tag exists, HEAD (the commit the tag would name)."""
    from releaselib.infra.git import commit_of

    try:
        commit_of(release.repo, release.tag)
    except ReleaseError:
        if getattr(release, "dry_run", False):
            return "HEAD"
        raise
    return str(release.tag)


def _bump_export(release: Release, export: Path) -> None:
    """In a dry run, set the release version in the export (never in the repository).

    The build then makes exactly the files a real run would, from the commit
    the tag would name plus the version edits the bump phase would commit.
    """
    from dataclasses import replace

    from releaselib.infra.config import load_config
    from releaselib.phases.bump import plan_release_bump

    config = load_config(export)
    shadow = replace(release, repo=export, config=config, dry_run=False, values={})
    plan_release_bump(shadow).execute(dry_run=False)


def recorded_artifacts(release: Release) -> list[Artifact]:
    """The files the build phase recorded, checked unchanged on disk since (for publish)."""
    build = release.recorded(BUILD, "build")
    return built_artifacts(release, build["files"])


def built_artifacts(release: Release, recorded: Sequence[Mapping[str, Any]] | None = None) -> list[Artifact]:
    """The files the build phase left in ``release.record_dir / "dist"``, for the publish phase.

    With ``recorded`` (the ``files`` list of :meth:`BuildResult.as_record`, as
    read back from the record), checks that exactly those files are there with
    the recorded sha256, so publish uploads what was built and tested, not
    something that changed since. Raises :class:`BuildError` when the folder
    is missing or empty, or a file is missing, extra or changed.
    """
    dist = Path(release.record_dir) / "dist"
    files = sorted(p for p in dist.iterdir() if p.is_file()) if dist.is_dir() else []
    if not files:
        raise BuildError(
            f"No built files in {dist}.",
            hint="Run the build phase first (`releaselib run VERSION --resume` runs what is left).",
        )
    artifacts = [Artifact.from_path(p) for p in files]
    if recorded is not None:
        expected = {str(f["filename"]): str(f["sha256"]) for f in recorded}
        found = {a.filename: a.sha256 for a in artifacts}
        problems = [f"{name} is missing" for name in expected if name not in found]
        problems += [f"{name} was not built by the build phase" for name in found if name not in expected]
        problems += [
            f"{name} changed since it was built (sha256 {found[name][:16]}…, recorded {sha[:16]}…)"
            for name, sha in expected.items()
            if name in found and found[name] != sha
        ]
        if problems:
            raise BuildError(
                f"The files in {dist} are not the ones the build phase recorded: " + "; ".join(problems) + ".",
                hint="Re-run the build phase to rebuild and re-test them, then publish.",
            )
        origins = {str(f["filename"]): str(f.get("origin", "built")) for f in recorded}
        artifacts = [dataclasses.replace(a, origin=origins[a.filename]) for a in artifacts]
    return artifacts
