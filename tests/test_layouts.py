"""The layout corpus: small projects in every layout real libraries use, released with no configuration.

Each folder tests/projects/layout_<name>/ is a project of a few files plus a
``fixture.toml`` saying how to set it up (tags, extra commits, the release)
and ``expected/*.diff``: the commits a maintainer would have made by hand.
For each project the test makes a real git repository with a bare
``origin``, checks ``releaselib plan`` (no configuration, or only what
``init`` writes) shows what detection found, then runs the git-side phases
headless (00, 02, 03, 04, 08) and compares the diff of each new commit with
the expected one, line by line.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import tomllib

from releaselib.cli import main

from .helpers import commit_all, git

PROJECTS = Path(__file__).parent / "projects"
LAYOUTS = sorted(p.name for p in PROJECTS.glob("layout_*") if (p / "fixture.toml").is_file())
GIT_PHASES = "preflight,changelog,bump,commit_tag,post_release"


def fixture(name: str) -> dict:
    return tomllib.loads((PROJECTS / name / "fixture.toml").read_text())


def make_repo(name: str, tmp_path: Path) -> Path:
    """The project as a git repository: tagged releases, later commits, and a bare origin holding it all."""
    spec = fixture(name)
    repo = tmp_path / name
    shutil.copytree(PROJECTS / name, repo, ignore=shutil.ignore_patterns("fixture.toml", "expected", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "Start")
    for tag in spec.get("tags", []):
        git(repo, "tag", "-a", tag, "-m", tag)
    for subject in spec.get("commits", []):
        with open(repo / "NOTES.txt", "a", encoding="utf-8") as notes:
            notes.write(subject + "\n")
        commit_all(repo, subject)
    origin = tmp_path / f"{name}.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main", "--tags")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main")
    return repo


def normalized_diff(repo: Path, rev: str) -> list[str]:
    """The diff a commit introduces, without the lines that name blob hashes."""
    text = git(repo, "show", "--format=%s", "--no-color", "-U1", rev)
    return [line for line in text.splitlines() if not line.startswith("index ")]


def expected_diff(name: str, which: str) -> list[str]:
    text = (PROJECTS / name / "expected" / f"{which}.diff").read_text(encoding="utf-8")
    today = date.today()
    text = text.replace("{today}", today.isoformat()).replace("{today/}", today.strftime("%Y/%m/%d"))
    return text.rstrip("\n").splitlines()


@pytest.mark.parametrize("name", LAYOUTS)
def test_plan_with_no_configuration_shows_what_was_detected(name: str, tmp_path: Path, capsys) -> None:
    repo = make_repo(name, tmp_path)
    spec = fixture(name)
    code = main(["plan", spec["release"], "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", GIT_PHASES])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "configuration: detected from the layout" in out.out
    for fact in spec.get("detected", []):
        assert fact in out.out, f"{fact!r} not shown by plan:\n{out.out}"
    # The commits plan announces are the ones the maintainer expects (tests/projects/*/expected).
    expected = {p.stem: expected_diff(name, p.stem) for p in (PROJECTS / name / "expected").glob("*.diff")}
    overview = {line.split()[0]: line for line in out.out.splitlines() if re.match(r"  0\d_", line)}
    if "1_bump" in expected:
        subject, files = expected["1_bump"][0], sorted(re.findall(r"^diff --git a/(\S+)", "\n".join(expected["1_bump"]), re.MULTILINE))
        planned = re.search(r"\[planned\] commit (.+) as '(.+)'", out.out)
        assert planned and sorted(planned.group(1).split(", ")) == files and planned.group(2) == subject, out.out
    else:  # the tag is the version and the section exists: nothing to commit, the tag goes on HEAD
        assert "nothing to commit" in overview["04_commit_tag"] and "nothing to commit" in out.out, out.out
    if "2_post" in expected:
        following = expected["2_post"][0].removeprefix("BUMP ")
        assert overview["08_post_release"].endswith(f"set {following}, commit 'BUMP {following}', push"), out.out
    else:
        assert " set " not in overview["08_post_release"] and "nothing to write" in out.out, out.out
    assert git(repo, "status", "--porcelain") == ""  # plan changes nothing


@pytest.mark.parametrize("name", LAYOUTS)
def test_plan_with_only_inits_output_plans_what_detection_does(name: str, tmp_path: Path, capsys, monkeypatch) -> None:
    """``init --config FILE`` then ``plan --config FILE``: the same checks and actions as with no configuration."""
    from releaselib.infra.config.load import CONFIG_FILE_ENV

    monkeypatch.setenv(CONFIG_FILE_ENV, "")  # --config reaches the kernels through it: undone after the test
    monkeypatch.delenv(CONFIG_FILE_ENV)
    repo = make_repo(name, tmp_path)
    release = fixture(name)["release"]
    args = ["plan", release, "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", GIT_PHASES]

    def planned(*extra: str) -> list[str]:
        assert main(args + list(extra)) == 0
        out = capsys.readouterr().out
        return [line for line in out.splitlines() if re.match(r"\s+(\[|0\d_)", line)]

    detected = planned()
    assert sum("[planned]" in line for line in detected) >= 3 and sum("0" in line[:4] for line in detected) >= 4, detected
    conf = tmp_path / "releaselib-conf.toml"
    assert main(["init", "--repo", str(repo), "--config", str(conf)]) == 0
    capsys.readouterr()
    assert planned("--config", str(conf)) == detected
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.e2e  # five headless phases per project: about two minutes each on a busy machine
@pytest.mark.parametrize("name", LAYOUTS)
def test_git_side_phases_make_the_commits_a_maintainer_would(name: str, tmp_path: Path, capsys) -> None:
    repo = make_repo(name, tmp_path)
    spec = fixture(name)
    before = git(repo, "rev-parse", "HEAD")
    args = ["run", spec["release"], "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", GIT_PHASES,
            "-p", "allow_untested=true"]  # the git side alone: no tests or build in the record, the gate is overridden
    for param in spec.get("params", []):
        args += ["-p", param]
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    commits = git(repo, "rev-list", "--reverse", f"{before}..HEAD").splitlines()
    expected = sorted(p.stem for p in (PROJECTS / name / "expected").glob("*.diff"))
    names = ["1_bump", "2_post"][: len(commits)]
    assert names == expected, f"{len(commits)} commit(s) made, expected {expected}"
    for rev, which in zip(commits, names):
        assert normalized_diff(repo, rev) == expected_diff(name, which), which
    tag = spec.get("tag", "{version}").format(version=spec["release"])
    tagged = commits[0] if "1_bump" in names else before  # a tag-versioned project tags HEAD as it is
    assert git(repo, "rev-parse", f"{tag}^{{commit}}") == tagged
    on_remote = git(repo, "ls-remote", "origin", f"refs/tags/{tag}")
    if "2_post" in names:  # the post-release commit is pushed together with the tag
        assert re.match(r"[0-9a-f]{40}\s", on_remote) and git(repo, "status", "-sb").startswith("## main...origin/main")
    else:  # nothing to push after the release: the publish phase (not run here) pushes the tag
        assert on_remote == ""
    assert git(repo, "status", "--porcelain") == ""
    if "accept_draft=true" in spec.get("params", []):  # a draft released unread says so in the record
        record = json.loads(next((tmp_path / "out").glob(f"*/{spec['release']}/record.json")).read_text())
        values = next(e["values"] for e in record["entries"] if e["phase"] == "02_changelog" and e["result"] == "succeeded")
        assert values["accept_draft"] is True
    if "towncrier_fragments" in spec:  # the towncrier build is recorded, its output logged
        record_dir = next((tmp_path / "out").glob(f"*/{spec['release']}"))
        record = json.loads((record_dir / "record.json").read_text())
        values = next(e["values"] for e in record["entries"] if e["phase"] == "02_changelog" and e["result"] == "succeeded")
        built = values["towncrier_build"]
        assert built["command"] == f"towncrier build --version {spec['release']} --yes"
        assert built["fragments"] == spec["towncrier_fragments"]
        assert "Removing news fragments" in (record_dir / built["log"]).read_text()


@pytest.mark.e2e
def test_a_drafted_section_stops_a_headless_run_for_the_maintainer_to_read(tmp_path: Path, capsys) -> None:
    """No -p accept_draft=true: 02_changelog writes the draft (noise left out), stops, and nothing is committed."""
    repo = make_repo("layout_hatch", tmp_path)
    before = git(repo, "rev-parse", "HEAD")
    code = main(["run", "3.1.0", "--repo", str(repo), "--outputs", str(tmp_path / "out"),
                 "--phases", "preflight,changelog,bump,commit_tag"])
    out = capsys.readouterr()
    assert code != 0
    assert "has not been read by anyone yet" in out.err and "--resume" in out.err and "accept_draft=true" in out.err
    assert git(repo, "rev-parse", "HEAD") == before and git(repo, "tag", "--list", "3.1.0") == ""
    assert git(repo, "status", "--porcelain") == "M CHANGELOG.md"
    draft = (repo / "CHANGELOG.md").read_text()
    assert "## 3.1.0 (" in draft and "- Add lumen.shine\n- Make shine brighter\n" in draft
    assert "Merge pull request" not in draft and "Bump pytest" not in draft
    assert (repo / "src/lumen/_version.py").read_text() == '__version__ = "3.1.0.dev"\n'  # the bump did not run


@pytest.mark.e2e
def test_a_setuptools_scm_project_builds_the_tagged_version(tmp_path: Path, capsys) -> None:
    """The tag is the version: the clean export has no .git, and the build must still make 1.5.0, checked."""
    repo = make_repo("layout_scm", tmp_path)
    outputs = tmp_path / "out"
    code = main(["run", "1.5.0", "--repo", str(repo), "--outputs", str(outputs), "--phases", "commit_tag,build"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    built = sorted(p.name for p in (outputs / "cinder" / "1.5.0").rglob("cinder-1.5.0*") if p.parent.name == "dist")
    assert "cinder-1.5.0.tar.gz" in built and any(name.endswith(".whl") for name in built), built


@pytest.mark.e2e
def test_a_build_that_does_not_make_the_tagged_version_is_refused(tmp_path: Path, capsys) -> None:
    """The check behind "the build must produce the tagged version": a tag on files still holding 3.1.0.dev."""
    repo = make_repo("layout_hatch", tmp_path)
    git(repo, "tag", "-a", "3.1.0", "-m", "3.1.0")  # tagged by hand, without the bump
    outputs = tmp_path / "out"
    code = main(["run", "3.1.0", "--repo", str(repo), "--outputs", str(outputs), "--phases", "build"])
    out = capsys.readouterr()
    assert code != 0
    assert "The build produced lumen-3.1.0.dev0" in out.err and "but the release is lumen 3.1.0" in out.err, out.err
    assert not list(outputs.rglob("dist/lumen-*")), "a wrongly versioned file was kept for publishing"
