"""A throw-away copy of the bundled sample project, as a real git repository.

``releaselib demo`` and the end-to-end tests release the sample library
``bsonlite`` (``releaselib/sample/``) in a temporary folder. This module turns
the sample's plain files into what a maintainer would have in front of them:
a clone on ``main`` with a history holding an earlier release (tag ``1.0``),
a development version ``1.0+dev`` and three commits since the release, and a
bare ``origin`` that is in sync with it. It also stands in for the project's
docs host: a hook on the bare remote rebuilds a one-page site on every push,
as a docs builder would.

git runs as a subprocess with the user's global and system configuration
switched off, so the result is the same on every machine, with or without a
git identity.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomllib
from tomlkit.exceptions import TOMLKitError

from releaselib.core.errors import ConfigError, GitError, RepoStateError
from releaselib.core.versions import format_version_tuple, version_tuple
from releaselib.infra import processes
from releaselib.local.sample_history import EARLY_RELEASES
from releaselib.local.sample_history import Edit as _Edit
from releaselib.local.sample_history import Step as _Step

__all__ = [
    "SAMPLE_DIR",
    "THROWAWAY_GIT_CONFIG",
    "Sandbox",
    "create_sandbox",
    "set_project_config",
]

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"

#: git settings for throwaway repositories (a sandbox, a test's): no automatic upkeep, which after
#: each commit or fetch starts a `git maintenance run --auto` process that only costs time there.
THROWAWAY_GIT_CONFIG = {"maintenance.auto": "false", "gc.auto": "0"}

USER_NAME = "Release Manager"
USER_EMAIL = "release@example.org"
BRANCH = "main"

# The history the sandbox tells: a 0.9 development line, the 1.0 release, and
# the development version that follows it.
_EARLIER_DEV = "0.9+dev"
_RELEASE = "1.0"
_CURRENT_DEV = "1.0+dev"

_GIT_TIMEOUT = 60.0

_DEFAULT_GITIGNORE = "build/\ndist/\n*.egg-info/\n__pycache__/\n*.py[cod]\n*.so\n*.pyd\n.pytest_cache/\n"

_COPY_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]", "*.so", "*.pyd", ".pytest_cache"
)


@dataclass(frozen=True)
class Sandbox:
    """Where a sandbox lives: the temp folder, the working clone, the bare remote."""

    root: Path  # the temp folder
    repo: Path  # the working clone (root / "bsonlite")
    origin: Path  # bare repository (root / "origin.git")


# The sample's files are in their final state. Each step names the text it
# introduced; the sandbox takes that text out to build the earlier tree, then
# puts it back one commit at a time, so the tip of the history is exactly the
# sample as shipped.
_CHANGELOG_1_0 = """Changes in Version 1.0
----------------------

- The C extension ``bsonlite._cbson`` packs and unpacks 32-bit integers;
  set ``BSONLITE_NO_EXT=1`` to build without it.
- :func:`bsonlite.encode` accepts nested ``dict`` values.
- :exc:`bsonlite.InvalidBSON` is raised for truncated or malformed input
  instead of :exc:`IndexError`.
- Requires Python 3.8+.

"""

_BEFORE_RELEASE = _Step(
    message="Add changelog for 1.0",
    date="2024-02-01T10:00:00+00:00",
    edits=(_Edit("doc/changelog.rst", _CHANGELOG_1_0),),
)

_SINCE_RELEASE: tuple[_Step, ...] = (
    _Step(
        message="Add decode of nested documents",
        date="2024-03-05T14:20:00+00:00",
        edits=(
            _Edit(
                "src/bsonlite/_pure.py",
                """        elif kind == TYPE_DOCUMENT:
            document[key], position = _decode_at(data, position)
""",
            ),
            _Edit(
                "src/bsonlite/__init__.py",
                """

    .. versionadded:: 1.0+
       Embedded documents are decoded to nested ``dict`` values.""",
            ),
            _Edit(
                "doc/index.rst",
                """

.. versionadded:: 1.0+
   Decoding of embedded documents (BSON type ``0x03``).""",
            ),
            _Edit(
                "doc/usage.rst",
                """Embedded documents come back as nested dictionaries:

>>> bsonlite.decode(bsonlite.encode({"outer": {"inner": 1}}))
{'outer': {'inner': 1}}

""",
            ),
            _Edit(
                "tests/test_bsonlite.py",
                """def test_nested_documents_round_trip():
    document = {"outer": {"inner": 1, "deeper": {"name": "x"}}, "after": 2}
    assert bsonlite.decode(bsonlite.encode(document)) == document


""",
            ),
        ),
    ),
    _Step(
        message="Fix int32 overflow check",
        date="2024-04-11T09:05:00+00:00",
        edits=(
            _Edit(
                "src/bsonlite/_pure.py",
                "    if not -(2**31) <= value < 2**31:\n",
                "    if value >= 2**31:\n",
            ),
            _Edit(
                "tests/test_bsonlite.py",
                """    with pytest.raises(OverflowError):
        bsonlite.encode({"small": -(2**31) - 1})
""",
            ),
        ),
    ),
    _Step(
        message="Document the C extension switch",
        date="2024-05-20T16:45:00+00:00",
        edits=(
            _Edit(
                "doc/index.rst",
                """C extension
-----------

bsonlite builds a small C extension, ``bsonlite._cbson``, that packs and
unpacks integers. A compiler error fails the build rather than quietly
installing the slower pure-Python code. To build without the extension, set
``BSONLITE_NO_EXT=1``::

  $ BSONLITE_NO_EXT=1 python -m pip install bsonlite

:func:`bsonlite.has_c_extension` tells which one is in use.

""",
            ),
        ),
    ),
)

_INITIAL_DATE = "2023-03-01T11:00:00+00:00"
_RELEASE_DATE = "2024-02-02T12:00:00+00:00"
_POST_RELEASE_DATE = "2024-02-02T12:05:00+00:00"
_FALLBACK_FILE = "NOTES.txt"


def _git_env(date: str | None = None) -> dict[str, str]:
    env = processes.child_env()
    # Another repository's variables (a git hook, a caller inside a repo)
    # would send every command to the wrong place.
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"):
        env.pop(name, None)
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
    )
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    else:
        env.pop("GIT_AUTHOR_DATE", None)
        env.pop("GIT_COMMITTER_DATE", None)
    return env


def _git(cwd: Path, *args: str, date: str | None = None) -> str:
    """Run git in ``cwd``; return its stdout. Raises GitError on failure or timeout."""
    options = [part for key, value in THROWAWAY_GIT_CONFIG.items() for part in ("-c", f"{key}={value}")]
    command = ["git", *options, *args]
    try:
        result = processes.run(command, cwd=cwd, env=_git_env(date), timeout=_GIT_TIMEOUT, merge_stderr=False)
    except processes.CommandTimeout as exc:
        raise GitError(
            f"`{' '.join(command)}` did not finish within {_GIT_TIMEOUT:.0f} s in {cwd}.",
            hint="Check that nothing else holds the sandbox repository, then create the sandbox again.",
        ) from exc
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH.", hint="Install git, then run the command again.") from exc
    if result.returncode != 0:
        raise GitError(
            f"`{' '.join(command)}` failed in {cwd} (exit {result.returncode}): {result.stderr.strip()}",
            hint="Read git's message above; the sandbox folder can be deleted and created again.",
        )
    return result.stdout


def _read_version_files(repo: Path) -> list[tuple[str, str]]:
    """(path, pattern) of every version file the project's configuration names."""
    pyproject = repo / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"Cannot read {pyproject}: {exc}",
            hint="A sandbox project needs a readable pyproject.toml with [tool.releaselib].",
        ) from exc
    entries = data.get("tool", {}).get("releaselib", {}).get("version-files", [])
    files = [(str(e["path"]), str(e["pattern"])) for e in entries if isinstance(e, dict) and "path" in e and "pattern" in e]
    if not files:
        raise ConfigError(
            f"{pyproject} names no [[tool.releaselib.version-files]].",
            hint="Start from releaselib/sample/pyproject.toml, which names the files holding the version.",
        )
    return files


def _render(pattern: str, version: str) -> str:
    rendered_tuple = format_version_tuple(version_tuple(version))
    return pattern.replace("{version_tuple}", rendered_tuple).replace("{version}", version)


def _set_version(repo: Path, files: list[tuple[str, str]], old: str, new: str) -> None:
    """Rewrite every version file from ``old`` to ``new``. Raises ConfigError if one is absent."""
    for relative, pattern in files:
        path = repo / relative
        text = path.read_text(encoding="utf-8")
        before, after = _render(pattern, old), _render(pattern, new)
        if before not in text:
            raise ConfigError(
                f"{relative} does not contain {before!r}.",
                hint=f"A sandbox project must be at the development version {_CURRENT_DEV}, as the bundled sample is.",
            )
        path.write_text(text.replace(before, after), encoding="utf-8")


def _applies(repo: Path, step: _Step) -> bool:
    """Whether every edit of ``step`` finds its text exactly once in the project."""
    for edit in step.edits:
        path = repo / edit.path
        if not path.is_file() or path.read_text(encoding="utf-8").count(edit.final) != 1:
            return False
    return True


def _unwind(repo: Path, step: _Step) -> dict[str, str]:
    """Undo ``step`` in the working tree; return its touched files as the step left them."""
    snapshot: dict[str, str] = {}
    for edit in step.edits:
        path = repo / edit.path
        snapshot.setdefault(edit.path, path.read_text(encoding="utf-8"))
        path.write_text(path.read_text(encoding="utf-8").replace(edit.final, edit.earlier, 1), encoding="utf-8")
    return snapshot


def _restore(repo: Path, snapshot: dict[str, str]) -> None:
    for relative, text in snapshot.items():
        (repo / relative).write_text(text, encoding="utf-8")


def _commit(repo: Path, message: str, date: str) -> None:
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--no-verify", "-m", message, date=date)


def create_sandbox(
    root: Path, *, project: Path | None = None, config_tables: Mapping[str, dict[str, Any]] | None = None
) -> Sandbox:
    """Copy the sample (or ``project``) to ``root/bsonlite`` as a git repo with a bare origin.

    Promises: ``repo`` is on ``main`` with a clean tree, at version ``1.0+dev``,
    with an annotated tag ``1.0`` and three commits after it; ``origin`` is a
    bare repository holding ``main`` and the tag, and ``main`` tracks
    ``origin/main``. Commits have fixed dates and the local identity
    ``Release Manager <release@example.org>``.

    ``config_tables`` (``{"publish": {...}}``) are written into
    ``[tool.releaselib.<name>]`` before the first commit, so a sandbox wired to
    local servers has no configuration commits in its history.

    A ``project`` other than the sample must hold the sample's version files at
    ``1.0+dev``; history steps whose text it lacks are replaced by commits
    that add a line to ``NOTES.txt``, so the history always has the same shape.

    Raises :class:`RepoStateError` when ``root/bsonlite`` or ``root/origin.git``
    already exists, :class:`ConfigError` when the project's version files are
    missing or not at ``1.0+dev``, and :class:`GitError` when git fails.
    """
    source = Path(project) if project is not None else SAMPLE_DIR
    if not (source / "pyproject.toml").is_file():
        raise ConfigError(
            f"{source} is not a project folder (no pyproject.toml).",
            hint="Pass the folder of a project shaped like releaselib/sample, or no project at all.",
        )
    root = Path(root).resolve()
    sandbox = Sandbox(root=root, repo=root / "bsonlite", origin=root / "origin.git")
    for existing in (sandbox.repo, sandbox.origin):
        if existing.exists():
            raise RepoStateError(
                f"{existing} already exists; a sandbox is only created in a fresh folder.",
                hint="Delete the folder or pass another root.",
            )
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, sandbox.repo, ignore=_COPY_IGNORE)
    repo = sandbox.repo
    if not (repo / ".gitignore").exists():
        (repo / ".gitignore").write_text(_DEFAULT_GITIGNORE, encoding="utf-8")
    if config_tables:
        pyproject = repo / "pyproject.toml"
        pyproject.write_text(_with_tables(pyproject, config_tables), encoding="utf-8")

    version_files = _read_version_files(repo)
    since = [(step, _applies(repo, step)) for step in _SINCE_RELEASE]

    # Unwind the tree to the initial import, newest step first, keeping each
    # touched file as the step left it; replaying then writes those back.
    # Versions are unwound between the two groups so that every snapshot
    # holds the version that was current when its commit was made.
    after_since: list[dict[str, str] | None] = []
    for step, applies in reversed(since):
        after_since.insert(0, _unwind(repo, step) if applies else None)
    _set_version(repo, version_files, _CURRENT_DEV, _EARLIER_DEV)
    after_changelog = _unwind(repo, _BEFORE_RELEASE) if _applies(repo, _BEFORE_RELEASE) else None
    # The releases before 1.0 (sample_history), unwound newest first like the steps above.
    early: list[list[tuple[_Step, dict[str, str] | None]]] = []
    for early_release in reversed(EARLY_RELEASES):
        early.insert(0, [(step, _unwind(repo, step) if _applies(repo, step) else None)
                         for step in reversed(early_release.steps)][::-1])

    _git(repo, "init", "--quiet", "-b", BRANCH)
    _git(repo, "config", "user.name", USER_NAME)
    _git(repo, "config", "user.email", USER_EMAIL)
    _commit(repo, "Initial import", _INITIAL_DATE)

    dev = _EARLIER_DEV
    for early_release, early_steps in zip(EARLY_RELEASES, early):
        for step, step_snapshot in early_steps:
            _replay(repo, step, step_snapshot)
        _set_version(repo, version_files, dev, early_release.version)
        _commit(repo, f"BUMP {early_release.version}", early_release.date)
        _git(repo, "tag", "-a", early_release.version, "-m", early_release.version, date=early_release.date)
        dev = f"{early_release.version}+dev"
        _set_version(repo, version_files, early_release.version, dev)
        _commit(repo, f"BUMP {dev}", early_release.date)

    if after_changelog is not None:
        _restore(repo, after_changelog)
        _commit(repo, _BEFORE_RELEASE.message, _BEFORE_RELEASE.date)

    _set_version(repo, version_files, dev, _RELEASE)
    _commit(repo, f"BUMP {_RELEASE}", _RELEASE_DATE)
    _git(repo, "tag", "-a", _RELEASE, "-m", _RELEASE, date=_RELEASE_DATE)
    _set_version(repo, version_files, _RELEASE, _CURRENT_DEV)
    _commit(repo, f"BUMP {_CURRENT_DEV}", _POST_RELEASE_DATE)

    for (step, _), snapshot in zip(since, after_since):
        _replay(repo, step, snapshot)

    _git(root, "init", "--quiet", "--bare", "-b", BRANCH, str(sandbox.origin))
    _git(repo, "remote", "add", "origin", str(sandbox.origin))
    tags = [f"refs/tags/{r.version}" for r in EARLY_RELEASES] + [f"refs/tags/{_RELEASE}"]
    _git(repo, "push", "--quiet", "origin", BRANCH, *tags)
    _git(repo, "branch", "--quiet", "--set-upstream-to", f"origin/{BRANCH}")
    return sandbox


def _replay(repo: Path, step: _Step, snapshot: dict[str, str] | None) -> None:
    """Commit ``step``: its files as it left them, or a line in NOTES.txt for a project lacking its text."""
    if snapshot is not None:
        _restore(repo, snapshot)
    else:
        with (repo / _FALLBACK_FILE).open("a", encoding="utf-8") as notes:
            notes.write(f"{step.message}\n")
    _commit(repo, step.message, step.date)


def set_project_config(repo: Path, table: str, values: dict[str, Any]) -> None:
    """Write ``[tool.releaselib.<table>]`` = ``values`` in ``repo``'s pyproject.toml, commit and push.

    An existing table of that name is replaced whole; the rest of the file is
    kept byte for byte (tomlkit). The commit is "Configure local release
    servers" and is pushed to ``origin``, so the tree stays clean and in sync.
    Nothing is committed when the table already holds exactly ``values``.

    Raises :class:`ConfigError` when pyproject.toml has no ``[tool.releaselib]``
    or ``values`` cannot be written as TOML, and :class:`GitError` when the
    commit or push fails.
    """
    pyproject = Path(repo) / "pyproject.toml"
    text = _with_tables(pyproject, {table: values})
    if text == pyproject.read_text(encoding="utf-8"):
        return
    pyproject.write_text(text, encoding="utf-8")
    _git(Path(repo), "add", "pyproject.toml")
    _git(Path(repo), "commit", "--quiet", "--no-verify", "-m", "Configure local release servers")
    _git(Path(repo), "push", "--quiet", "origin", "HEAD")


def _with_tables(pyproject: Path, tables: Mapping[str, dict[str, Any]]) -> str:
    """``pyproject``'s text with each ``[tool.releaselib.<name>]`` replaced by ``tables[name]``."""
    try:
        document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
        tool = document.get("tool")
        if tool is None or "releaselib" not in tool:
            raise ConfigError(
                f"{pyproject} has no [tool.releaselib] table.",
                hint="Use a sandbox made by create_sandbox from the bundled sample.",
            )
        section = tool["releaselib"]
        for table, values in tables.items():
            if table in section and section[table].unwrap() == values:
                continue
            new_table = tomlkit.table()
            for key, value in values.items():
                new_table[key] = value
            section[table] = new_table
        return tomlkit.dumps(document)
    except (OSError, TOMLKitError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"Cannot write [tool.releaselib] tables {', '.join(tables)} to {pyproject}: {exc}",
            hint="Pass tables of strings, numbers, booleans and lists of them.",
        ) from exc
