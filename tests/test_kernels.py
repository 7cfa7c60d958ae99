"""Kernels started one phase ahead: each phase still gets a fresh one, none is left running, all are quiet.

The runbooks here are a project's own overrides (two tiny phases) so each test
runs in a few seconds; the kernels are real ipykernel processes, found through
``/proc`` by their parent, the runner (this test process).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from releaselib.core.errors import PhaseFailed
from releaselib.engine import kernels
from releaselib.engine.kernels import KernelPool
from releaselib.engine.runner import Runner
from releaselib.infra.config import OVERRIDES_ENV
from releaselib.local.sandbox import create_sandbox

from .helpers import git

WARNING = "without encryption"

#: Run inside a kernel: this kernel's pid, and the other live kernels the runner started.
PROBE = """\
import json, os
from pathlib import Path

def _kernels_of(parent):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == parent and b"ipykernel_launcher" in cmdline:
            found.append(int(entry.name))
    return sorted(found)

others = [pid for pid in _kernels_of(os.getppid()) if pid != os.getpid()]
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
seen = {"pid": os.getpid(), "others": others, "cwd": os.getcwd(), "leftover": "left_by_a" in globals(),
        "encrypted": app.curve_secretkey is not None, "transport": app.transport,
        "outputs_env": os.environ.get("RELEASELIB_OUTPUTS")}
Path(os.environ["PROBE_DIR"], PHASE + ".json").write_text(json.dumps(seen))
left_by_a = True
"""


def kernels_of_this_process() -> list[int]:
    """Live (not zombie) ipykernel processes whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == os.getpid() and b"ipykernel_launcher" in cmdline:
            found.append(int(entry.name))
    return found


def write_runbook(path: Path, *bodies: str) -> None:
    params = new_code_cell('version = None\nrepo = "."\ndry_run = True\noutputs = None')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, *(new_code_cell(body) for body in bodies)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A sandbox whose 07_docs and 09_announce are probes; returns (runner factory, probe folder)."""
    sandbox = create_sandbox(tmp_path / "sandbox")
    folder = sandbox.repo / "release-runbooks"
    folder.mkdir()
    for phase in ("07_docs", "09_announce"):
        write_runbook(folder / f"{phase}.ipynb", f"PHASE = {phase!r}\n" + PROBE)
    probes = tmp_path / "probes"
    probes.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(probes))
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({"runbooks": "release-runbooks"}))

    def runner(**kwargs) -> Runner:
        return Runner(repo=sandbox.repo, version="1.1", outputs=tmp_path / "outputs", **kwargs)

    return sandbox, folder, probes, runner


def probe(probes: Path, phase: str) -> dict:
    return json.loads((probes / f"{phase}.json").read_text())


def test_the_next_kernel_boots_during_the_phase_before_and_each_phase_gets_a_fresh_one(project, capfd):
    sandbox, _, probes, runner = project
    outcomes = runner().run(["07_docs", "09_announce"])

    assert [o.ok for o in outcomes] == [True, True], [o.reason for o in outcomes]
    docs, announce = probe(probes, "07_docs"), probe(probes, "09_announce")
    # While 07_docs ran, exactly one other kernel was up: the one 09_announce then ran in.
    assert docs["others"] == [announce["pid"]]
    assert announce["others"] == []  # the last phase starts nothing ahead
    assert announce["leftover"] is False  # a fresh kernel: nothing of 07_docs in it
    assert docs["cwd"] == announce["cwd"] == str(sandbox.repo)
    assert announce["outputs_env"] == str(runner().outputs)
    assert kernels_of_this_process() == []
    # Quiet, and quiet because there is no TCP at all: IPC sockets, no ports to race for.
    assert WARNING not in capfd.readouterr().err
    assert docs["transport"] == announce["transport"] == "ipc"
    # The record is what it was: one archived notebook per phase, every code cell run.
    nb = nbformat.read(outcomes[1].notebook, as_version=4)
    assert [cell.execution_count for cell in nb.cells if cell.cell_type == "code"] == [1, 2, 3]
    assert nb.metadata.language_info.name == "python"


def test_a_failed_phase_ends_the_kernel_started_ahead(project):
    _, folder, probes, runner = project
    write_runbook(folder / "07_docs.ipynb", "PHASE = '07_docs'\n" + PROBE, "raise RuntimeError('boom')")
    with pytest.raises(PhaseFailed, match="boom"):
        runner().run(["07_docs", "09_announce"])
    assert len(probe(probes, "07_docs")["others"]) == 1  # one was started ahead...
    assert kernels_of_this_process() == []  # ...and ended with the run
    assert not (probes / "09_announce.json").exists()


def test_ctrl_c_in_a_phase_ends_its_kernel_and_the_one_ahead(project):
    _, folder, probes, runner = project
    # Ctrl+C reaches the runner (its parent) while the phase's cell runs.
    write_runbook(folder / "07_docs.ipynb", "PHASE = '07_docs'\n" + PROBE,
                  "import os, signal, time\nos.kill(os.getppid(), signal.SIGINT)\ntime.sleep(30)")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            runner().run(["07_docs", "09_announce"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(probe(probes, "07_docs")["others"]) == 1
    assert kernels_of_this_process() == []


def test_ctrl_c_between_phases_ends_the_kernel_started_ahead(project):
    runner = project[3]

    def interrupt_after_first(event, phase, outcome):
        if event == "end":
            assert len(kernels_of_this_process()) == 1  # the next phase's, already booting
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner(progress=interrupt_after_first).run(["07_docs", "09_announce"])
    assert kernels_of_this_process() == []


def test_the_kernel_uses_ipc_sockets_outside_the_repository(project, capfd):
    sandbox, _, probes, runner = project
    before = git(sandbox.repo, "status", "--porcelain", "--ignored")
    assert all(o.ok for o in runner().run(["07_docs", "09_announce"]))
    assert probe(probes, "07_docs")["transport"] == "ipc"
    assert WARNING not in capfd.readouterr().err
    assert git(sandbox.repo, "status", "--porcelain", "--ignored") == before
    assert kernels_of_this_process() == []


def test_where_a_socket_path_is_too_long_the_kernel_uses_encrypted_tcp(project, capfd, monkeypatch, tmp_path):
    _, _, probes, runner = project
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(kernels.tempfile, "tempdir", str(deep))
    assert all(o.ok for o in runner().run(["07_docs", "09_announce"]))
    docs = probe(probes, "07_docs")
    assert docs["transport"] == "tcp" and docs["encrypted"]
    assert WARNING not in capfd.readouterr().err
    assert kernels_of_this_process() == []


def test_a_bare_kernel_does_warn_so_the_quiet_check_can_fail(tmp_path, capfd):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive("pass", timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert WARNING in capfd.readouterr().err


def test_a_kernel_started_ahead_that_died_is_replaced(tmp_path):
    with KernelPool("python3", cwd=tmp_path) as pool:
        first = pool.take(ahead=True)
        ahead = pool._ahead
        assert ahead is not None
        os.kill(ahead.provisioner.pid, signal.SIGKILL)
        ahead.provisioner.process.wait()
        pool.release(first)
        second = pool.take()
        assert second is not ahead
        from jupyter_core.utils import run_sync

        assert run_sync(second.is_alive)()
    assert kernels_of_this_process() == []


def test_a_kernel_that_dies_while_booting_is_replaced(tmp_path, monkeypatch):
    """A kernel's ports are picked before it binds them; one taken meanwhile kills the kernel as it boots.

    Seen in a rehearsal on a busy machine: `Kernel died before replying to kernel_info`
    (ZMQError: Address already in use), the phase failed though nothing in it had run.
    """
    import socket

    from jupyter_core.utils import run_sync

    monkeypatch.setattr(kernels, "_SOCKET_PATH_MAX", 0)  # TCP, where a port can be taken (IPC has none)
    with KernelPool("python3", cwd=tmp_path) as pool:
        pool.start_ahead()
        ahead = pool._ahead
        assert ahead is not None
        if ahead.transport != "tcp":
            pytest.skip("IPC sockets here: no port to take")
        with socket.socket() as taken:  # ipykernel takes a second to import: the port is still free
            taken.bind((ahead.ip, ahead.shell_port))
            taken.listen()
            km = pool.take()
            kc = km.client()
            kc.start_channels()
            try:
                run_sync(kc.wait_for_ready)(timeout=60)
            finally:
                kc.stop_channels()
        assert km is not ahead
    assert kernels_of_this_process() == []
