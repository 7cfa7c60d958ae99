"""Kernels for the runner: started one phase ahead, quiet, never left running.

A kernel takes about a second to start (ipykernel's imports), which a phase
of a few cells pays in full. :class:`KernelPool` hides it: when the runner
takes the kernel for one phase, the pool launches the next phase's kernel at
once, so it boots while the current phase runs. Every phase still gets a
kernel of its own that nothing ran in before; papermill and nbclient accept
a started kernel manager (``km=``) and then leave its shutdown to its owner,
which is this pool: :meth:`KernelPool.release` ends a phase's kernel, and
leaving the ``with`` block (normally, on a failure or on Ctrl+C) ends the one
started ahead.

Every kernel is also quiet and race-free: ipykernel 7.3 and later warn on
every start that the kernel "is running over TCP without encryption", and a
TCP kernel binds the ports it was handed only once it has booted, so on a busy
machine another process can take one meanwhile and the kernel dies (seen as
"Address already in use", then "Kernel didn't respond in 60 seconds"). The
pool therefore uses IPC sockets in a private temporary folder (never in the
released repository, which is the kernel's working directory): no ports, no
warning. Where IPC cannot serve (not POSIX, or a socket path longer than the
system allows), the kernel manager provisions CurveZMQ keys when the
kernelspec supports them (the warning's own advice).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from releaselib.engine.forked_kernels import ForkingProvisioner, Zygote, can_fork

__all__ = ["KernelPool", "quiet_kernel_manager"]

#: What nbclient adds to a kernel it starts itself: no IPython history database.
HISTORY_ARGUMENTS = ("--HistoryManager.hist_file=:memory:",)
#: Kernels started for one phase before it fails for want of one (each died before answering).
_START_ATTEMPTS = 3
#: Seconds a kernel may take to answer its first request (papermill's own start-up timeout).
_READY_TIMEOUT = 60.0


def _supports_curve(km: Any) -> bool:
    """Whether pyzmq has CurveZMQ and the kernelspec says the kernel accepts its keys."""
    import zmq

    if not zmq.has("curve") or not km.has_trait("transport_encryption"):
        return False
    supported = (getattr(km.kernel_spec, "metadata", None) or {}).get("supported_encryption") or ()
    if isinstance(supported, str):
        supported = [supported]
    return "curve" in {str(item).strip().lower() for item in supported}


#: A Unix socket's path must fit ``sockaddr_un.sun_path`` (108 bytes on Linux, 104 on macOS);
#: ipykernel appends ``-<port number>`` to the base path.
_SOCKET_PATH_MAX = 100


def quiet_kernel_manager(kernel_name: str, socket_dir: Path) -> AsyncKernelManager:
    """A kernel manager whose kernel neither races for TCP ports nor warns about them.

    ``socket_dir`` receives the IPC sockets; it must be a private folder
    outside the repository. Falls back to CurveZMQ-encrypted TCP where IPC
    cannot serve.
    """
    km = TrackingKernelManager(kernel_name=kernel_name)
    base = str(socket_dir / f"kernel-{os.getpid()}-{id(km):x}")
    if os.name == "posix" and len(os.fsencode(base)) + 8 <= _SOCKET_PATH_MAX:
        km.transport = "ipc"
        km.ip = base
    elif _supports_curve(km):
        km.transport_encryption = "auto"
    return km


class QuickClient(AsyncKernelClient):
    """A kernel client whose :meth:`wait_for_ready` takes one round trip, not jupyter_client's fixed 0.2 s.

    jupyter_client's waits for a ``kernel_info`` reply, then for IOPub to fall
    silent for 0.2 s, on every call; nbclient calls it for every phase. Here the
    kernel is ready once it has answered on the shell channel *and* its IOPub
    status for that request has arrived (proof that IOPub is connected; a
    subscription still joining misses it, and the request is sent again).
    Other IOPub messages are left in place: nbclient takes only the messages
    whose parent is its own request.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._reply_to(self.shell_channel, msg_id, min(1.0, deadline - time.monotonic()))
            if reply is not None and await self._reply_to(self.iopub_channel, msg_id, 0.05) is not None:
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    _async_wait_for_ready = wait_for_ready

    @staticmethod
    async def _reply_to(channel: Any, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The first message on ``channel`` whose parent is ``msg_id`` within ``timeout`` s (others dropped)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                msg = await channel.get_msg(timeout=max(deadline - time.monotonic(), 0.0))
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return dict(msg)


class TrackingKernelManager(AsyncKernelManager):
    """Remembers the clients it made, so their channels close with the kernel.

    nbclient leaves a kernel it does not own running *and* its client's
    channels open; :meth:`KernelPool.release` closes both.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_factory = QuickClient

    def client(self, **kwargs: Any) -> Any:
        """A client; the first one asked for after :meth:`KernelPool.take` is the pool's, connected and answered."""
        ready = self.__dict__.pop("_ready_client", None)
        if ready is not None and not kwargs:
            return ready
        kc = super().client(**kwargs)
        self.__dict__.setdefault("_pool_clients", []).append(kc)
        return kc

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Wait until the kernel is gone, looking every 5 ms (jupyter_client's 100 ms is a phase's tenth)."""
        await super()._async_wait(pollinterval=min(pollinterval, 0.005))


class KernelPool:
    """Kernels for consecutive phases, each started while the phase before it runs.

    Use as a context manager around the phases of one run::

        with KernelPool("python3", cwd=repo, env={"NAME": "value"}) as pool:
            for index, phase in enumerate(phases):
                km = pool.take(ahead=index + 1 < len(phases))
                try:
                    papermill.execute_notebook(..., km=km)
                finally:
                    pool.release(km)

    Each kernel starts in ``cwd`` (papermill's own ``cwd=`` changes the
    runner's directory, which a kernel started earlier never sees) with this
    process's environment as it is at the start, plus ``env``.

    Kernels are forked from a zygote that imported ipykernel once, the first
    one included (:mod:`releaselib.engine.forked_kernels`): the zygote's
    imports take what a launched kernel's would, and each later kernel then
    costs a fork. They are launched instead where ``fork`` is False, the
    system cannot fork them, or a fork could differ from a launch.
    """

    def __init__(self, kernel_name: str, *, cwd: Path, env: Mapping[str, str] | None = None,
                 extra_arguments: Sequence[str] = HISTORY_ARGUMENTS, fork: bool = True) -> None:
        self.kernel_name = kernel_name
        self.cwd = Path(cwd)
        self.env = dict(env or {})
        self.extra_arguments = list(extra_arguments)
        self.fork = fork and can_fork()
        self._ahead: AsyncKernelManager | None = None
        self._socket_dir: Path | None = None
        self._live: list[AsyncKernelManager] = []
        self._zygote: Zygote | None = None

    def __enter__(self) -> KernelPool:  # noqa: PYI034 - not subclassed
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def take(self, *, ahead: bool = False) -> AsyncKernelManager:
        """A started kernel for the phase about to run; with ``ahead``, start the next one now.

        Raises whatever starting a kernel raises (no such kernelspec, ...);
        a kernel started ahead that failed is started again here, so the
        error belongs to the phase that needs it.
        """
        km = self._ahead
        self._ahead = None
        # A kernel binds the ports it was given only once it has booted; on a busy machine another
        # process can take one meanwhile, and the kernel dies before it answers. A phase must not
        # fail for that: the kernel has to answer before the phase gets it, else a new one starts.
        for attempt in range(_START_ATTEMPTS):
            if km is None or not self._alive(km):
                if km is not None:
                    self.release(km)
                km = self._start()
            if self._ready(km) or attempt == _START_ATTEMPTS - 1:
                break  # the last one goes to the phase, which reports what it does
            self.release(km)
            km = None
        assert km is not None
        if ahead:
            self.start_ahead()
        return km

    def start_ahead(self) -> None:
        """Start the next :meth:`take`'s kernel now, if none is started yet; never raises."""
        if self._ahead is None:
            try:
                self._ahead = self._start()
            except Exception:  # noqa: BLE001 - take() starts it again and reports the error
                self._ahead = None

    def release(self, km: AsyncKernelManager) -> None:
        """End ``km``'s kernel at once and close its clients' channels; never raises."""
        # Best effort at each step: a kernel already dead or a channel already closed is fine.
        for kc in km.__dict__.pop("_pool_clients", []):
            with suppress(Exception):
                kc.stop_channels()
        with suppress(Exception):
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        with suppress(Exception):
            run_sync(km.cleanup_resources)()
        if km in self._live:
            self._live.remove(km)

    def close(self) -> None:
        """End every kernel this pool started and is still running (the one ahead included)."""
        self._ahead = None
        for km in list(self._live):
            self.release(km)
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _start(self) -> AsyncKernelManager:
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="releaselib-kernels-"))
        km = quiet_kernel_manager(self.kernel_name, self._socket_dir)
        if not (getattr(km.kernel_spec, "metadata", None) or {}).get("kernel_provisioner"):
            # A kernelspec naming a provisioner of its own keeps it; otherwise jupyter_client's local one,
            # which may fork the kernel from the zygote instead of launching it.
            km.kernel_id = str(uuid.uuid4())
            km.provisioner = ForkingProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
            km.provisioner.zygote_for = self._zygote_for
        self._live.append(km)
        try:
            # Launches the process and returns; the kernel boots while the caller works.
            run_sync(km.start_kernel)(cwd=str(self.cwd), env={**os.environ, **self.env},
                                      extra_arguments=list(self.extra_arguments))
        except BaseException:
            self.release(km)
            raise
        return km

    def _zygote_for(self, cmd: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> Zygote | None:
        """The zygote to fork this kernel from, started with the first kernel; None: launch it."""
        if not self.fork:
            return None
        if self._zygote is None:
            try:
                self._zygote = Zygote(cmd[0], cwd=Path(cwd or self.cwd), env=env)
            except OSError:
                self.fork = False
                return None
        return self._zygote

    @staticmethod
    def _ready(km: AsyncKernelManager) -> bool:
        """Whether ``km``'s kernel answers (``kernel_info``); False when it died first. Never raises.

        The client that saw the answer is kept for the phase (the next ``km.client()``), already
        connected: papermill's own readiness check is then one round trip.
        """
        kc = km.client()
        try:
            kc.start_channels(hb=False)  # papermill starts the heartbeat (a thread starts only once)
            run_sync(kc.wait_for_ready)(timeout=_READY_TIMEOUT)
        except Exception:  # noqa: BLE001 - died, or never answered: either way not this phase's kernel
            with suppress(Exception):
                kc.stop_channels()
            return False
        km.__dict__["_ready_client"] = kc
        return True

    @staticmethod
    def _alive(km: AsyncKernelManager) -> bool:
        try:
            return bool(run_sync(km.is_alive)())
        except Exception:  # noqa: BLE001
            return False
