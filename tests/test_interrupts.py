"""Ctrl-C and SIGTERM during a slow push: nothing of the run outlives the message, the record says what happened.

The remote's pre-receive hook holds the post-release push for a while (as a
slow network would); the runner gets the signal while git waits on it. Once
the runner has exited: no process of the run is alive (the hook's sleep
included), the lock is gone, the attempt is in the record as `interrupted`
with its notebook, no temporary folder of the run is left, and the push
never lands, not even after the hook would have finished.
"""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path

import pytest

from releaselib.local.demo import release_environment
from releaselib.record.verify import verify_record

from .helpers import git
from .resume_helpers import Runner, lock_holder, run_processes, wait_gone

pytestmark = pytest.mark.e2e

PHASES = "preflight,changelog,bump,commit_tag,post_release"
HOLD = 8  # seconds the hook holds a push to main

HOOK = """#!/bin/sh
# Hold a push to main for a while when the marker's folder asks for it.
while read old new ref; do
  if [ "$ref" = "refs/heads/main" ] && [ -e "{slow}" ]; then
    sleep {hold} &
    echo $! > "{marker}"
    wait
  fi
done
exit 0
"""


def _slow_pushes(origin: Path, folder: Path) -> tuple[Path, Path]:
    slow, marker = folder / "slow", folder / "sleep.pid"
    slow.touch()
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(slow=slow, marker=marker, hold=HOLD))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    return slow, marker


def _wait_for(path: Path, runner: Runner, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        assert runner.proc.poll() is None, runner.stderr[-3000:]
        time.sleep(0.05)
    raise AssertionError("the push never reached the remote's hook")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_slow_push_ends_every_process_and_records_the_attempt(tmp_path, signum):
    with release_environment(tmp_path / "env") as env:
        slow, marker = _slow_pushes(env.origin, tmp_path)
        runner = Runner(env, "1.1", "--phases", PHASES, "-p", "allow_untested=true",
                        tmp=tmp_path, name="run")  # no tests or build here: the gate is overridden
        sleep_pid = _wait_for(marker, runner)
        hook_ends = time.monotonic() + HOLD  # the hook's sleep started just before it wrote its pid
        run_id = lock_holder(env)["run_id"]
        remote_main = git(env.origin, "rev-parse", "main")

        runner.proc.send_signal(signum)
        code = runner.wait(timeout=60)

        name = signal.Signals(signum).name
        assert code == 128 + signum, runner.stderr
        err = " ".join(runner.stderr.split())
        assert f"Interrupted ({name})" in err and "--resume" in err and "Traceback" not in err, err
        # Nothing of the run is alive once the runner has exited: not the kernel, not git, not the hook.
        assert run_processes(run_id) == []
        assert wait_gone([sleep_pid], timeout=0.5) == []
        assert not (env.outputs / "bsonlite" / "release.lock").exists()
        assert [p.name for p in runner.staging.iterdir()] == []  # no staging or run folder left

        record = json.loads((env.outputs / "bsonlite" / "1.1" / "record.json").read_text())
        entry = record["entries"][-1]
        assert (entry["phase"], entry["result"]) == ("08_post_release", "interrupted")
        assert entry["reason"].startswith(f"interrupted by {name} during cell "), entry["reason"]
        assert (env.outputs / "bsonlite" / "1.1" / entry["notebook"]).is_file()

        # The push never lands: the remote is what the record says (no post-release commit pushed), even
        # once the hook would have let it through (plus 2 s for git to finish a push it had let through).
        local_head = git(env.repo, "rev-parse", "HEAD")
        time.sleep(max(0.0, hook_ends + 2 - time.monotonic()))
        assert git(env.origin, "rev-parse", "main") == remote_main != local_head

        if signum == signal.SIGINT:
            # The resume finishes the release on true premises, and the remote agrees with the record.
            slow.unlink()
            resumed = Runner(env, "1.1", "--phases", PHASES, "--resume", "-p", "allow_untested=true",
                             tmp=tmp_path, name="resume")
            assert resumed.wait() == 0, resumed.stderr
            assert git(env.origin, "rev-parse", "main") == git(env.repo, "rev-parse", "HEAD")
            found = verify_record(env.outputs, "bsonlite", "1.1", repo=env.repo)
            assert found.problems == [] and any("anchor" in line for line in found.checked), found
