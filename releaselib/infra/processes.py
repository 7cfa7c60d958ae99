"""The one way releaselib runs an external command, and the end of whatever a run left behind.

Every program releaselib starts (git's network calls, pip and uv, build,
twine, auditwheel, compilers, a project's test command, the demo's servers)
starts through :func:`run` or :func:`start`, which promise the same things:

- **Its own session**, so the whole process group (pytest's workers, a
  compiler started by pip, git's transport helpers) can be ended at once.
- **A timeout**: past it the whole group is killed and :class:`CommandTimeout`
  is raised with what the command printed so far.
- **Interrupts end it**: a ``KeyboardInterrupt`` (a notebook's "interrupt
  kernel") kills the group before it propagates, and every live group is
  listed by :func:`live_process_groups` so a signal handler can end them all
  with :func:`terminate_all`.
- **One environment policy** (:func:`child_env`): nothing from the caller's
  Python setup leaks in (``PYTHONPATH``, an active venv, pyenv's choice), no
  program can prompt (pip, git, ssh), no colour and no progress bars, and no
  upload credential reaches a command that was not given it explicitly.
- **One log format** (:func:`append_log`): the command, its folder, its
  output with terminal escape sequences removed, and how it ended.

A runner killed with SIGKILL cannot stop what it started: its kernel notices
and exits, but processes in sessions of their own keep running. Every process
of a run inherits :data:`RUN_ID_ENV`; a run that takes over a dead run's lock
ends every process still carrying that run's id (:func:`end_processes_of_run`,
Linux only: it reads ``/proc``).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "RUN_ID_ENV",
    "CommandTimeout",
    "Scope",
    "Stopped",
    "Completed",
    "Started",
    "append_log",
    "child_env",
    "end_processes_of_run",
    "live_process_groups",
    "processes_of_run",
    "run",
    "run_in_terminal",
    "spawn",
    "start",
    "strip_ansi",
    "terminate_all",
]

#: Set by the runner for the duration of a run; kernels and their children inherit it.
RUN_ID_ENV = "RELEASELIB_RUN_ID"

#: Seconds a command may take when the caller does not say.
DEFAULT_TIMEOUT = 900.0

Argv = Sequence["str | os.PathLike[str]"]

# --------------------------------------------------------------------------- the environment policy

# The caller's Python setup must not reach another interpreter or environment:
# its packages (PYTHONPATH, user site), its home, an active venv, pyenv's pick.
_PYTHON_LEAKS = (
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONEXECUTABLE",
    "PYTHONSAFEPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_VERSION", "__PYVENV_LAUNCHER__", "UV_PYTHON",
)  # fmt: skip
# Anything that would turn colour or terminal mode on where nobody watches. rich (pip,
# twine) treats FORCE_COLOR=0 as "this is a terminal", so it is removed, not set to 0.
_COLOUR_FORCERS = ("FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
# A dialog nobody sees would wait forever.
_PROMPTERS = ("GIT_ASKPASS", "SSH_ASKPASS")

_QUIET = {
    # no colour, no progress bars, no terminal tricks
    "NO_COLOR": "1",
    "PY_COLORS": "0",
    "CLICOLOR": "0",
    "TTY_COMPATIBLE": "0",
    "TERM": "dumb",
    "PIP_PROGRESS_BAR": "off",
    "UV_NO_PROGRESS": "1",
    # never ask
    "PIP_NO_INPUT": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    # no user site-packages in any interpreter we start
    "PYTHONNOUSERSITE": "1",
    # uv never downloads a Python of its own: the configured interpreters are the ones tested
    "UV_PYTHON_DOWNLOADS": "never",
}


def child_env(
    extra: Mapping[str, str] | None = None,
    *,
    drop: Iterable[str] = (),
    venv: str | os.PathLike[str] | None = None,
    base: Mapping[str, str] | None = None,
    keep_credentials: bool = False,
) -> dict[str, str]:
    """The environment every command releaselib starts gets.

    Starts from ``base`` (default: this process's environment), removes the
    caller's Python setup, anything that forces colour, askpass programs,
    upload credentials (``TWINE_*``, unless ``keep_credentials``: a project's
    test command never needs the index password) and the names in ``drop``;
    sets the quiet, never-prompting defaults; makes ssh fail instead of
    asking (unless the maintainer set their own ssh command); activates
    ``venv`` when given (its ``bin`` first on ``PATH``); finally applies
    ``extra``, which wins over everything.
    """
    dropped = {*_PYTHON_LEAKS, *_COLOUR_FORCERS, *_PROMPTERS, *drop}
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if k not in dropped and (keep_credentials or not k.startswith("TWINE_"))
    }
    env.update(_QUIET)
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -oBatchMode=yes"
    if venv is not None:
        root = Path(venv)
        env["VIRTUAL_ENV"] = str(root)
        env["PATH"] = str(root / ("Scripts" if os.name == "nt" else "bin")) + os.pathsep + env.get("PATH", "")
    for name in drop:  # a name the caller drops stays dropped, even one of the defaults
        env.pop(name, None)
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------- output and logs

# CSI (colours, cursor moves), OSC (titles, links) and the lone two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences; a carriage-return redraw keeps only its last state."""
    text = _ANSI.sub("", text)
    if "\r" in text:
        lines = text.replace("\r\n", "\n").split("\n")
        text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)
    return text


def _shown(argv: Argv | str) -> str:
    return argv if isinstance(argv, str) else shlex.join(os.fspath(a) for a in argv)


def append_log(
    log: str | os.PathLike[str] | None,
    argv: Argv | str,
    cwd: str | os.PathLike[str] | None,
    output: str,
    status: str,
    *,
    title: str = "",
) -> None:
    """Append one command to ``log`` in the one format every log of a release uses::

        $ python -m pip install ...        (after "## title" when given)
        # cwd: /tmp/...
        <output, escape sequences removed>
        # exit 0 after 1.2 s

    Does nothing when ``log`` is None.
    """
    if log is None:
        return
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        _write_head(handle, argv, cwd, title)
        _write_tail(handle, output, status)


def _write_head(handle: IO[str], argv: Argv | str, cwd: str | os.PathLike[str] | None, title: str) -> None:
    if title:
        handle.write(f"## {title}\n")
    handle.write(f"$ {_shown(argv)}\n")
    if cwd is not None:
        handle.write(f"# cwd: {cwd}\n")
    handle.flush()


def _write_tail(handle: IO[str], output: str, status: str) -> None:
    output = strip_ansi(output)
    handle.write(output)
    if output and not output.endswith("\n"):
        handle.write("\n")
    handle.write(f"# {status}\n\n")
    handle.flush()


# --------------------------------------------------------------------------- the live process groups

_live: dict[int, subprocess.Popen[Any]] = {}
_live_lock = threading.Lock()


def live_process_groups() -> list[int]:
    """The process group ids of every command started here that has not ended yet."""
    return sorted(pgid for pgid, proc in list(_live.items()) if proc.poll() is None)


def terminate_all(grace: float = 2.0, groups: Iterable[int] | None = None) -> list[int]:
    """End every live process group started here (or only ``groups``): SIGTERM, then SIGKILL after ``grace`` s.

    Safe to call from a signal handler (takes no lock) and more than once.
    Returns the group ids it signalled.
    """
    live = dict(_live)  # a snapshot: no lock, so a handler cannot deadlock with a starting thread
    groups = {p: live[p] for p in (live if groups is None else groups) if p in live}
    signalled = [pgid for pgid, proc in groups.items() if proc.poll() is None and _signal_group(pgid, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(groups[p].poll() is None for p in signalled):
        time.sleep(0.02)
    for pgid in signalled:
        _signal_group(pgid, signal.SIGKILL)  # the leader may be gone while its children are not
    return signalled


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the process's whole group (its session) and reap the leader."""
    if not _signal_group(proc.pid, signal.SIGKILL):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable (D-state) process
        pass


def _popen(argv: Argv | str, *, scope: Scope | None = None, **kwargs: Any) -> subprocess.Popen[Any]:
    with _live_lock:
        if scope is not None and scope.stopped:
            raise Stopped("its work was stopped before it started")
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # noqa: S603
        _live[proc.pid] = proc
        if scope is not None:
            scope.groups.add(proc.pid)
    return proc


def _forget(proc: subprocess.Popen[Any], scope: Scope | None = None) -> None:
    with _live_lock:
        _live.pop(proc.pid, None)
        if scope is not None:
            scope.groups.discard(proc.pid)


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Completed:
    """How a command ended. ``stdout`` holds stderr too unless the caller asked for them apart.

    With ``text=False`` the output is in ``data`` (bytes) and ``stdout`` is empty.
    """

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandTimeout(Exception):
    """A command ran past its timeout; its whole process group was killed.

    ``output`` is what it printed until then (text). Callers translate this
    into their own :class:`~releaselib.core.errors.ReleaseError`.
    """

    def __init__(self, argv: Sequence[str], timeout: float, output: str) -> None:
        super().__init__(f"`{_shown(argv)}` did not finish within {timeout:g} s")
        self.argv = list(argv)
        self.timeout = timeout
        self.output = output


class Scope:
    """The commands one piece of work started, so that work can be stopped alone (see :func:`run`).

    After :meth:`stop`, every command of the scope still running is killed
    and :func:`run` refuses to start another one (raises :class:`Stopped`).
    """

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.stopped = False

    def stop(self) -> None:
        # Under the lock that starts commands: none can start between the flag and the snapshot.
        with _live_lock:
            self.stopped = True
            groups = set(self.groups)
        terminate_all(grace=0.0, groups=groups)


class Stopped(Exception):
    """A command was not started, or was ended, because its :class:`Scope` was stopped."""


def run(
    argv: Argv | str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    log: str | os.PathLike[str] | None = None,
    title: str = "",
    merge_stderr: bool = True,
    text: bool = True,
    input: str | bytes | None = None,  # noqa: A002 - subprocess's name
    shell: bool = False,
    scope: Scope | None = None,
) -> Completed:
    """Run ``argv`` to its end in a session of its own; return a :class:`Completed`.

    ``env`` is the complete environment (default: :func:`child_env`); stdin is
    empty unless ``input`` is given. With ``merge_stderr`` (the default) the
    output is one interleaved text in ``stdout``. Text output has terminal
    escape sequences removed. With ``log``, the command and its output are
    appended in the format of :func:`append_log` (the command line is written
    before it starts, so a stalled step shows in the log).

    A non-zero exit is returned, not raised: the caller knows what it means.
    Raises :class:`CommandTimeout` past ``timeout`` seconds, :class:`Stopped`
    when ``scope`` was stopped, and :class:`OSError` (``FileNotFoundError``...)
    when the program cannot start; on any exception, ``KeyboardInterrupt``
    included, the whole process group is killed first.
    """
    args: Any = argv if isinstance(argv, str) else [os.fspath(a) for a in argv]
    shown = [args] if isinstance(args, str) else list(args)
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            _write_head(handle, args, cwd, title)
    started = time.monotonic()
    status = ""
    stdout: Any = None
    stderr: Any = None
    try:
        proc = _popen(
            args,
            scope=scope,
            cwd=cwd,
            env=dict(env) if env is not None else child_env(),
            shell=shell,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=text,
            errors="replace" if text else None,
        )
    except (OSError, Stopped) as exc:
        _log_tail(log, "", f"could not start: {exc}")
        raise
    try:
        stdout, stderr = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        stdout, stderr = proc.communicate()
        output = strip_ansi(_as_text(stdout) + _as_text(stderr))
        _log_tail(log, output, f"killed after {timeout:g} s (timeout)")
        raise CommandTimeout(shown, timeout, output) from None
    except BaseException:
        _kill(proc)
        _log_tail(log, "", "killed (interrupted)")
        raise
    finally:
        _forget(proc, scope)
    duration = time.monotonic() - started
    data = b""
    if text:
        stdout, stderr = strip_ansi(stdout or ""), strip_ansi(stderr or "")
    else:
        data, stdout, stderr = stdout or b"", "", _as_text(stderr)
    if scope is not None and scope.stopped:
        status = " (stopped)"
    _log_tail(log, stdout + stderr if text else f"({len(data)} bytes of output)\n" + stderr,
              f"exit {proc.returncode} after {duration:.1f} s{status}")  # fmt: skip
    if status:
        raise Stopped(f"`{_shown(shown)}` was stopped")
    return Completed(shown, proc.returncode, stdout, stderr, duration, data)


def _log_tail(log: str | os.PathLike[str] | None, output: str, status: str) -> None:
    if log is not None:
        with open(log, "a", encoding="utf-8") as handle:
            _write_tail(handle, output, status)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class Started:
    """A long-running command (a local server) started by :func:`start`; :meth:`stop` ends its group."""

    def __init__(self, proc: subprocess.Popen[Any]) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        """The exit code once it has ended, else None."""
        code = self._proc.poll()
        if code is not None:
            _forget(self._proc)
        return code

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it ends; its exit code. Raises :class:`subprocess.TimeoutExpired` past ``timeout``."""
        code = self._proc.wait(timeout=timeout)
        _forget(self._proc)
        return code

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole group, SIGKILL it after ``timeout`` seconds; safe to call twice."""
        try:
            if self._proc.poll() is None:
                _signal_group(self._proc.pid, signal.SIGTERM)
                try:
                    self._proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _kill(self._proc)
            _signal_group(self._proc.pid, signal.SIGKILL)  # whatever it started
        finally:
            _forget(self._proc)


def start(
    argv: Argv,
    *,
    log: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Started:
    """Start ``argv`` in the background, in a session of its own, its output appended to the file ``log``.

    A file, not a pipe: nobody reads a pipe while a server runs, and a full
    pipe would block it mid-request. Raises :class:`OSError` when the program
    cannot start.
    """
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        _write_head(handle, argv, cwd, "")
        return Started(
            _popen(
                [os.fspath(a) for a in argv],
                cwd=cwd,
                env=dict(env) if env is not None else child_env(),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        )


def spawn(argv: Argv, *, cwd: str | os.PathLike[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> Started:
    """Start a helper program of releaselib's own (the kernel zygote) in a session of its own.

    Unlike :func:`start`, it gets exactly ``env`` (a kernel's environment, not
    :func:`child_env`'s), keeps this process's stdout and stderr, as a kernel
    does, and receives the descriptors ``pass_fds``.
    """
    return Started(_popen([os.fspath(a) for a in argv], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                          pass_fds=tuple(pass_fds)))


def run_in_terminal(
    argv: Argv, *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> int:
    """Run an interactive program (JupyterLab) in the user's terminal until it exits; its exit code.

    The one exception to the rules above, on purpose: it keeps the terminal,
    the caller's environment (or ``env``) and the caller's session, so Ctrl+C
    reaches it as the user expects, and it has no timeout. Ctrl+C here only
    keeps waiting (the program got it too and decides; JupyterLab asks, then
    shuts its kernels down), and a SIGTERM is passed on to it: it is never
    killed outright, which would leave its own children (kernels) running.
    """
    import signal

    proc = subprocess.Popen([os.fspath(a) for a in argv], cwd=cwd, env=None if env is None else dict(env))  # noqa: S603
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- a dead run's leftovers


def processes_of_run(run_id: str) -> list[int]:
    """Pids of live processes (of this user) whose environment carries ``run_id``; never this process."""
    if not run_id:
        return []
    needle = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def end_processes_of_run(run_id: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL every process of ``run_id`` and wait until none is left; return the pids ended.

    Processes still alive after ``timeout`` seconds are left (and not listed
    as ended): zombies of a reaped parent vanish on their own.
    """
    ended: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in processes_of_run(run_id) if not _zombie(pid)]
        if not pids or time.monotonic() > deadline:
            return ended
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            except PermissionError:
                continue
            if pid not in ended:
                ended.append(pid)
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
