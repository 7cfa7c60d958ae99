"""Faults an operator meets: two runs of one repository, links and odd files in what a release rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.engine.lock import release_lock
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


# -- links and odd files in what the bump rewrites ------------------------------------------------

from releaselib.core.errors import ConfigError  # noqa: E402
from releaselib.phases.bump import plan_release_bump  # noqa: E402

from .test_bump import INIT, make_release, project, snapshot, write  # noqa: E402,F401 - the fixture too


def test_a_version_file_linking_outside_the_repository_is_refused(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "init.py"
    outside.write_text((project / INIT).read_text())
    (project / INIT).unlink()
    (project / INIT).symlink_to(outside)

    with pytest.raises(ConfigError, match="outside the repository"):
        plan_release_bump(make_release(project, "2.2"))
    assert '"2.1+dev"' in outside.read_text()


def test_a_version_file_linked_inside_the_repository_stays_a_link(project):
    real = project / "src" / "pkg" / "_version_source.py"
    real.write_text((project / INIT).read_text())
    (project / INIT).unlink()
    (project / INIT).symlink_to("_version_source.py")

    plan_release_bump(make_release(project, "2.2")).execute(dry_run=False)

    assert (project / INIT).is_symlink() and '__version__ = "2.2"' in real.read_text()


def test_docs_globs_fail_on_a_marker_in_non_utf8_and_never_touch_binary_files(project):
    binary = b"PNG\0\0 2.1+ \x00 logo bytes that happen to decode 2.1+"
    write(project, "doc/logo.rst", binary)  # matched by doc/**/*.rst
    write(project, "doc/plain.rst", "caf\xe9 without any marker\n".encode("latin-1"))

    plan = plan_release_bump(make_release(project, "2.2"))
    plan.execute(dry_run=False)
    assert (project / "doc" / "logo.rst").read_bytes() == binary
    assert "doc/logo.rst: skipped, binary (git treats it so); never rewritten" in str(plan)
    assert "doc/plain.rst: skipped, not UTF-8 text and holds no marker" in str(plan)


def test_a_marker_in_a_non_utf8_doc_fails_the_bump_with_the_file_named(project):
    write(project, "doc/legacy.rst", "Caf\xe9 since 2.1+\n".encode("latin-1"))
    before = snapshot(project)
    with pytest.raises(ConfigError, match="doc/legacy.rst holds the development marker"):
        plan_release_bump(make_release(project, "2.2"))
    assert snapshot(project) == before
