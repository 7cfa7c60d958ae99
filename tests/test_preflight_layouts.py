"""Preflight on the layout corpus: shallow clones, tag formats, every phase's settings at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.core.errors import RepoStateError, VersionError
from releaselib.core.versions import check_newer
from releaselib.engine.context import start
from releaselib.phases import preflight

from .helpers import git
from .test_layouts import make_repo


def shallow_clone(repo: Path, tmp_path: Path) -> Path:
    origin = git(repo, "remote", "get-url", "origin")
    clone = tmp_path / "ci-checkout"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-tags", "-b", "main", f"file://{origin}", str(clone))
    return clone


def test_a_shallow_clone_reads_the_last_release_from_the_remote(tmp_path: Path) -> None:
    repo = make_repo("layout_vtags", tmp_path)
    clone = shallow_clone(repo, tmp_path)
    assert git(clone, "tag", "--list") == ""  # what CI checks out
    release = start("plan", "0.4", repo=clone, outputs=tmp_path / "out")
    assert preflight.is_shallow(clone)
    assert preflight.last_release(release) == "0.3"  # v0.3 on the remote, not "first release"
    with pytest.raises(VersionError, match="older than the last release '0.3'"):
        check_newer("0.2.1", preflight.last_release(release))


def test_a_shallow_clone_whose_remote_cannot_be_read_says_how_to_unshallow(tmp_path: Path) -> None:
    repo = make_repo("layout_vtags", tmp_path)
    clone = shallow_clone(repo, tmp_path)
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    release = start("plan", "0.4", repo=clone, outputs=tmp_path / "out")
    with pytest.raises(RepoStateError) as info:
        preflight.last_release(release)
    assert "git fetch --unshallow --tags origin" in info.value.hint


def test_a_tag_template_that_misses_the_existing_tags_is_reported(tmp_path: Path, monkeypatch) -> None:
    repo = make_repo("layout_vtags", tmp_path)
    (tmp_path / "conf.toml").write_text(
        'tag = "{version}"\n[[version-files]]\npath = "pyproject.toml"\npattern = \'version = "{version}"\'\n'
    )
    monkeypatch.setenv("RELEASELIB_CONFIG", str(tmp_path / "conf.toml"))
    release = start("plan", "0.4", repo=repo, outputs=tmp_path / "out")
    report = preflight.run_checks(release, "00_preflight,03_bump")
    failed = {r.name: r.detail for r in report.results if not r.ok}
    assert "tag format matches the existing tags" in failed
    assert 'tag = "v{version}"' in failed["tag format matches the existing tags"]
