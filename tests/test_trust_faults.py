"""Faults an operator meets: two runs of one repository, links and odd files in what a release rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.engine.runner import release_lock
from releaselib.local.sandbox import create_sandbox

from .helpers import git, repo_state


@pytest.fixture
def sandbox(tmp_path: Path):
    return create_sandbox(tmp_path / "sandbox")


def test_a_second_run_of_the_same_repository_with_other_outputs_is_refused(sandbox, tmp_path, capsys):
    before = repo_state(sandbox.repo, sandbox.origin)
    with release_lock(tmp_path / "outputs-a" / "bsonlite", "1.1", sandbox.repo):
        assert (Path(git(sandbox.repo, "rev-parse", "--absolute-git-dir")) / "releaselib.lock").is_file()
        code = main(["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(tmp_path / "outputs-b"),
                     "--phases", "bump,commit_tag"])
    err = " ".join(capsys.readouterr().err.split())
    assert code != 0 and "Another release of the repository" in err and "releaselib.lock" in err, err
    assert repo_state(sandbox.repo, sandbox.origin) == before
    assert not (Path(git(sandbox.repo, "rev-parse", "--absolute-git-dir")) / "releaselib.lock").exists()
