"""Kernels forked from a zygote that imported ipykernel once (:mod:`releaselib.infra.kernel_zygote`).

A phase's kernel costs about a second to start, most of it importing
ipykernel; the git side of a release runs five phases of a tenth of a second
each. :class:`Zygote` is a process that did those imports once, per run, and
forks a kernel for each request in a quarter of the time. The kernel manager
sees an ordinary kernel: :class:`ForkingProvisioner` is jupyter_client's
:class:`LocalProvisioner` with one change, where the process comes from,
and it launches the ordinary way whenever forking would give a kernel that
differs from a launched one (another interpreter or kernelspec, another
environment than the zygote's beyond releaselib's own ``RELEASELIB_*``
variables, no pidfd support) or the zygote has failed.

:class:`ForkedKernel` stands in for the :class:`subprocess.Popen` the
provisioner would hold. The kernel is the zygote's child, not this
process's, so it is watched through a pidfd (Linux 5.3+), which neither PID
reuse nor a zombie can fool, and signalled as a whole session like a
launched kernel. Its exit status is not ours to collect: ``returncode`` is
the negated signal this side sent, or 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from releaselib.infra import processes

__all__ = ["ForkedKernel", "ForkingProvisioner", "Zygote", "can_fork"]

_PROGRAM = Path(__file__).resolve().parent.parent / "infra" / "kernel_zygote.py"
#: Environment variables a forked kernel may have different from its zygote: releaselib's own, which
#: nothing in ipykernel reads (the zygote's imports saw the rest exactly as a launched kernel would).
_OWN_PREFIX = "RELEASELIB_"
#: How often a provisioner looks whether a kernel it ended is gone (jupyter_client's own: 0.1 s).
_WAIT_POLL = 0.005
#: Seconds the zygote may take to answer a fork (its imports included) before it is given up and ended.
_ANSWER_TIMEOUT = 60.0


def can_fork() -> bool:
    """Whether this system can watch and signal a process that is not its child (pidfds)."""
    return hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal") and os.name == "posix"


def _comparable(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(_OWN_PREFIX) and k != "JPY_PARENT_PID"}


class Zygote:
    """The zygote process of one kernel pool; :meth:`fork` asks it for a kernel.

    Started at once, it imports in the background; a fork requested meanwhile
    is answered when the imports are done. Thread-safe. :meth:`close` ends it
    (the kernels it forked end with it; the pool ends them first).
    """

    def __init__(self, executable: str, *, cwd: Path, env: Mapping[str, str]) -> None:
        self.executable = executable
        self.cwd = str(cwd)
        self.env = dict(env)
        self.failed = False
        self._lock = threading.Lock()
        self._waiting: list[ForkedKernel] = []
        ours, theirs = socket.socketpair()
        try:
            self._process = processes.spawn([executable, str(_PROGRAM), str(theirs.fileno())], cwd=cwd,
                                            env=self.env, pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(_ANSWER_TIMEOUT)
        self._socket = ours
        self._replies = ours.makefile("rb")

    def accepts(self, cmd: Sequence[str], cwd: str | os.PathLike[str] | None, env: Mapping[str, str]) -> bool:
        """Whether a kernel forked for ``cmd`` in ``cwd`` with ``env`` is the one launching it would give."""
        return (not self.failed and len(cmd) >= 3 and cmd[0] == self.executable
                and list(cmd[1:3]) == ["-m", "ipykernel_launcher"]
                and os.path.realpath(cwd or os.getcwd()) == os.path.realpath(self.cwd)
                and _comparable(env) == _comparable(self.env))

    def fork(self, args: Sequence[str], *, env: Mapping[str, str]) -> ForkedKernel:
        """Ask for a kernel started with ``args`` (the launcher's); returns at once, the pid comes later."""
        kernel = ForkedKernel(self)
        request = json.dumps({"args": list(args), "cwd": self.cwd, "env": dict(env)}) + "\n"
        with self._lock:
            try:
                self._socket.sendall(request.encode())
            except OSError as exc:
                self.failed = True
                raise OSError(f"the kernel zygote is gone: {exc}") from exc
            self._waiting.append(kernel)
        return kernel

    def _answer(self, kernel: ForkedKernel) -> int:
        """The pid forked for ``kernel``, reading the zygote's answers in the order asked. Raises OSError."""
        with self._lock:
            while kernel._pid is None:
                if self.failed or not self._waiting:
                    raise OSError("the kernel zygote ended before it forked this kernel")
                try:
                    line = self._replies.readline()
                except OSError:  # silent past the timeout: stuck, so ended, and no kernel of it comes later
                    line = b""
                if not line.strip().isdigit():
                    self.failed = True
                    self._process.stop(timeout=0)
                    raise OSError("the kernel zygote ended before it forked this kernel")
                self._waiting.pop(0)._pid = int(line)
            return kernel._pid

    def close(self, timeout: float = 5.0) -> None:
        """Close the socket (the zygote then exits) and wait for it; kill it past ``timeout``. Never raises."""
        self.failed = True
        for closable in (self._replies, self._socket):
            try:
                closable.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=timeout)
        except Exception:  # noqa: BLE001 - stuck: its whole session goes
            self._process.stop(timeout=0)


class ForkedKernel:
    """The :class:`subprocess.Popen` face of a kernel forked by a :class:`Zygote`."""

    stdin = stdout = stderr = None

    def __init__(self, zygote: Zygote) -> None:
        self._zygote = zygote
        self._pid: int | None = None
        self._pidfd: int | None = None
        self._sent: int | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        self._open()
        assert self._pid is not None
        return self._pid

    def _open(self) -> int | None:
        """The kernel's pidfd, opened on first use (learning the pid); None once the kernel is gone
        (``returncode`` is then set)."""
        if self.returncode is None and self._pidfd is None:
            try:
                self._pidfd = os.pidfd_open(self._zygote._answer(self))
            except OSError:  # never forked, or exited (and was reaped) before this look
                self.returncode = 1 if self._pid is None else -(self._sent or 0)
        return self._pidfd

    def poll(self) -> int | None:
        pidfd = self._open()
        if pidfd is not None and select.select([pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        pidfd = self._open()
        if pidfd is not None and select.select([pidfd], [], [], timeout)[0]:
            self._ended()
        if self.returncode is None:
            raise TimeoutError(f"kernel {self._pid} still running after {timeout} s")
        return self.returncode

    def send_signal(self, signum: int) -> None:
        pidfd = self._open()
        if pidfd is None or self._pid is None:
            return
        self._sent = signum
        try:
            os.killpg(self._pid, signum)  # its session: the kernel and what it started, as for a launched one
        except (ProcessLookupError, PermissionError):  # not yet its own session leader, or just gone
            try:
                signal.pidfd_send_signal(pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _ended(self) -> None:
        assert self._pidfd is not None
        os.close(self._pidfd)
        self._pidfd = None
        self.returncode = -(self._sent or 0)


class ForkingProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with kernels forked from a zygote where that changes nothing."""

    #: Gives the zygote to fork a kernel from (``cmd``, ``cwd``, ``env``), or None to launch it.
    zygote_for: Callable[[Sequence[str], str | None, Mapping[str, str]], Zygote | None] | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        env = kwargs.get("env") or dict(os.environ)
        zygote = self.zygote_for(cmd, kwargs.get("cwd"), env) if self.zygote_for is not None else None
        if zygote is None or not zygote.accepts(cmd, kwargs.get("cwd"), env):
            return await super().launch_kernel(cmd, **kwargs)
        try:
            self.process = zygote.fork(cmd[3:], env=env)  # type: ignore[assignment] # Popen's face
        except OSError:
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = None  # learnt when first needed: the zygote may still be importing
        self.pgid = None  # send_signal then goes to ForkedKernel, which signals the kernel's session
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info

    async def wait(self) -> int | None:
        """As jupyter_client's, but looking every 5 ms rather than every 100 ms."""
        if self.process is None:
            return 0
        while await self.poll() is None:
            await asyncio.sleep(_WAIT_POLL)
        status = self.process.wait()
        for stream in (self.process.stdout, self.process.stderr, self.process.stdin):
            if stream:
                stream.close()
        self.process = None
        return int(status)
