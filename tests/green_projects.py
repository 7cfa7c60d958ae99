"""The fixture projects under tests/projects/green_*: one per layout real libraries use.

``green_project(name, root)`` copies one into ``root/real`` as a git
repository on ``main`` with a bare ``origin`` it has pushed to, ready for
``releaselib rehearse``. The projects are small and our own; each README says
which layout it stands for.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .helpers import git

PROJECTS = Path(__file__).parent / "projects"


@dataclass
class GreenProject:
    repo: Path
    origin: Path

    def commit(self, message: str) -> None:
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", message)
        git(self.repo, "push", "-q", "origin", "main")

    def edit(self, path: str, old: str, new: str) -> None:
        target = self.repo / path
        text = target.read_text()
        assert old in text, f"{old!r} not in {path}"
        target.write_text(text.replace(old, new))


def green_project(name: str, root: Path, *, kind: str = "green") -> GreenProject:
    """``tests/projects/<kind>_<name>`` as a fresh repository with a bare origin, under ``root``."""
    repo, origin = root / "real" / name, root / "origin.git"
    shutil.copytree(PROJECTS / f"{kind}_{name}", repo, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info",
                                                                                   "build", "*.so"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Release Manager")
    git(repo, "config", "user.email", "release@example.org")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "The project")
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    return GreenProject(repo, origin)


def record_of(workdir: Path, package: str, version: str) -> dict[str, Any]:
    return json.loads((workdir / "outputs" / package / version / "record.json").read_text())


def phase_values(record: dict[str, Any], phase: str) -> dict[str, Any]:
    entries = [e for e in record["entries"] if e["phase"] == phase]
    assert entries, f"{phase} not in the record"
    return entries[-1]["values"]
