"""A changelog of many megabytes: the record keeps the release's section, not the whole file."""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.cli import main

from .helpers import commit_all, git


@pytest.mark.e2e
def test_a_huge_changelog_leaves_a_small_record(sandbox, tmp_path: Path) -> None:
    changelog = sandbox.repo / "doc" / "changelog.rst"
    old = []
    for i in range(4000):  # decades of old releases: about 2.4 MB
        title = f"Changes in Version 0.{i}.{i % 7}"
        old.append(f"{title}\n{'-' * len(title)}\n\n"
                   + "".join(f"- Fixed issue {j} in the encoder for 0.{i}, with a long line of text.\n" for j in range(8))
                   + "\n")
    changelog.write_text(changelog.read_text() + "\n" + "".join(old))
    assert changelog.stat().st_size > 2_000_000
    commit_all(sandbox.repo, "The whole history")
    git(sandbox.repo, "push", "-q", "origin", "HEAD")
    outputs = tmp_path / "outputs"

    code = main(["run", "1.1", "--repo", str(sandbox.repo), "--outputs", str(outputs), "--phases", "changelog",
                 "-p", "accept_draft=true"])

    assert code == 0
    record_dir = outputs / "bsonlite" / "1.1"
    assert (record_dir / "record.json").stat().st_size < 50_000
    assert (record_dir / "02_changelog.ipynb").stat().st_size < 100_000
    section = (record_dir / "record.json").read_text()
    assert "Fix int32 overflow check" in section and "Changes in Version 0.3999" not in section
