"""A project adds a phase of its own: a numbered notebook in its runbooks folder, run,
recorded, resumed, reviewed, verified and reported like a bundled phase."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from releaselib.cli import main
from releaselib.core.errors import ConfigError
from releaselib.core.registry import BUNDLED_NAMES, phase_names, resolve_phases
from releaselib.infra.config import load_config

from .helpers import commit_all, git

PHASES = "preflight,changelog,bump,commit_tag,github_release"


def project_phase(path: Path) -> None:
    """A runbook that follows the contract: a tagged parameters cell, `start`, one or two calls a cell."""
    parameters = new_code_cell('version = None\nrepo = "."\ndry_run = True\noutputs = None')
    parameters.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell("# Release page\n\nPublish the release notes as a release page on the forge."),
        parameters,
        new_markdown_cell("Open the release: this checks the parameters and reads the configuration."),
        new_code_cell("from releaselib import start\n"
                      "release = start('10_github_release', version, repo=repo, dry_run=dry_run, outputs=outputs)"),
        new_markdown_cell("The page names the tag; a forge outage makes this cell fail, and `--resume` retries it."),
        new_code_cell("import os\nassert not os.environ.get('FORGE_DOWN'), 'the forge is down'"),
        new_code_cell("release.record('release_page', f'https://forge.invalid/bsonlite/releases/{release.tag}')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["releaselib"] = {"phase": "10_github_release"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def sandbox(sandbox):
    """The sample, with a phase of its own in its runbooks folder."""
    project_phase(sandbox.repo / "release" / "10_github_release.ipynb")
    pyproject = sandbox.repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.releaselib]\n", '[tool.releaselib]\nrunbooks = "release"\n', 1))
    commit_all(sandbox.repo, "Release page phase")
    git(sandbox.repo, "push", "-q", "origin", "HEAD")
    return sandbox


def test_the_registry_lists_a_project_phase_in_release_order(sandbox) -> None:
    config = load_config(sandbox.repo)
    names = phase_names(config)
    assert names == [*BUNDLED_NAMES, "10_github_release"]
    assert resolve_phases("10,bump", config) == ["03_bump", "10_github_release"]
    assert resolve_phases("github_release", config) == ["10_github_release"]


def test_a_project_phase_may_not_take_a_bundled_number(sandbox) -> None:
    project_phase(sandbox.repo / "release" / "05_conda.ipynb")
    with pytest.raises(ConfigError, match="05a_conda"):
        phase_names(load_config(sandbox.repo))


@pytest.mark.e2e
def test_a_project_phase_runs_resumes_and_is_reviewed_like_a_bundled_one(sandbox, monkeypatch, capsys) -> None:
    outputs = sandbox.root / "outputs"
    common = ["--repo", str(sandbox.repo), "--outputs", str(outputs)]
    draft = ["-p", "accept_draft=true"]  # the sample's section is drafted from the log

    monkeypatch.setenv("FORGE_DOWN", "1")
    assert main(["run", "1.1", *common, "--phases", PHASES, *draft]) != 0
    capsys.readouterr()
    assert main(["status", "1.1", *common]) == 0
    status = capsys.readouterr().out
    assert "10_github_release" in status and "failed" in status

    monkeypatch.delenv("FORGE_DOWN")
    assert main(["run", "1.1", *common, "--phases", PHASES, "--resume", *draft]) == 0
    record_dir = outputs / "bsonlite" / "1.1"
    entries = json.loads((record_dir / "record.json").read_text())["entries"]
    ours = [e for e in entries if e["phase"] == "10_github_release"]
    assert [e["result"] for e in ours] == ["failed", "succeeded"]
    assert ours[-1]["values"] == {"release_page": "https://forge.invalid/bsonlite/releases/1.1"}
    assert ours[-1]["runbook"] == str(sandbox.repo / "release" / "10_github_release.ipynb")
    # The bundled phases before it ran once: the resume did only what was left.
    assert [e["phase"] for e in entries].count("04_commit_tag") == 1
    assert "1.1" in git(sandbox.repo, "tag", "--list").split()
    assert (record_dir / "10_github_release.ipynb").exists()
    assert (record_dir / "10_github_release.attempt2.ipynb").exists()

    capsys.readouterr()
    assert main(["status", "1.1", *common]) == 0
    assert "10_github_release" in capsys.readouterr().out
    assert main(["review", "1.1", *common]) == 0
    review = capsys.readouterr().out
    assert "10_github_release" in review
    assert main(["verify", "1.1", *common]) == 0
    assert main(["report", "1.1", *common]) == 0
    report = (record_dir / "report.html").read_text()
    assert "10_github_release" in report and "forge.invalid/bsonlite/releases/1.1" in report


def test_a_plugin_package_adds_phases_through_an_entry_point(tmp_path, monkeypatch) -> None:
    """A real installed distribution (a dist-info on sys.path) declaring `releaselib.phases`."""
    folder = tmp_path / "plugin_runbooks"
    project_phase(folder / "05a_conda.ipynb")
    (tmp_path / "site" / "condaphase").mkdir(parents=True)
    (tmp_path / "site" / "condaphase" / "__init__.py").write_text(f"RUNBOOKS = {str(folder)!r}\n")
    dist = tmp_path / "site" / "condaphase-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: condaphase\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[releaselib.phases]\nconda = condaphase:RUNBOOKS\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    names = phase_names(None)
    assert names.index("05a_conda") == names.index("05_build") + 1
    sys.modules.pop("condaphase", None)


def test_a_project_phase_that_breaks_the_contract_is_refused_before_anything_runs(sandbox, capsys) -> None:
    from .helpers import repo_state

    runbook = sandbox.repo / "release" / "10_github_release.ipynb"
    nb = nbformat.read(runbook, as_version=4)
    nb.cells[-1].source = "import sys\nsys.exit(0)"
    nbformat.write(nb, runbook)
    commit_all(sandbox.repo, "Break the phase")
    git(sandbox.repo, "push", "-q", "origin", "HEAD")
    before = repo_state(sandbox.repo, sandbox.origin)
    outputs = sandbox.root / "outputs"
    code = main(["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(outputs), "--phases", PHASES])
    assert code != 0
    err = capsys.readouterr().err
    assert "10_github_release.ipynb breaks the runbook contract" in err and "sys.exit" in err
    assert repo_state(sandbox.repo, sandbox.origin) == before
    assert not (outputs / "bsonlite" / "1.1" / "record.json").exists()
