"""The process layer: one module runs every external command, and nothing it starts outlives it."""

from __future__ import annotations

import ast
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from releaselib.infra import processes, venv

PACKAGE = Path(__file__).resolve().parent.parent / "releaselib"

# What starts a program, besides the subprocess module.
_SPAWNERS = {("os", name) for name in ("system", "popen", "spawnl", "spawnlp", "spawnv", "spawnvp", "execv", "execvp",
                                        "posix_spawn", "posix_spawnp", "fork")} | {
    ("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell"), ("pty", "spawn")}  # fmt: skip


def _parse(path: Path) -> ast.Module:
    # CPython 3.11.7 (this machine's default) can raise a spurious "AST constructor recursion depth
    # mismatch" when another thread of the process builds an AST at the same time (python/cpython#106905,
    # fixed in later releases); an xdist worker has server threads. The parse is simply repeated.
    for attempt in range(3):
        try:
            return ast.parse(path.read_text(encoding="utf-8"))
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _spawning_calls(path: Path) -> list[str]:
    """Every import of subprocess and every os.system-like call in the module's code (not in its strings)."""
    found = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names if a.name == "subprocess"]
        elif isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            found.append(f"{path.name}:{node.lineno} from subprocess import ...")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in _SPAWNERS:
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_outside_the_process_layer_starts_a_program() -> None:
    modules = sorted(p for p in PACKAGE.rglob("*.py") if "sample" not in p.relative_to(PACKAGE).parts)
    assert len(modules) > 30  # the walk really sees the package
    # The process layer: processes.py, and the kernel zygote's own program, which forks kernels.
    layer = {PACKAGE / "infra" / "processes.py", PACKAGE / "infra" / "kernel_zygote.py"}
    offenders = {str(p.relative_to(PACKAGE)): _spawning_calls(p) for p in modules if p not in layer}
    assert {name: calls for name, calls in offenders.items() if calls} == {}
    # and the check itself finds what it looks for
    assert all(_spawning_calls(module) for module in layer)


def _grandchild_script(pidfile: Path) -> list[str]:
    # A shell that starts a long sleep in the background (a grandchild in the same
    # group, as pytest-xdist's workers or a compiler under pip would be), then waits.
    return ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_for_pid(pidfile: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pidfile.is_file() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        time.sleep(0.02)
    raise AssertionError("the command never wrote its pid")


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_a_timeout_kills_the_whole_group_and_keeps_the_output(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    log = tmp_path / "run.log"
    with pytest.raises(processes.CommandTimeout) as caught:
        processes.run(["sh", "-c", f"echo started; sleep 300 & echo $! > {pidfile}; wait"], timeout=1.5, log=log)
    assert _gone(_wait_for_pid(pidfile))
    assert "started" in caught.value.output
    assert "killed after 1.5 s (timeout)" in log.read_text()
    assert processes.live_process_groups() == []


def test_an_interrupt_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            processes.run(_grandchild_script(pidfile), timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _gone(_wait_for_pid(pidfile))
    assert processes.live_process_groups() == []


def test_terminate_all_ends_every_live_group(tmp_path: Path) -> None:
    pidfiles = [tmp_path / "a", tmp_path / "b"]
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda p=p: results.append(processes.run(_grandchild_script(p), timeout=120)))
        for p in pidfiles
    ]
    for thread in threads:
        thread.start()
    pids = [_wait_for_pid(p) for p in pidfiles]
    # A loaded machine may run the child before its parent thread has registered it.
    deadline = time.monotonic() + 10
    while len(processes.live_process_groups()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(processes.live_process_groups()) == 2

    ended = processes.terminate_all(grace=1.0)

    for thread in threads:
        thread.join(timeout=10)
    assert len(ended) == 2
    assert all(_gone(pid) for pid in pids)
    assert [r.returncode for r in results] == [-signal.SIGTERM] * 2  # type: ignore[attr-defined]
    assert processes.live_process_groups() == []


def test_a_stopped_scope_kills_its_commands_and_starts_no_more(tmp_path: Path) -> None:
    scope = processes.Scope()
    pidfile = tmp_path / "pid"
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            processes.run(_grandchild_script(pidfile), timeout=120, scope=scope)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    pid = _wait_for_pid(pidfile)
    scope.stop()
    thread.join(timeout=10)
    assert _gone(pid)
    assert isinstance(outcome[0], processes.Stopped)
    with pytest.raises(processes.Stopped):
        processes.run(["true"], scope=scope)


def test_the_environment_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"PYTHONPATH": "/elsewhere", "VIRTUAL_ENV": "/other/venv", "PYENV_VERSION": "2.7",
                        "FORCE_COLOR": "1", "TWINE_PASSWORD": "s3cret", "GIT_ASKPASS": "/bin/ask",
                        "MY_SETTING": "kept"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    probe = "import json, os; print(json.dumps(dict(os.environ)))"

    import json

    seen = json.loads(processes.run([sys.executable, "-c", probe], timeout=60).stdout)

    for gone in ("PYTHONPATH", "VIRTUAL_ENV", "PYENV_VERSION", "FORCE_COLOR", "TWINE_PASSWORD", "GIT_ASKPASS"):
        assert gone not in seen, gone
    assert seen["MY_SETTING"] == "kept"
    assert seen["NO_COLOR"] == "1" and seen["PIP_PROGRESS_BAR"] == "off" and seen["GIT_TERMINAL_PROMPT"] == "0"
    assert seen["PIP_NO_INPUT"] == "1" and seen["PYTHONNOUSERSITE"] == "1"
    # explicit credentials reach the one command given them
    assert processes.child_env({"TWINE_PASSWORD": "given"})["TWINE_PASSWORD"] == "given"
    activated = processes.child_env(venv=tmp_path / "v")
    assert activated["VIRTUAL_ENV"] == str(tmp_path / "v")
    assert activated["PATH"].startswith(str(tmp_path / "v" / "bin") + os.pathsep)


def test_no_colour_reaches_a_log_even_from_a_tool_told_to_colour(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # rich (pip's and twine's console) colours when FORCE_COLOR is set, even to "0".
    monkeypatch.setenv("FORCE_COLOR", "0")
    log = tmp_path / "rich.log"
    script = "from rich.console import Console; Console().print('[bold red]alarm[/]'); print('\\x1b[31mraw\\x1b[0m')"
    done = processes.run([sys.executable, "-c", script], timeout=60, log=log)
    assert done.ok
    text = log.read_text()
    assert "alarm" in text and "raw" in text
    assert "\x1b" not in text and "\x1b" not in done.stdout


def test_one_log_format(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    processes.run([sys.executable, "-c", "print('hello')"], timeout=60, log=log, title="greeting", cwd=tmp_path)
    lines = log.read_text().splitlines()
    assert lines[0] == "## greeting"
    assert lines[1].startswith("$ ") and lines[1].endswith("-c 'print('\"'\"'hello'\"'\"')'")
    assert lines[2] == f"# cwd: {tmp_path}"
    assert lines[3] == "hello"
    assert lines[4].startswith("# exit 0 after ")


def test_a_background_server_is_stopped_with_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = processes.start(_grandchild_script(pidfile), log=tmp_path / "server.log")
    pid = _wait_for_pid(pidfile)
    assert started.pid in processes.live_process_groups()
    started.stop(timeout=2)
    assert _gone(pid)
    assert started.poll() is not None
    assert processes.live_process_groups() == []


# --------------------------------------------------------------------------- one way to make a venv


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_one_way_to_make_a_venv_and_install(installer: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if installer == "pip":
        monkeypatch.setenv(venv.INSTALLER_ENV, "pip")
    else:
        assert venv.uv_binary() is not None  # uv is a dependency of releaselib
    project = tmp_path / "tiny"
    (project / "src" / "tiny").mkdir(parents=True)
    (project / "src" / "tiny" / "__init__.py").write_text("VALUE = 42\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tiny"\nversion = "1.0"\n'
    )
    log = tmp_path / "venv.log"
    made = venv.create(sys.executable, tmp_path / "env", log=log)
    done = venv.install(made, [str(project)], log=log, no_cache=True)
    assert done.ok, log.read_text()
    where = processes.run([made.python, "-c", "import tiny, os; print(tiny.VALUE, os.path.realpath(tiny.__file__))"],
                          cwd=tmp_path, timeout=60, env=made.env())  # fmt: skip
    value, path = where.stdout.split()
    assert value == "42" and path.startswith(os.path.realpath(tmp_path / "env"))
    text = log.read_text()
    assert ("uv pip install" in text) == (installer == "uv")
    assert ("-m pip install" in text) == (installer == "pip")
    versions = venv.tool_versions()
    assert versions["installer"] == installer
    assert (installer == "pip") or versions["uv"].count(".") == 2
    from releaselib.record.store import tool_versions

    assert tool_versions()["installer"] == installer  # the record says which installer ran


def test_uv_is_looked_up_once_even_when_matrix_threads_ask_at_once(monkeypatch):
    """uv's find_uv_bin reads sysconfig, which is not safe to initialise from two threads at once."""
    import threading
    import time

    import uv

    from releaselib.infra import venv

    inside, calls, overlapped = [0], [0], []
    lock = threading.Lock()

    def find_uv_bin() -> str:
        with lock:
            inside[0] += 1
            calls[0] += 1
            if inside[0] > 1:
                overlapped.append(True)
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return "/opt/uv/bin/uv"

    monkeypatch.setattr(uv, "find_uv_bin", find_uv_bin)
    monkeypatch.delenv(venv.INSTALLER_ENV, raising=False)
    venv._find_uv.cache_clear()
    try:
        results: list[str | None] = []
        threads = [threading.Thread(target=lambda: results.append(venv.uv_binary())) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        venv._find_uv.cache_clear()
    assert results == ["/opt/uv/bin/uv"] * 8
    assert not overlapped and calls[0] == 1
