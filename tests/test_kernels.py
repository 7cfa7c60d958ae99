"""Kernels started one phase ahead: each phase still gets a fresh one, none is left running, all are quiet.

The runbooks here are a project's own overrides (two tiny phases) so each test
runs in a few seconds; the kernels are real ipykernel processes, found through
``/proc`` by their parent, the runner (this test process).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from releaselib.core.errors import PhaseFailed, UsageError
from releaselib.engine import kernels
from releaselib.engine.forked_kernels import can_fork
from releaselib.engine.kernels import KernelPool
from releaselib.engine.runner import Runner
from releaselib.infra.config import OVERRIDES_ENV
from releaselib.local.sandbox import create_sandbox

from .helpers import git

WARNING = "without encryption"
CAN_FORK = can_fork()
#: Kernels are forked only where pidfds can watch them (Linux 5.3+); elsewhere every kernel is launched.
needs_fork = pytest.mark.skipif(not CAN_FORK, reason="no pidfd here: kernels are launched, never forked")

#: Run inside a kernel: this kernel's pid, and the other live kernels the runner started.
PROBE = """\
import json, os, sys
from pathlib import Path

def _children(parent, marker):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == parent and marker in cmdline:
            found.append(int(entry.name))
    return sorted(found)

def _kernels_of(runner):
    # launched by the runner, or forked by its kernel zygote
    zygotes = _children(runner, b"kernel_zygote")
    return sorted(_children(runner, b"ipykernel_launcher") + [k for z in zygotes for k in _children(z, b"")])

def _runner():
    parent = os.getppid()
    if b"kernel_zygote" in Path(f"/proc/{parent}/cmdline").read_bytes():
        parent = int(Path(f"/proc/{parent}/stat").read_text().rpartition(")")[2].split()[1])
    return parent

others = [pid for pid in _kernels_of(_runner()) if pid != os.getpid()]
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
seen = {"pid": os.getpid(), "others": others, "zygotes": _children(_runner(), b"kernel_zygote"),
        "forked": _runner() != os.getppid(), "sys_path": sys.path, "argv": sys.argv,
        "modules": sorted(sys.modules), "env": dict(os.environ), "random": __import__("random").random(), "cwd": os.getcwd(), "leftover": "left_by_a" in globals(),
        "encrypted": app.curve_secretkey is not None, "transport": app.transport,
        "outputs_env": os.environ.get("RELEASELIB_OUTPUTS")}
Path(os.environ["PROBE_DIR"], PHASE + ".json").write_text(json.dumps(seen))
left_by_a = True
"""


_PROBE_HELPERS: dict = {"os": os, "Path": Path}
exec(PROBE[PROBE.index("def _children"):PROBE.index("others = ")], _PROBE_HELPERS)  # noqa: S102 - the probe's own helpers


def kernels_of_this_process() -> list[int]:
    """Live (not zombie) kernels this test process started: launched by it, or forked by its zygote."""
    return _PROBE_HELPERS["_kernels_of"](os.getpid())


def zygotes_of_this_process() -> list[int]:
    return _PROBE_HELPERS["_children"](os.getpid(), b"kernel_zygote")


def next_kernel_under_way(seen: dict) -> bool:
    """Whether, when the probe ran, the next phase's kernel was up, or the zygote that forks it was."""
    return len(seen["others"]) == 1 or (seen["others"] == [] and len(seen["zygotes"]) == 1)


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
    # While 07_docs ran, 09_announce's kernel was under way: forked by the zygote (which forked
    # 07_docs's too), or, when the phase outran the fork, still to be forked by it.
    if CAN_FORK:
        assert docs["others"] in ([announce["pid"]], []) and docs["zygotes"]
    else:
        assert docs["others"] == [announce["pid"]]
    # Both forked, the first included (launched where no pidfd can watch a fork): a kernel that the
    # zygote turned down (the run's environment changed between phases) would show here.
    assert docs["forked"] == announce["forked"] == CAN_FORK
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
    assert next_kernel_under_way(probe(probes, "07_docs"))  # one was started ahead...
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []  # ...and ended with the run
    assert not (probes / "09_announce.json").exists()


def test_a_refused_run_starts_no_kernel(project, monkeypatch):
    """A run turned down before any phase (here: the record exists) answers at once: it started no
    kernel it would then have to wait for, booting, before ending it."""
    runner = project[3]
    assert all(o.ok for o in runner().run(["07_docs"]))
    started = []
    start = KernelPool._start
    monkeypatch.setattr(KernelPool, "_start", lambda pool: started.append(pool) or start(pool))
    with pytest.raises(UsageError, match="already exists"):
        runner().run(["07_docs"])
    assert started == []
    assert all(o.ok for o in runner().run(["09_announce"]))  # a run that goes ahead starts one
    assert len(started) == 1


def test_ctrl_c_in_a_phase_ends_its_kernel_and_the_one_ahead(project):
    _, folder, probes, runner = project
    # Ctrl+C reaches the runner (the kernel's parent, or its zygote's: the probe's _runner) while
    # the phase's cell runs.
    write_runbook(folder / "07_docs.ipynb", "PHASE = '07_docs'\n" + PROBE,
                  "import os, signal, time\nos.kill(_runner(), signal.SIGINT)\ntime.sleep(30)")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            runner().run(["07_docs", "09_announce"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert next_kernel_under_way(probe(probes, "07_docs"))
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []


def test_ctrl_c_between_phases_ends_the_kernel_started_ahead(project):
    runner = project[3]

    def interrupt_after_first(event, phase, outcome):
        if event == "end":
            # the next phase's, already booting (or about to be forked)
            assert len(kernels_of_this_process()) == 1 or zygotes_of_this_process()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner(progress=interrupt_after_first).run(["07_docs", "09_announce"])
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []


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
        os.kill(ahead.provisioner.process.pid, signal.SIGKILL)
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


def test_every_kernel_of_a_run_the_first_included_works_in_the_runs_own_temporary_folder(project):
    """What a killed phase leaves in TMPDIR goes with the run's folder, whichever phase came first."""
    _, _, probes, runner = project
    assert all(o.ok for o in runner().run(["07_docs", "09_announce"]))
    folders = {probe(probes, phase)["env"].get("TMPDIR") for phase in ("07_docs", "09_announce")}
    assert len(folders) == 1, folders
    [folder] = folders
    assert folder is not None and Path(folder).name.startswith("releaselib-run-"), folder
    assert not Path(folder).exists()  # removed once the run ended


@needs_fork
def test_a_forked_kernel_is_the_kernel_a_launch_gives(project, monkeypatch):
    """The zygote changes where a kernel comes from, nothing a cell can see but its parent."""
    _, _, probes, runner = project
    assert all(o.ok for o in runner().run(["07_docs", "09_announce"]))
    forked = probe(probes, "09_announce")
    shutil.rmtree(runner().outputs)  # the same release again, from scratch, with kernels launched
    monkeypatch.setattr(kernels, "can_fork", lambda: False)
    assert all(o.ok for o in runner().run(["07_docs", "09_announce"]))
    launched = probe(probes, "09_announce")
    assert forked["forked"] and not launched["forked"]
    assert forked["sys_path"] == launched["sys_path"]
    assert set(forked["modules"]) ^ set(launched["modules"]) == set()
    assert forked["cwd"] == launched["cwd"]
    assert [forked["argv"][0], *forked["argv"][3:]] == [launched["argv"][0], *launched["argv"][3:]]
    run_specific = {"JPY_PARENT_PID", "RELEASELIB_RUN_ID", "TMPDIR"}  # the parent; the run's id and folder
    assert {k: v for k, v in forked["env"].items() if k not in run_specific} == {
        k: v for k, v in launched["env"].items() if k not in run_specific}


def _execute(km, code: str, timeout: float = 60) -> dict:
    """Run ``code`` in ``km``'s kernel; its stdout and the reply's status."""
    from jupyter_core.utils import run_sync

    kc = km.client()
    kc.start_channels()
    out: list[str] = []
    try:
        reply = run_sync(kc.execute_interactive)(
            code, timeout=timeout,
            output_hook=lambda msg: out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
    return {"stdout": "".join(out), "status": reply["content"]["status"], "ename": reply["content"].get("ename")}


@needs_fork
def test_the_cpu_a_forked_kernel_used_counts_as_its_runners(tmp_path):
    """As for a launched kernel, `time releaselib run` (and the benchmarks) see a forked kernel's CPU."""
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = children_cpu()
    with KernelPool("python3", cwd=tmp_path) as pool:
        km = pool.take()
        assert km.provisioner.process.__class__.__name__ == "ForkedKernel"
        burn = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass\nprint('burnt')"
        assert _execute(km, burn)["stdout"].strip() == "burnt"
        pool.release(km)
    assert children_cpu() - before >= 1.0


@needs_fork
def test_forked_kernels_differ_from_each_other_and_their_children_report_their_status(tmp_path):
    code = ("import os, random, subprocess\n"
            "print(os.getppid(), random.random(), subprocess.run(['sh', '-c', 'exit 3']).returncode)")
    with KernelPool("python3", cwd=tmp_path) as pool:
        first = pool.take(ahead=True)
        pool.release(first)
        seen = []
        for _ in range(2):
            km = pool.take(ahead=True)
            seen.append(_execute(km, code)["stdout"].split())
            pool.release(km)
        zygote = zygotes_of_this_process()
        assert len(zygote) == 1
        assert [int(parent) for parent, _, _ in seen] == zygote * 2  # both forked by it
        assert seen[0][1] != seen[1][1]  # random is re-seeded in each kernel
        assert [status for _, _, status in seen] == ["3", "3"]  # SIGCHLD is the kernel's again
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []


@needs_fork
def test_a_forked_kernel_is_interrupted_and_killed_like_a_launched_one(tmp_path):
    from jupyter_core.utils import run_sync

    with KernelPool("python3", cwd=tmp_path) as pool:
        pool.release(pool.take(ahead=True))
        km = pool.take()
        assert km.provisioner.process.__class__.__name__ == "ForkedKernel"
        kc = km.client()
        kc.start_channels()
        try:
            msg_id = kc.execute("import time; time.sleep(60)")
            time.sleep(0.5)
            run_sync(km.interrupt_kernel)()
            reply = run_sync(kc._async_get_shell_msg)(timeout=30)
            assert reply["parent_header"]["msg_id"] == msg_id
            assert reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            kc.stop_channels()
        pid = km.provisioner.process.pid
        pool.release(km)
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []


@needs_fork
def test_a_kernel_is_launched_when_forking_would_change_it_or_the_zygote_is_gone(tmp_path, monkeypatch):
    with KernelPool("python3", cwd=tmp_path) as pool:
        pool.release(pool.take(ahead=True))
        forked = pool.take()
        assert forked.provisioner.process.__class__.__name__ == "ForkedKernel"
        pool.release(forked)
        # An interpreter setting the zygote's imports did not see: launched, so it takes effect.
        monkeypatch.setenv("PYTHONOPTIMIZE", "1")
        changed = pool.take()
        assert changed.provisioner.process.__class__.__name__ == "Popen"
        assert _execute(changed, "import sys; print(sys.flags.optimize)")["stdout"].strip() == "1"
        pool.release(changed)
        monkeypatch.delenv("PYTHONOPTIMIZE")
        # The zygote killed: the next kernel is launched, and the phase never knows.
        [zygote] = zygotes_of_this_process()
        os.kill(zygote, signal.SIGKILL)
        after = pool.take()
        assert _execute(after, "print(6 * 7)")["stdout"].strip() == "42"
        pool.release(after)
    assert kernels_of_this_process() == [] and zygotes_of_this_process() == []


@needs_fork
def test_a_zygote_that_never_answers_is_ended_and_the_kernel_launched(tmp_path, monkeypatch):
    from releaselib.engine import forked_kernels

    stuck = tmp_path / "stuck_zygote.py"
    stuck.write_text("import time\ntime.sleep(600)\n")
    monkeypatch.setattr(forked_kernels, "_PROGRAM", stuck)
    monkeypatch.setattr(forked_kernels, "_ANSWER_TIMEOUT", 1.0)
    with KernelPool("python3", cwd=tmp_path) as pool:
        km = pool.take()
        assert pool._zygote is not None  # it was asked first, and timed out
        zygote = pool._zygote._process.pid
        assert km.provisioner.process.__class__.__name__ == "Popen"  # launched after all
        assert _execute(km, "print(6 * 7)")["stdout"].strip() == "42"
        pool.release(km)
        assert not Path(f"/proc/{zygote}").exists() or "Z" in Path(f"/proc/{zygote}/stat").read_text().split()[2]
        after = pool.take()  # and the zygote is not asked again
        assert after.provisioner.process.__class__.__name__ == "Popen"
        pool.release(after)
    assert kernels_of_this_process() == []
