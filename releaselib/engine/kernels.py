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
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

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


class TrackingKernelManager(AsyncKernelManager):
    """Remembers the clients it made, so their channels close with the kernel.

    nbclient leaves a kernel it does not own running *and* its client's
    channels open; :meth:`KernelPool.release` closes both.
    """

    def client(self, **kwargs: Any) -> Any:
        kc = super().client(**kwargs)
        self.__dict__.setdefault("_pool_clients", []).append(kc)
        return kc


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
    """

    def __init__(self, kernel_name: str, *, cwd: Path, env: Mapping[str, str] | None = None,
                 extra_arguments: Sequence[str] = HISTORY_ARGUMENTS) -> None:
        self.kernel_name = kernel_name
        self.cwd = Path(cwd)
        self.env = dict(env or {})
        self.extra_arguments = list(extra_arguments)
        self._ahead: AsyncKernelManager | None = None
        self._socket_dir: Path | None = None
        self._live: list[AsyncKernelManager] = []

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
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _start(self) -> AsyncKernelManager:
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="releaselib-kernels-"))
        km = quiet_kernel_manager(self.kernel_name, self._socket_dir)
        self._live.append(km)
        try:
            # Launches the process and returns; the kernel boots while the caller works.
            run_sync(km.start_kernel)(cwd=str(self.cwd), env={**os.environ, **self.env},
                                      extra_arguments=list(self.extra_arguments))
        except BaseException:
            self.release(km)
            raise
        return km

    @staticmethod
    def _ready(km: AsyncKernelManager) -> bool:
        """Whether ``km``'s kernel answers (``kernel_info``); False when it died first. Never raises."""
        kc = km.client()
        try:
            kc.start_channels()
            run_sync(kc.wait_for_ready)(timeout=_READY_TIMEOUT)
            return True
        except Exception:  # noqa: BLE001 - died, or never answered: either way not this phase's kernel
            return False
        finally:
            with suppress(Exception):
                kc.stop_channels()

    @staticmethod
    def _alive(km: AsyncKernelManager) -> bool:
        try:
            return bool(run_sync(km.is_alive)())
        except Exception:  # noqa: BLE001
            return False
