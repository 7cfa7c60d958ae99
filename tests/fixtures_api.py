"""Fixture projects with a git history of releases, for the API check (phase 00a)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers import commit_all, git

PYPROJECT = """\
[project]
name = "fixpkg"
dynamic = ["version"]

[tool.releaselib]
changelog-required = false

[[tool.releaselib.version-files]]
path = "src/fixpkg/__init__.py"
pattern = '__version__ = "{version}"'
"""

BASE = '''\
"""fixpkg: a fixture library."""
import warnings

__version__ = "0.1+dev"


def encode(value):
    """Encode."""
    return str(value)


def decode(text, strict=True):
    """Decode."""
    return text


def _internal():
    return None
'''

DEPRECATED_DUMPS = '''

def dumps(value):
    """Old name of encode."""
    warnings.warn("dumps is deprecated, use encode", DeprecationWarning, stacklevel=2)
    return encode(value)
'''

PLAIN_DUMPS = '''

def dumps(value):
    """Old name of encode."""
    return encode(value)
'''


def write(repo: Path, relpath: str, text: str) -> None:
    path = repo / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def set_module(repo: Path, text: str, *, extra: dict[str, str] | None = None) -> None:
    write(repo, "src/fixpkg/__init__.py", text)
    for relpath, content in (extra or {}).items():
        write(repo, relpath, content)


def make_project(root: Path, module: str = BASE, *, table: str = "") -> Path:
    """A git repository of fixpkg at ``module``, one commit, no tag yet."""
    repo = root / "fixpkg"
    repo.mkdir(parents=True)
    write(repo, "pyproject.toml", PYPROJECT + table)
    set_module(repo, module)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "Initial import")
    return repo


def release(repo: Path, version: str, module: str | None = None) -> None:
    """Commit ``module`` (if given) and tag ``version``, as a release would."""
    if module is not None:
        set_module(repo, module)
        commit_all(repo, f"Changes for {version}")
    git(repo, "tag", "-a", version, "-m", version)


def history_deprecating_dumps(root: Path, deprecated_in: int) -> Path:
    """Releases 0.1 (dumps plain), then ``deprecated_in`` releases 0.2.. with dumps deprecated;
    the working tree then removes dumps."""
    repo = make_project(root, BASE + PLAIN_DUMPS)
    release(repo, "0.1")
    for minor in range(2, 2 + deprecated_in):
        release(repo, f"0.{minor}", BASE + DEPRECATED_DUMPS + f"\n# release 0.{minor}\n")
    set_module(repo, BASE)
    commit_all(repo, "Remove dumps")
    return repo
