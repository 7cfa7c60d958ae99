"""End-to-end: the git-side phases release the sample through a real bare remote."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from releaselib.cli import main
from releaselib.record.notebooks import unfinished_cells

from .helpers import commit_all, git, repo_state, with_accepted_draft

GIT_PHASES = "preflight,changelog,bump,commit_tag,post_release"

pytestmark = pytest.mark.e2e


def release(sandbox, version: str, *extra: str, outputs: Path | None = None) -> int:
    outputs = outputs or sandbox.root / "outputs"
    return main(with_accepted_draft(
        ["run", version, "--repo", str(sandbox.repo), "--outputs", str(outputs), "--phases", GIT_PHASES,
         "-p", "allow_untested=true", *extra]  # no matrix or build: the gate is overridden
    ))


def test_release_reaches_the_remote(sandbox):
    before = git(sandbox.origin, "rev-parse", "main")

    assert release(sandbox, "1.1") == 0

    subjects = git(sandbox.origin, "log", "--format=%s", f"{before}..main").splitlines()
    assert subjects == ["BUMP 1.1+dev", "BUMP 1.1"]
    bump_commit = git(sandbox.origin, "rev-parse", "main~1")
    # An annotated tag, on the BUMP commit.
    assert git(sandbox.origin, "cat-file", "-t", "refs/tags/1.1") == "tag"
    assert git(sandbox.origin, "rev-parse", "1.1^{commit}") == bump_commit
    # The BUMP commit is the version edits and the drafted changelog section, nothing else.
    changed = set(git(sandbox.origin, "diff", "--name-only", f"{before}", bump_commit).splitlines())
    assert "src/bsonlite/__init__.py" in changed and "doc/changelog.rst" in changed
    assert changed <= {"src/bsonlite/__init__.py", "doc/changelog.rst", "doc/index.rst", "doc/usage.rst",
                       "src/bsonlite/_pure.py"}
    released = git(sandbox.origin, "show", f"{bump_commit}:src/bsonlite/__init__.py")
    assert '__version__ = "1.1"' in released and "version_tuple = (1, 1)" in released
    index = git(sandbox.origin, "show", f"{bump_commit}:doc/index.rst")
    assert "1.0+" not in index.replace("1.3.3+", "")  # every dev marker replaced...
    assert "Python 3.8+" in index and "1.3.3+" in index  # ...and nothing else
    changelog = git(sandbox.origin, "show", f"{bump_commit}:doc/changelog.rst")
    assert "Changes in Version 1.1" in changelog
    after = git(sandbox.origin, "show", "main:src/bsonlite/__init__.py")
    assert '__version__ = "1.1+dev"' in after and "version_tuple = (1, 1, '+')" in after

    record_dir = sandbox.root / "outputs" / "bsonlite" / "1.1"
    record = json.loads((record_dir / "record.json").read_text())
    phases = [entry["phase"] for entry in record["entries"]]
    assert phases == ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"]
    assert all(entry["result"] == "succeeded" for entry in record["entries"])
    tag_entry = record["entries"][3]
    assert tag_entry["values"]["bump_commit"] == bump_commit
    for entry in record["entries"]:
        nb = nbformat.read(record_dir / entry["notebook"], as_version=4)
        assert unfinished_cells(nb) == []
    # The repository itself is clean and in sync afterwards.
    assert git(sandbox.repo, "status", "--porcelain") == ""
    assert git(sandbox.repo, "rev-parse", "main") == git(sandbox.origin, "rev-parse", "main")


def test_version_1_10_is_never_1_1(sandbox):
    assert release(sandbox, "1.10") == 0
    assert git(sandbox.origin, "tag", "--list", "1.1*").splitlines() == ["1.10"]
    released = git(sandbox.origin, "show", "1.10:src/bsonlite/__init__.py")
    assert '__version__ = "1.10"' in released and "version_tuple = (1, 10)" in released
    assert git(sandbox.origin, "log", "-1", "--format=%s", "1.10") == "BUMP 1.10"


def test_dry_run_changes_nothing(sandbox):
    before = repo_state(sandbox.repo, sandbox.origin)
    assert release(sandbox, "1.1", "--dry-run") == 0
    assert repo_state(sandbox.repo, sandbox.origin) == before


# -- bad input: one clear message, nothing changed ---------------------------------

def _tag_locally(sb):
    git(sb.repo, "tag", "-a", "1.1", "-m", "1.1")


def _tag_on_remote(sb, tmp):
    clone = tmp / "other"
    git(tmp, "clone", "-q", str(sb.origin), str(clone))
    git(clone, "tag", "-a", "1.1", "-m", "someone else's 1.1")
    git(clone, "push", "-q", "origin", "1.1")


def _dirty(sb):
    path = sb.repo / "src" / "bsonlite" / "_pure.py"
    path.write_text(path.read_text() + "\n# local edit\n")


def _wrong_branch(sb):
    git(sb.repo, "switch", "-q", "-c", "feature")


def _behind(sb, tmp):
    clone = tmp / "other"
    git(tmp, "clone", "-q", str(sb.origin), str(clone))
    (clone / "NEWS").write_text("news\n")
    commit_all(clone, "Someone else's commit")
    git(clone, "push", "-q", "origin", "main")


def _unknown_key(sb):
    path = sb.repo / "pyproject.toml"
    path.write_text(path.read_text().replace('tag = "{version}"', 'tag = "{version}"\ncomit-message = "x {version}"'))
    commit_all(sb.repo, "Typo in the release config")


def _pattern_matches_nothing(sb):
    path = sb.repo / "pyproject.toml"
    path.write_text(path.read_text().replace("pattern = '__version__ = \"{version}\"'",
                                             "pattern = '__VERSION__ = \"{version}\"'"))
    commit_all(sb.repo, "Wrong pattern")


BAD_INPUTS = [
    ("not-pep440", "1.1.x", None, ["1.1.x", "PEP 440"]),
    ("not-newer", "0.9", None, ["0.9", "1.0"]),
    ("tag-local", "1.1", _tag_locally, ["1.1", "already exists"]),
    ("tag-remote", "1.1", _tag_on_remote, ["1.1", "origin"]),
    ("dirty", "1.1", _dirty, ["_pure.py"]),
    ("wrong-branch", "1.1", _wrong_branch, ["feature", "main"]),
    ("behind", "1.1", _behind, ["behind"]),
    ("unknown-key", "1.1", _unknown_key, ["comit-message", "commit-message"]),
    ("pattern-nothing", "1.1", _pattern_matches_nothing, ["__init__.py", "__VERSION__"]),
]


@pytest.mark.parametrize("name,version,setup,phrases", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_and_changes_nothing(sandbox, tmp_path, capsys, name, version, setup, phrases):
    if setup is not None:
        setup(sandbox, tmp_path) if setup.__code__.co_argcount == 2 else setup(sandbox)
    before = repo_state(sandbox.repo, sandbox.origin)

    code = release(sandbox, version)

    err = capsys.readouterr().err
    assert code != 0
    assert "error:" in err and "TIP:" in err, err
    for phrase in phrases:
        assert phrase in err, f"{phrase!r} not in:\n{err}"
    assert repo_state(sandbox.repo, sandbox.origin) == before


@pytest.mark.parametrize("phase", ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"])
def test_runbook_runs_top_to_bottom_with_only_version_edited(sandbox, tmp_path, monkeypatch, phase):
    """As a maintainer in JupyterLab would: copy the runbook into the project, edit `version`, Run All."""
    from nbclient import NotebookClient

    # Preflight on its own checks every phase, the upload's credentials included (kernels see the env).
    monkeypatch.setenv("TWINE_USERNAME", "releaser")
    monkeypatch.setenv("TWINE_PASSWORD", "not-a-real-password")
    # ...and the docs and mail settings of 07 and 09, which a configured project has (the sample leaves
    # them to the demo's local servers).
    import json

    from releaselib.infra.config import OVERRIDES_ENV

    monkeypatch.setenv(OVERRIDES_ENV, json.dumps({
        "docs-check": {"url": "http://127.0.0.1:9/bsonlite/"},
        "announce": {"smtp-host": "127.0.0.1", "sender": "Releaser <releaser@example.org>",
                     "to": ["announce@example.org"]},
    }))

    from releaselib.core.registry import bundled_runbooks_dir

    nb = nbformat.read(bundled_runbooks_dir() / f"{phase}.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "dry_run = True" in params.source  # opening a runbook by hand changes nothing by default
    params.source = params.source.replace("version = None", 'version = "1.1"', 1)
    params.source = params.source.replace("outputs = None", f"outputs = {str(tmp_path / 'outputs')!r}", 1)
    before = repo_state(sandbox.repo, sandbox.origin)

    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(sandbox.repo)}}).execute()

    assert unfinished_cells(nb) == []
    assert repo_state(sandbox.repo, sandbox.origin) == before


def test_plan_shows_checks_and_actions_and_changes_nothing(sandbox, capsys):
    before = repo_state(sandbox.repo, sandbox.origin)
    code = main(["plan", "1.1", "--repo", str(sandbox.repo), "--outputs", str(sandbox.root / "outputs"),
                 "--phases", GIT_PHASES])
    out = capsys.readouterr().out
    assert code == 0
    assert "tag is free" in out and "BUMP 1.1" in out and '"1.0+dev" -> "1.1"' in out
    assert repo_state(sandbox.repo, sandbox.origin) == before


def test_status_lists_the_phases_done(sandbox, capsys):
    outputs = str(sandbox.root / "outputs")
    assert main(with_accepted_draft(
        ["run", "1.1", "--repo", str(sandbox.repo), "--outputs", outputs, "--phases", "preflight,changelog"]
    )) == 0
    capsys.readouterr()
    assert main(["status", "1.1", "--repo", str(sandbox.repo), "--outputs", outputs]) == 0
    out = capsys.readouterr().out
    assert "00_preflight" in out and "succeeded" in out and "03_bump" in out and "not run" in out
