"""End-to-end: the runner SIGKILLed in the middle of each phase in turn, then resumed.

One release is killed once inside every phase (the kill comes when the
phase's notebook starts a chosen cell, seen in papermill's staged notebook:
no sleeps), and resumed each time. The final remote, index, mailbox and
record must equal those of an uninterrupted release made in another sandbox.
"""

from __future__ import annotations

import pytest

from releaselib.cli import main
from releaselib.demo import release_environment

from .resume_helpers import (
    NO_MATRIX,
    Runner,
    lock_holder,
    release_summary,
    run_processes,
    wait_gone,
)

pytestmark = pytest.mark.e2e

#: (phase, the cell whose start triggers the kill): mostly the cell right after the
#: phase's effect, so the effect happened and the record never heard of it.
KILL_POINTS = [
    ("00_preflight", 7),     # the checks
    ("02_changelog", 7),     # section written, not recorded
    ("03_bump", 8),          # files bumped, files_changed not recorded
    ("04_commit_tag", 7),    # committed and tagged, bump_commit not recorded
    ("05_build", 7),         # built, files not recorded
    ("06_publish", 9),       # pushed and uploaded, not verified or recorded
    ("07_docs", 5),          # waiting for the docs
    ("08_post_release", 9),  # next dev version committed and pushed, not recorded
    ("09_announce", 8),      # the mail sent, sent_message_id not recorded
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    with release_environment(root) as env:
        runner = Runner(env, "1.1", "--phases", NO_MATRIX, tmp=root, name="run")
        assert runner.wait() == 0, runner.stderr
        yield release_summary(env, "1.1")


def test_killed_in_every_phase_then_resumed_equals_an_uninterrupted_release(uninterrupted, tmp_path, capsys):
    with release_environment(tmp_path) as env:
        kernels_seen = 0
        for number, (phase, cell) in enumerate(KILL_POINTS):
            extra = ["--resume"] if number else []
            runner = Runner(env, "1.1", "--phases", NO_MATRIX, *extra, tmp=tmp_path, name=f"kill-{phase}")
            if phase == "05_build":
                # A second run while this one runs: refused, the lock names the holder.
                runner.wait_for_cell(phase, 5)
                code = main(["run", "1.1", "--repo", str(env.repo), "--outputs", str(env.outputs),
                             "--phases", NO_MATRIX, "--resume"])
                err = capsys.readouterr().err
                assert code != 0
                assert "Another release of bsonlite is running" in err and f"pid {runner.proc.pid}" in err, err
            runner.wait_for_cell(phase, cell)
            kernels = runner.kernel_pids()
            runner.kill()
            holder = lock_holder(env)
            assert holder["pid"] == runner.proc.pid  # the killed runner's lock is left behind
            # ipykernel's parent poller ends the orphaned kernel by itself.
            assert wait_gone(kernels) == [], f"the kernel of {phase} outlived its runner"
            kernels_seen += len(kernels)
        assert kernels_seen >= len(KILL_POINTS) // 2

        final = Runner(env, "1.1", "--phases", NO_MATRIX, "--resume", tmp=tmp_path, name="final")
        assert final.wait() == 0, final.stderr
        # The takeover ended whatever the last killed run had left running.
        assert run_processes(holder["run_id"]) == []
        assert not (env.outputs / "bsonlite" / "release.lock").exists()
        resumed = release_summary(env, "1.1")

    assert resumed["remote"] == uninterrupted["remote"]
    assert resumed["index"] == uninterrupted["index"]
    assert resumed["mail"] == uninterrupted["mail"]
    assert len(resumed["mail"]) == 1
    assert resumed["record"] == uninterrupted["record"]
