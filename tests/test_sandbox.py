"""The sandbox: the bundled sample as a real git repository with a bare origin."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from releaselib.core.errors import ConfigError, RepoStateError
from releaselib.local.docs_hook import install_docs_hook
from releaselib.local.sandbox import (
    SAMPLE_DIR,
    Sandbox,
    create_sandbox,
    set_project_config,
)

from .helpers import git

SINCE_RELEASE = [
    "Document the C extension switch",
    "Fix int32 overflow check",
    "Add decode of nested documents",
    "BUMP 1.0+dev",
]
VERSION_FILE = "src/bsonlite/__init__.py"




def origin_git(sandbox: Sandbox, *args: str) -> str:
    return git(sandbox.root, "--git-dir", str(sandbox.origin), *args)


def in_sync_and_clean(sandbox: Sandbox) -> bool:
    return (
        git(sandbox.repo, "status", "--porcelain", "--untracked-files=all") == ""
        and git(sandbox.repo, "rev-parse", "main") == origin_git(sandbox, "rev-parse", "main")
    )


def tree_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def push_version(sandbox: Sandbox, version: str, *, branch: str = "main") -> None:
    """Commit ``__version__ = version`` on ``branch`` (made from main) and push it."""
    git(sandbox.repo, "checkout", "-q", "-B", branch, "main")
    path = sandbox.repo / VERSION_FILE
    text = path.read_text(encoding="utf-8").replace('__version__ = "1.0+dev"', f'__version__ = "{version}"')
    path.write_text(text, encoding="utf-8")
    git(sandbox.repo, "commit", "-q", "-am", f"BUMP {version}")
    git(sandbox.repo, "push", "-q", "origin", f"{branch}:{branch}")
    git(sandbox.repo, "checkout", "-q", "main")


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return create_sandbox(tmp_path / "sandbox")


def test_repo_is_clean_on_main_and_in_sync_with_origin(sandbox: Sandbox) -> None:
    assert sandbox.repo == sandbox.root / "bsonlite"
    assert sandbox.origin == sandbox.root / "origin.git"
    assert git(sandbox.repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(sandbox.repo, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    assert origin_git(sandbox, "rev-parse", "--is-bare-repository") == "true"
    assert in_sync_and_clean(sandbox)


def test_tip_of_main_is_the_sample_as_shipped(sandbox: Sandbox) -> None:
    files = tree_files(SAMPLE_DIR)
    assert ".gitignore" in files and "src/bsonlite/_cbson.c" in files
    assert tree_files(sandbox.repo) == files
    _, mismatch, errors = filecmp.cmpfiles(SAMPLE_DIR, sandbox.repo, files, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_release_tag_is_annotated_on_origin_and_holds_1_0(sandbox: Sandbox) -> None:
    assert origin_git(sandbox, "cat-file", "-t", "refs/tags/1.0") == "tag"
    assert origin_git(sandbox, "tag", "-l", "--format=%(contents:subject)", "1.0") == "1.0"
    assert git(sandbox.repo, "log", "-1", "--format=%s", "1.0") == "BUMP 1.0"
    released = git(sandbox.repo, "show", f"1.0:{VERSION_FILE}")
    assert '__version__ = "1.0"\n' in released
    assert "version_tuple = (1, 0)\n" in released
    assert "1.0+" not in released  # no development markers in a release
    current = (sandbox.repo / VERSION_FILE).read_text(encoding="utf-8")
    assert '__version__ = "1.0+dev"' in current and "version_tuple = (1, 0, '+')" in current


def test_history_since_the_release_has_three_real_commits(sandbox: Sandbox) -> None:
    assert git(sandbox.repo, "log", "--format=%s", "1.0..main").splitlines() == SINCE_RELEASE
    for sha in git(sandbox.repo, "rev-list", "1.0..main").splitlines():
        assert git(sandbox.repo, "show", "--name-only", "--format=", sha) != ""
    changed = git(sandbox.repo, "diff", "--name-only", "main~3", "main").splitlines()
    assert {"src/bsonlite/_pure.py", "doc/index.rst", "tests/test_bsonlite.py"} <= set(changed)
    # The dev markers arrive after the release, with the feature they describe.
    assert "versionadded:: 1.0+" in git(sandbox.repo, "diff", "1.0", "main", "--", VERSION_FILE)
    assert git(sandbox.repo, "log", "--format=%s", "1.0").splitlines() == [
        "BUMP 1.0",
        "Add changelog for 1.0",
        "BUMP 0.12+dev", "BUMP 0.12", "Add changelog for 0.12",
        "BUMP 0.11+dev", "BUMP 0.11", "Add changelog for 0.11",
        "BUMP 0.10+dev", "BUMP 0.10", "Deprecate dumps, the old name of encode",
        "Initial import",
    ]


def test_earlier_releases_deprecate_dumps_for_the_api_ledger(sandbox: Sandbox) -> None:
    assert origin_git(sandbox, "tag", "--list").split() == ["0.10", "0.11", "0.12", "1.0"]
    for tag in ("0.10", "0.11", "0.12"):
        assert origin_git(sandbox, "cat-file", "-t", f"refs/tags/{tag}") == "tag"
        assert f'__version__ = "{tag}"' in git(sandbox.repo, "show", f"{tag}:{VERSION_FILE}")
    first = git(sandbox.repo, "show", f"0.10~2:{VERSION_FILE}")  # the initial import
    assert "def dumps(document):" in first and "DeprecationWarning" not in first
    assert '__version__ = "0.9+dev"' in first
    assert "DeprecationWarning" in git(sandbox.repo, "show", f"0.10:{VERSION_FILE}")


def test_history_is_deterministic_and_has_a_local_identity(tmp_path: Path) -> None:
    first = create_sandbox(tmp_path / "one")
    second = create_sandbox(tmp_path / "two")
    assert git(first.repo, "rev-parse", "main") == git(second.repo, "rev-parse", "main")
    authors = set(git(first.repo, "log", "--format=%an <%ae> %cn", "main").splitlines())
    assert authors == {"Release Manager <release@example.org> Release Manager"}
    assert git(first.repo, "config", "--local", "user.email") == "release@example.org"


def test_an_existing_sandbox_folder_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(RepoStateError) as caught:
        create_sandbox(sandbox.root)
    assert caught.value.hint


def test_a_project_lacking_a_step_gets_a_placeholder_commit(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE_DIR, project)
    index = project / "doc" / "index.rst"
    index.write_text(index.read_text(encoding="utf-8").split("C extension\n---")[0], encoding="utf-8")
    sandbox = create_sandbox(tmp_path / "sandbox", project=project)
    assert git(sandbox.repo, "log", "--format=%s", "1.0..main").splitlines() == SINCE_RELEASE
    assert git(sandbox.repo, "show", "--name-only", "--format=", "main") == "NOTES.txt"
    assert in_sync_and_clean(sandbox)


def test_a_project_not_at_the_dev_version_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLE_DIR, project)
    init = project / VERSION_FILE
    init.write_text(init.read_text(encoding="utf-8").replace("1.0+dev", "2.0+dev"), encoding="utf-8")
    with pytest.raises(ConfigError, match="1.0\\+dev"):
        create_sandbox(tmp_path / "sandbox", project=project)


def test_set_project_config_commits_pushes_and_keeps_the_rest(sandbox: Sandbox) -> None:
    before = git(sandbox.repo, "rev-parse", "main")
    values = {"repository-url": "http://127.0.0.1:8080/", "index-url": "http://127.0.0.1:8080/simple/"}
    set_project_config(sandbox.repo, "publish", values)

    data = tomllib.loads((sandbox.repo / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["releaselib"]["publish"] == values
    assert len(data["tool"]["releaselib"]["version-files"]) == 2
    assert data["tool"]["releaselib"]["matrix"]["no-extension-env"] == "BSONLITE_NO_EXT"
    assert git(sandbox.repo, "log", "-1", "--format=%s") == "Configure local release servers"
    assert git(sandbox.repo, "rev-parse", "main~1") == before
    assert in_sync_and_clean(sandbox)

    # The same values again change nothing; new values replace the table whole.
    tip = git(sandbox.repo, "rev-parse", "main")
    set_project_config(sandbox.repo, "publish", values)
    assert git(sandbox.repo, "rev-parse", "main") == tip
    set_project_config(sandbox.repo, "publish", {"repository-url": "http://127.0.0.1:9090/"})
    data = tomllib.loads((sandbox.repo / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["releaselib"]["publish"] == {"repository-url": "http://127.0.0.1:9090/"}
    assert in_sync_and_clean(sandbox)


def test_set_project_config_rejects_values_toml_cannot_hold(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError) as caught:
        set_project_config(sandbox.repo, "announce", {"smtp-host": None})
    assert caught.value.hint
    assert in_sync_and_clean(sandbox)


def test_docs_hook_rebuilds_the_page_on_push_to_main(sandbox: Sandbox, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_docs_hook(sandbox.origin, site, package="bsonlite", version_file=VERSION_FILE)
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "<title>bsonlite 1.0+dev documentation</title>" in page
    assert "<h1>bsonlite 1.0+dev documentation</h1>" in page
    assert "Changes in Version 1.0" in page

    # Another branch is not what the docs builder follows.
    push_version(sandbox, "9.9", branch="feature")
    assert "bsonlite 1.0+dev documentation" in (site / "index.html").read_text(encoding="utf-8")

    push_version(sandbox, "1.1")
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "<h1>bsonlite 1.1 documentation</h1>" in page
    assert git(sandbox.repo, "rev-parse", "main") in page


def test_docs_hook_needs_a_bare_repository(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(RepoStateError):
        install_docs_hook(sandbox.repo, tmp_path / "site", package="bsonlite", version_file=VERSION_FILE)


def build(source: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), *args, str(source)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def clone(sandbox: Sandbox, tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(sandbox.origin), str(target))
    return target


def test_a_clean_clone_builds_sdist_and_wheel_at_the_dev_version(clone: Path, tmp_path: Path) -> None:
    result = build(clone, tmp_path / "dist")
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert len(names) == 2
    sdist, wheel = sorted(names, key=lambda n: n.endswith(".whl"))
    assert sdist == "bsonlite-1.0+dev.tar.gz"
    assert wheel.startswith("bsonlite-1.0+dev-cp") and "linux" in wheel  # the C extension is in it
    assert git(clone, "status", "--porcelain") == ""  # build/ and egg-info are ignored


def test_without_the_extension_the_wheel_is_pure(clone: Path, tmp_path: Path) -> None:
    result = build(clone, tmp_path / "dist", "--wheel", env={"BSONLITE_NO_EXT": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["bsonlite-1.0+dev-py3-none-any.whl"]


def test_a_compile_error_fails_the_build(clone: Path, tmp_path: Path) -> None:
    with (clone / "src" / "bsonlite" / "_cbson.c").open("a", encoding="utf-8") as source:
        source.write("\n#error broken on purpose\n")
    result = build(clone, tmp_path / "dist", "--wheel")
    assert result.returncode != 0
    assert "broken on purpose" in result.stdout + result.stderr


@pytest.mark.parametrize("ref", ["main", "1.0"])
def test_the_sample_passes_its_own_tests_and_doctests(clone: Path, ref: str) -> None:
    git(clone, "checkout", "-q", ref)
    # Pure Python straight from src/: fast, and it is the fallback every build must match.
    env = {**os.environ, "PYTHONPATH": str(clone / "src"), "BSONLITE_NO_EXT": "1"}
    for command in (["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], ["-m", "doctest", "doc/usage.rst"]):
        result = subprocess.run(
            [sys.executable, *command], cwd=clone, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert git(clone, "status", "--porcelain") == ""
