"""A changelog built by towncrier from news fragments (tests/projects/layout_towncrier).

The full git side (the BUMP commit holding the section and the removed
fragments) is in tests/test_layouts.py; here: what happens without fragments,
in a dry run, and when the section towncrier wrote is not valid.
"""

from __future__ import annotations

from pathlib import Path

from releaselib.cli import main

from .helpers import commit_all, git
from .test_layouts import make_repo

RELEASE = "1.1.0"


def _run(repo: Path, outputs: Path, *extra: str) -> int:
    return main(["run", RELEASE, "--repo", str(repo), "--outputs", str(outputs), "--phases", "changelog", *extra])


def test_plan_says_towncrier_builds_the_section_from_the_fragments(tmp_path: Path, capsys) -> None:
    repo = make_repo("layout_towncrier", tmp_path)
    assert main(["plan", RELEASE, "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", "changelog"]) == 0
    out = capsys.readouterr().out
    assert "02_changelog  the 1.1.0 section of CHANGES.rst (built by towncrier from the news fragments)" in out, out
    assert "with towncrier from 2 news fragment(s) in changes/ (12.feature.rst, 15.bugfix.rst), which it removes" in out


def test_no_fragment_and_no_section_is_refused_saying_what_to_add(tmp_path: Path, capsys) -> None:
    repo = make_repo("layout_towncrier", tmp_path)
    git(repo, "rm", "-q", "changes/12.feature.rst", "changes/15.bugfix.rst")
    commit_all(repo, "Drop the fragments")
    code = main(["plan", RELEASE, "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--phases", "changelog"])
    out = capsys.readouterr()
    assert code != 0
    text = out.out + out.err
    assert "CHANGES.rst has no section for 1.1.0, and there is no news fragment in changes/" in text, text
    assert "towncrier create" in text and "write the section for 1.1.0 in CHANGES.rst by hand" in text, text


def test_dry_run_changes_nothing_and_shows_what_towncrier_would_write(tmp_path: Path, capsys) -> None:
    repo = make_repo("layout_towncrier", tmp_path)
    assert _run(repo, tmp_path / "out", "--dry-run") == 0, capsys.readouterr()
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "changes/12.feature.rst").is_file() and "1.1.0" not in (repo / "CHANGES.rst").read_text()
    notebook = next((tmp_path / "out").glob("*/1.1.0-dry-run/02_changelog.ipynb")).read_text()
    assert "- Add ember.glow. (#12)" in notebook and "- Fix the colour of a spark. (#15)" in notebook
    log = next((tmp_path / "out").glob("*/1.1.0-dry-run/logs/02_changelog-towncrier.log")).read_text()
    assert "-m towncrier build" in log and "--draft" in log and "--yes" not in log


def test_an_invalid_built_section_puts_the_fragments_and_the_changelog_back(tmp_path: Path, capsys) -> None:
    repo = make_repo("layout_towncrier", tmp_path)
    (repo / "changes/17.feature.rst").write_text("Make *everything brighter.\n")  # unclosed emphasis: invalid rst
    commit_all(repo, "A broken fragment")
    assert _run(repo, tmp_path / "out") != 0
    err = capsys.readouterr().err
    assert "CHANGES.rst has 1 problem(s)" in err and "Inline emphasis start-string without end-string" in err, err
    assert git(repo, "status", "--porcelain") == ""  # fragments back, nothing staged, the changelog as it was


def test_towncrier_toml_wins_and_the_default_fragment_folder_is_the_packages(tmp_path: Path) -> None:
    """towncrier's own precedence and defaults: towncrier.toml first; NEWS.rst; <package>/newsfragments."""
    from releaselib.infra.config.towncrier import news_fragments, towncrier_settings

    (tmp_path / "pyproject.toml").write_text('[tool.towncrier]\ndirectory = "elsewhere"\n')
    (tmp_path / "towncrier.toml").write_text('[tool.towncrier]\npackage = "ember"\npackage_dir = "src"\n')
    folder = tmp_path / "src/ember/newsfragments"
    folder.mkdir(parents=True)
    for name in ("3.feature.md", ".gitignore", "README.md"):
        (folder / name).write_text("x\n")
    settings = towncrier_settings(tmp_path)
    assert settings is not None
    assert (settings.source, settings.filename, settings.directory) == ("towncrier.toml", "NEWS.rst", "src/ember/newsfragments")
    assert news_fragments(tmp_path, settings) == ["src/ember/newsfragments/3.feature.md"]
    (tmp_path / "towncrier.toml").unlink()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'ember'\n")
    assert towncrier_settings(tmp_path) is None
