"""The one way releaselib makes a virtual environment, installs into it and builds distributions.

uv does the mechanical work when it is available (it ships as a wheel and is a
dependency of releaselib): ``uv venv`` in milliseconds instead of seconds,
``uv pip install`` from a shared cache, ``uv build``. The stdlib ``venv`` with
pip and pypa/build are the fallback when uv cannot be found, or when
``RELEASELIB_INSTALLER=pip`` asks for them. Both give the same result: the
same interpreter, the same packages, the same PEP 517 backend building the
same files.

What a cache may hold: third-party packages (test tools, build
requirements). What it may never hold: the project under release. Every
install of the project passes ``no_cache=True`` (pip would otherwise reuse a
wheel built with the C extension for a cell that asked for none).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from releaselib.core.errors import ReleaseError
from releaselib.infra import processes

__all__ = [
    "INSTALLER_ENV", "VenvError", "VirtualEnv", "build", "copy", "create", "install", "install_project",
    "tool_versions", "uv_binary", "uv_env", "warm",
]

#: ``pip`` forces the venv + pip + pypa/build fallback even where uv is available.
INSTALLER_ENV = "RELEASELIB_INSTALLER"


class VenvError(ReleaseError):
    """A virtual environment could not be made."""


_UV_LOCK = threading.Lock()


def uv_binary() -> str | None:
    """The uv executable to use, or None for the fallback (uv missing, or ``RELEASELIB_INSTALLER=pip``).

    Looked up once per process, under a lock: matrix cells start from several
    threads at once, and ``sysconfig`` (which uv's ``find_uv_bin`` reads) is
    not safe to initialise from two threads (it returned None to one of them).
    """
    if os.environ.get(INSTALLER_ENV, "").strip().lower() == "pip":
        return None
    with _UV_LOCK:
        return _find_uv()


@functools.cache
def _find_uv() -> str | None:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def uv_env(env: Mapping[str, str]) -> dict[str, str]:
    """pip's index settings, as uv reads them: a maintainer's mirror must serve uv too."""
    env = dict(env)
    if env.get("PIP_INDEX_URL") and not (env.get("UV_DEFAULT_INDEX") or env.get("UV_INDEX_URL")):
        env["UV_DEFAULT_INDEX"] = env["PIP_INDEX_URL"]
    if env.get("PIP_EXTRA_INDEX_URL") and not env.get("UV_INDEX"):
        env["UV_INDEX"] = env["PIP_EXTRA_INDEX_URL"]
    return env


@dataclass(frozen=True)
class VirtualEnv:
    """A virtual environment at ``root``."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def env(self, extra: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()) -> dict[str, str]:
        """The environment a command run inside this venv gets (:func:`processes.child_env`, activated)."""
        return processes.child_env(extra, drop=drop, venv=self.root)


def create(
    interpreter: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    log: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
    with_pip: bool = False,
    scope: processes.Scope | None = None,
) -> VirtualEnv:
    """A fresh virtual environment at ``dest`` on ``interpreter``.

    ``uv venv`` (with pip inside only when ``with_pip``), else ``-m venv``.
    Raises :class:`VenvError` naming the interpreter and the log when neither
    works, :class:`processes.CommandTimeout` past ``timeout``, and
    :class:`processes.Stopped` when ``scope`` is stopped.
    """
    dest = Path(dest)
    venv = VirtualEnv(dest)
    uv = uv_binary()
    what = f"Creating a virtual environment on {interpreter}"
    if uv is not None:
        command: list[str | os.PathLike[str]] = [
            uv, "venv", "--quiet", "--no-project", "--no-config", "--python", os.fspath(interpreter), dest,
        ]  # fmt: skip
        if with_pip:
            command.insert(2, "--seed")
        proc = processes.run(command, log=log, timeout=timeout, title=what, env=uv_env(processes.child_env()),
                             scope=scope)  # fmt: skip
        if proc.ok and venv.python.exists():
            return venv
        shutil.rmtree(dest, ignore_errors=True)  # try the stdlib before giving up
    proc = processes.run([os.fspath(interpreter), "-m", "venv", dest], log=log, timeout=timeout, title=what,
                         scope=scope)  # fmt: skip
    if proc.ok and venv.python.exists():
        return venv
    raise VenvError(
        f"Could not create a virtual environment on {interpreter} at {dest}: "
        f"{proc.stdout.strip()[-800:] or f'exit {proc.returncode}'}",
        hint="Check that the interpreter has venv and ensurepip (Debian: apt install python3-venv)"
        + (f"; see {log}." if log else "."),
    )


# Imports each module named on the command line that can be imported (``package.*``: each module of
# the package too); the rest are not the environment's. Runs on every Python releaselib meets (3.6+).
_WARM = (
    "import importlib, pkgutil, sys\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        module = importlib.import_module(name[:-2] if name.endswith('.*') else name)\n"
    "        if name.endswith('.*'):\n"
    "            for found in pkgutil.iter_modules(module.__path__, module.__name__ + '.'):\n"
    "                try:\n"
    "                    importlib.import_module(found.name)\n"
    "                except Exception:\n"
    "                    pass\n"
    "    except Exception:\n"
    "        pass\n"
)


def warm(
    venv: VirtualEnv, modules: Sequence[str], *, log: str | os.PathLike[str] | None = None, timeout: float = 300.0,
    scope: processes.Scope | None = None,
) -> processes.Completed:  # fmt: skip
    """Compile the bytecode of ``modules`` in ``venv`` by importing them, even under PYTHONDONTWRITEBYTECODE.

    For an environment made once and copied for many uses (:func:`copy`): its
    copies share the bytecode, where each use would otherwise compile what it
    imports anew. Only what is imported is compiled (``--compile-bytecode``
    compiles every file of every tool: seconds per Python for modules nothing
    imports). ``pkg.*`` imports each module of the package too.
    """
    env = {k: v for k, v in venv.env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    return processes.run([os.fspath(venv.python), "-c", _WARM, *modules], log=log, timeout=timeout,
                         title="bytecode of the modules every use imports", env=env, scope=scope)  # fmt: skip


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dst)


def copy(seed: str | os.PathLike[str], dest: str | os.PathLike[str]) -> VirtualEnv:
    """A private copy of the environment ``seed`` at ``dest``.

    Files are hard-linked, not copied: ten copies of a 40 MB environment
    cost more than the tests on a small machine, and the cost is disk time
    that parallel jobs do not divide. Sharing is safe because nothing writes
    an existing file in place: pip and Python's bytecode cache write new
    files and rename them over old ones, which breaks the link. The few files
    that hold the seed's own path are rewritten as new files.
    """
    seed, dest = Path(seed), Path(dest)
    shutil.copytree(seed, dest, symlinks=True, copy_function=_link_or_copy)
    # Scripts and activate files carry the seed's absolute path; point them at the copy,
    # or a `pytest` script would run in the seed environment, without the project.
    old, new = str(seed).encode(), str(dest).encode()
    for path in [*(dest / "bin").iterdir(), dest / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        mode = path.stat().st_mode
        path.unlink()  # never write through the hard link into the seed
        path.write_bytes(data.replace(old, new))
        path.chmod(mode)
    return VirtualEnv(dest)


def install(
    venv: VirtualEnv,
    args: Sequence[str | os.PathLike[str]],
    *,
    log: str | os.PathLike[str] | None = None,
    timeout: float = 900.0,
    title: str = "",
    no_cache: bool = False,
    no_build_isolation: bool = False,
    compile_bytecode: bool = False,
    config_settings: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    scope: processes.Scope | None = None,
) -> processes.Completed:
    """``pip install ARGS`` into ``venv``: ``uv pip install`` where uv is available, else the venv's pip.

    ``no_cache`` for the project itself (the cache never holds it).
    ``config_settings`` (``KEY=VALUE``) reach the PEP 517 backend of what is
    built: each as ``-CKEY=VALUE`` (attached, so a value starting with ``--``
    stays a value), which both installers read; pip also gets
    ``--use-pep517``, since it ignores config settings when it builds a
    project without ``[build-system]`` through legacy ``setup.py``. ``env``
    defaults to :meth:`VirtualEnv.env`. A non-zero exit is returned, not
    raised; raises :class:`processes.CommandTimeout` past ``timeout``.
    """
    env = dict(env) if env is not None else venv.env()
    uv = uv_binary()
    options: list[str] = []
    if uv is not None:
        command: list[str | os.PathLike[str]] = [uv, "pip", "install", "--python", venv.python]
        options += ["--no-cache"] if no_cache else []
        options += ["--no-build-isolation"] if no_build_isolation else []
        options += ["--compile-bytecode"] if compile_bytecode else []
        env = uv_env(env)
    else:
        command = [venv.python, "-m", "pip", "install", "--progress-bar", "off"]
        options += ["--no-cache-dir"] if no_cache else []
        options += ["--no-build-isolation"] if no_build_isolation else []
        options += ["--use-pep517"] if config_settings else []
    options += [f"-C{setting}" for setting in config_settings]
    return processes.run([*command, *options, *args], log=log, timeout=timeout, title=title, env=env, cwd=cwd,
                         scope=scope)  # fmt: skip


def install_project(
    venv: VirtualEnv,
    source: str | os.PathLike[str],
    *,
    settings: Sequence[str] = (),
    log: str | os.PathLike[str] | None = None,
    timeout: float = 900.0,
    title: str = "",
    env: Mapping[str, str] | None = None,
    scope: processes.Scope | None = None,
) -> processes.Completed:
    """Install the project in the source tree ``source`` into ``venv``, without build isolation
    (``venv`` holds the build requirements) and without any cache.

    With uv: ``uv build --wheel --no-build-isolation`` into a private temporary
    folder, then ``uv pip install --no-cache`` of that wheel, which is what
    ``uv pip install --no-build-isolation .`` does, in one call of the backend
    instead of two (uv asks the backend for the metadata first, then for the
    wheel). With pip: ``pip install --no-build-isolation --no-cache-dir .``.
    ``settings`` are config settings (``KEY=VALUE``), given as for
    :func:`install`. A non-zero exit is returned (the build's, whose output holds the compiler's errors); raises
    :class:`processes.CommandTimeout` past ``timeout`` (the two steps together).
    """
    uv = uv_binary()
    if uv is None:
        return install(venv, ["."], log=log, timeout=timeout, title=title, no_cache=True, no_build_isolation=True,
                       config_settings=settings, env=env, cwd=source, scope=scope)  # fmt: skip
    import tempfile
    import time

    deadline = time.monotonic() + timeout
    run_env = uv_env(dict(env) if env is not None else venv.env())
    out = Path(tempfile.mkdtemp(prefix="releaselib-wheel-"))
    try:
        built = processes.run(
            [uv, "build", "--wheel", "--no-build-isolation", "--no-config", "--python", venv.python, "--out-dir", out,
             *(f"-C{setting}" for setting in settings), "."],
            log=log, timeout=timeout, title=f"{title} (build)".strip(), env=run_env, cwd=source, scope=scope,
        )  # fmt: skip
        wheels = sorted(out.glob("*.whl"))
        if not built.ok or len(wheels) != 1:
            return built if not built.ok else processes.Completed(
                built.argv, 1, f"{built.stdout}\nexpected one wheel in {out}, found {len(wheels)}", "", built.duration)
        return install(venv, wheels, log=log, timeout=max(1.0, deadline - time.monotonic()), title=title,
                       no_cache=True, env=run_env, cwd=source, scope=scope)  # fmt: skip
    finally:
        shutil.rmtree(out, ignore_errors=True)


def build(
    source: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    *,
    kind: str,
    interpreter: str | os.PathLike[str] = sys.executable,
    log: str | os.PathLike[str] | None = None,
    timeout: float = 900.0,
    title: str = "",
    env: Mapping[str, str] | None = None,
) -> processes.Completed:
    """Build an sdist (``kind="sdist"``) or a wheel (``kind="wheel"``) of ``source`` into ``outdir``.

    Always an isolated PEP 517 build with the project's own backend:
    ``uv build`` where uv is available, else pypa/build for the sdist and
    ``<interpreter> -m pip wheel --no-deps --no-cache-dir`` for a wheel.
    ``source`` is a source tree or an sdist. A non-zero exit is returned.
    """
    if kind not in ("sdist", "wheel"):
        raise ValueError(f"kind must be 'sdist' or 'wheel', not {kind!r}")
    base = dict(env) if env is not None else processes.child_env()
    uv = uv_binary()
    command: list[str | os.PathLike[str]]
    if uv is not None:
        command = [uv, "build", f"--{kind}", "--no-config", "--python", interpreter, "--out-dir", outdir, source]
        base = uv_env(base)
    elif kind == "sdist":
        command = [interpreter, "-m", "build", "--sdist", "--outdir", outdir, source]
    else:
        command = [interpreter, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--progress-bar", "off",
                   "--wheel-dir", outdir, source]  # fmt: skip
    return processes.run(command, log=log, timeout=timeout, title=title, env=base)


def tool_versions() -> dict[str, str]:
    """For the release record: ``{"installer": "uv", "uv": "0.9.2"}``, or ``{"installer": "pip"}`` for the fallback.

    The version is the binary's own (``uv --version``), which is the one that ran.
    """
    uv = uv_binary()
    if uv is None:
        return {"installer": "pip"}
    try:
        proc = processes.run([uv, "--version"], timeout=30)
    except (OSError, processes.CommandTimeout):
        return {"installer": "uv", "uv": "unknown"}
    words = proc.stdout.split()
    return {"installer": "uv", "uv": words[1] if proc.ok and len(words) > 1 else "unknown"}
