"""Helpers for the failure and resume tests: run the runner as a process, kill it at a cell, compare releases."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from releaselib.infra.processes import processes_of_run
from releaselib.infra.index import index_files

from .helpers import git, with_accepted_draft

NO_MATRIX = "preflight,changelog,bump,commit_tag,build,publish,docs,post_release,announce"


class Runner:
    """One ``releaselib run`` as a child process, its output in files."""

    def __init__(self, env: Any, version: str, *extra: str, tmp: Path, name: str,
                 environ: dict[str, str] | None = None) -> None:
        self.staging = tmp / f"staging-{name}"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.out = tmp / f"{name}.out"
        self.err = tmp / f"{name}.err"
        child_env = {**os.environ, "TMPDIR": str(self.staging), **(environ or {})}
        command = [sys.executable, "-m", "releaselib.cli", "run", version, "--repo", str(env.repo),
                   "--outputs", str(env.outputs), *extra]
        command = with_accepted_draft(command)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(command, env=child_env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def wait(self, timeout: float = 600) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for_cell(self, phase: str, cell: int, timeout: float = 300) -> None:
        """Return once the staged notebook of ``phase`` shows cell ``cell`` started (papermill saves then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in self.staging.glob(f"releaselib-{phase}-*/*.ipynb"):
                try:
                    cells = json.loads(path.read_text())["cells"]
                except (OSError, ValueError, KeyError):
                    continue  # being written
                status = cells[cell].get("metadata", {}).get("papermill", {}).get("status")
                if status in ("running", "completed"):
                    return
            if self.proc.poll() is not None:
                raise AssertionError(f"the runner ended ({self.proc.returncode}) before {phase} cell {cell}:\n"
                                     + self.stderr[-3000:])
            time.sleep(0.01)
        raise AssertionError(f"{phase} cell {cell} did not start within {timeout} s")

    def kernel_pids(self) -> list[int]:
        """Children of the runner process (its kernel)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rpartition(")")[2].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """Wait until none of ``pids`` is alive (zombies count as gone); return those still alive."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        if alive:
            time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def lock_holder(env: Any) -> dict[str, Any]:
    path = env.outputs / "bsonlite" / "release.lock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError("no lock file")


def run_processes(run_id: str) -> list[int]:
    return processes_of_run(run_id)


# -- comparing two releases made in different sandboxes ----------------------------------

# Timings differ run to run; file sizes differ between sandboxes because the built files
# carry each sandbox's pyproject.toml (its servers' ports). Hashes are normalised too, and
# index_summary checks them against the record of the same run.
_TIMING_KEYS = re.compile(
    r"(duration|seconds|elapsed|started|ended|time|when|polls|attempts|took|date|at$|^size$)", re.IGNORECASE
)


def normalise(value: Any, root: Path) -> Any:
    """Strip what legitimately differs between two sandboxes: paths, ports, shas, timings."""
    if isinstance(value, dict):
        return {k: normalise(v, root) for k, v in sorted(value.items()) if not _TIMING_KEYS.search(k)}
    if isinstance(value, list):
        return [normalise(v, root) for v in value]
    if isinstance(value, str):
        text = value.replace(str(root), "<ROOT>")
        text = re.sub(r"\S*/site-packages/", "<SITE-PACKAGES>/", text)  # each install test's own venv
        text = re.sub(r"127\.0\.0\.1:\d+", "<HOST>", text)
        text = re.sub(r"\b[0-9a-f]{64}\b", "<SHA256>", text)
        text = re.sub(r"\b[0-9a-f]{40}\b", "<SHA>", text)
        text = re.sub(r"\b[0-9a-f]{7,12}\b", "<SHORT>", text)
        text = re.sub(r"\d+(\.\d+)? ?s\b", "<N>s", text)
        return text
    if isinstance(value, float):
        return "<FLOAT>"
    return value


def record_summary(env: Any, version: str) -> dict[str, Any]:
    """Each phase's final result and recorded values, normalised."""
    record = json.loads((env.outputs / "bsonlite" / version / "record.json").read_text())
    latest: dict[str, Any] = {}
    for entry in record["entries"]:
        latest[entry["phase"]] = entry
    return {
        phase: (entry["result"], normalise(entry["values"], env.root))
        for phase, entry in sorted(latest.items())
    }


def remote_summary(env: Any) -> dict[str, Any]:
    """Refs of the bare remote as subjects and contents (shas differ between sandboxes)."""
    refs = git(env.origin, "for-each-ref", "--format=%(refname) %(objecttype)").splitlines()
    summary: dict[str, Any] = {}
    for line in refs:
        name, kind = line.split()
        if name.startswith("refs/notes/"):
            continue  # the record's anchor: its content differs between sandboxes (hashes)
        summary[name] = {
            "type": kind,
            "subjects": git(env.origin, "log", "--format=%s", "-n", "4", name).splitlines(),
            "message": git(env.origin, "for-each-ref", "--format=%(contents)", name) if kind == "tag" else None,
            "version_file": git(env.origin, "show", f"{name}:src/bsonlite/__init__.py"),
        }
    summary["bump_commits"] = git(env.origin, "log", "--format=%s", "main").splitlines().count("BUMP 1.1")
    return summary


def index_summary(env: Any, version: str) -> list[str]:
    """The index's filenames; each file's hash must be the one this release recorded."""
    listed = index_files(env.servers.index.simple_url, "bsonlite")
    record = json.loads((env.outputs / "bsonlite" / version / "record.json").read_text())
    built = {}
    for entry in record["entries"]:
        if entry["phase"] == "05_build" and entry["result"] == "succeeded":
            built = {f["filename"]: f["sha256"] for f in entry["values"]["files"]}
    assert listed == built, (listed, built)
    assert env.servers.index.files() == built
    return sorted(listed)


def mailbox_summary(env: Any) -> list[tuple[str, str, str]]:
    return [
        (m["Subject"], m["Message-ID"], normalise(m.get_content(), env.root))
        for m in env.servers.mail.messages
    ]


def release_summary(env: Any, version: str) -> dict[str, Any]:
    return {
        "remote": remote_summary(env),
        "index": index_summary(env, version),
        "mail": mailbox_summary(env),
        "record": record_summary(env, version),
    }
