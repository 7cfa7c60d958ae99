"""The kernel zygote: ipykernel imported once, then a fresh kernel forked for each phase.

A kernel spends most of its start-up importing ipykernel, IPython and their
dependencies (about 0.5 s of CPU), and a release starts one kernel per
phase. This program, started once per run by :mod:`releaselib.engine.kernels`
with the very environment, folder and interpreter its kernels would get,
does those imports and then waits. For each request (one JSON line on the
socket whose descriptor is its argument) it forks a child that becomes the
kernel ``python -m ipykernel_launcher ARGS`` would have started, and answers
the child's pid. Nothing ever ran in the zygote but imports, so each kernel
is as fresh as one started from scratch: the same ``sys.path``, modules,
environment, folder and arguments, and a session (process group) of its own.

The child's differences from a launched kernel are only these, on purpose:
its parent is the zygote (``JPY_PARENT_PID`` names it, so the kernel ends
when the zygote does, and the zygote ends when the runner closes the socket
or dies); ``sys.orig_argv`` names this program; its stdin is ``/dev/null``
rather than a pipe nobody writes; and ``random`` is re-seeded, so no two
kernels share a sequence.

It is started as a script (``python kernel_zygote.py FD``), never imported,
and imports nothing of releaselib: a kernel's first cell imports releaselib
itself, and what that import prints belongs in the record. Forking is safe
only from a single-threaded process; if an import ever starts a thread, the
zygote exits and the runner starts its kernels the ordinary way.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: The modules a launched kernel has imported once it has started (``-m`` imports runpy; ipykernel's
#: ``initialize`` the rest), imported here once: a forked kernel has the very same ``sys.modules``.
PRELOAD = ("runpy", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "IPython.core.completer", "IPython.core.history", "sqlite3")  # fmt: skip


def serve(fd: int) -> dict[str, Any]:
    """Import, then fork a kernel per request; returns a request in the child, exits in the zygote."""
    import importlib
    import io
    import json
    import signal
    import socket
    import threading

    before = dict(os.environ)
    # ipykernel reads JPY_PARENT_PID when it is imported (a trait's default): its kernels watch this
    # process, and end when it ends, as a launched kernel ends when its runner does.
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    # What these imports print (pydevd warns about frozen modules) a launched kernel prints after it
    # has redirected its output to IOPub with no cell as parent, where no notebook and no terminal
    # shows it; here it goes nowhere too.
    shown = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()
    try:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional part (the debugger); the kernel copes, as it would anyway
                pass
    finally:
        sys.stdout, sys.stderr = shown
    # What the imports set in the environment (debugpy: PYDEVD_USE_FRAME_EVAL) each kernel keeps.
    imported_env = {k: v for k, v in os.environ.items() if before.get(k) != v and k != "JPY_PARENT_PID"}
    channel = socket.socket(fileno=fd)
    if threading.active_count() != 1:
        sys.exit(3)  # fork would copy a thread's locks half-held; the runner falls back to launching
    # Each kernel is reaped as it ends, never left a zombie, and waited for (not ignored): its CPU time
    # then adds up in this process's children, and so in the runner's, as a launched kernel's does.
    signal.signal(signal.SIGCHLD, _reap)
    with channel, channel.makefile("rb") as requests:
        for line in requests:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # else the kernel's own subprocesses lose their status
                os.setsid()
                requests.close()
                channel.close()
                return {**request, "env": {**request["env"], **imported_env}}
            channel.sendall(b"%d\n" % pid)
    _reap()  # the runner ends its kernels before it closes the socket: the last ones are reaped here
    # The runner closed the socket (or died): no more kernels. Nothing here needs finalizing, and
    # tearing down every module ipykernel imported took the runner's close 0.2 s of waiting.
    os._exit(0)


def _reap(*_signal: object) -> None:
    """Collect every kernel that has ended (the SIGCHLD handler)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return
        if pid == 0:  # some still running
            return


def become_kernel(request: dict[str, Any]) -> None:
    """Turn this forked child into ``python -m ipykernel_launcher ARGS`` in the request's folder and environment."""
    import importlib.util

    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    spec = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [spec.origin if spec and spec.origin else "ipykernel_launcher", *request["args"]]
    if "random" in sys.modules:
        sys.modules["random"].seed()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    # As ipykernel_launcher removes the current folder, this removes its own (InteractiveShellApp puts
    # the kernel's folder back): the kernel's sys.path is the one a launched kernel has.
    del sys.path[0]
    become_kernel(serve(int(sys.argv[1])))
