"""Every input a maintainer can get wrong: one clear message naming the problem and the fix, nothing changed.

Table-driven. Cases already in ``test_release_git.py`` (``1.1.x``, not newer,
tag taken locally or on the remote, dirty, wrong branch, behind, unknown key,
pattern matching nothing) are not repeated here.
"""

from __future__ import annotations

import pytest

from releaselib.cli import main

from .helpers import commit_all, git, repo_state, with_accepted_draft

pytestmark = pytest.mark.e2e

PHASES = "preflight,changelog,bump,commit_tag,post_release"


def _edit(sb, relpath: str, old: str, new: str, message: str = "Edit") -> None:
    path = sb.repo / relpath
    text = path.read_text()
    assert old in text, f"{old!r} not in {relpath}"
    path.write_text(text.replace(old, new, 1))
    commit_all(sb.repo, message)
    git(sb.repo, "push", "-q", "origin", "main")


def _release_1_10_exists(sb, tmp):
    git(sb.repo, "tag", "-a", "1.10", "-m", "1.10")
    git(sb.repo, "push", "-q", "origin", "1.10")


def _wrong_type(sb, tmp):
    _edit(sb, "pyproject.toml", 'tag = "{version}"', 'tag = "{version}"\npush-timeout = "fast"')


def _missing_version_file(sb, tmp):
    _edit(sb, "pyproject.toml", 'path = "src/bsonlite/__init__.py"', 'path = "src/bsonlite/_version.py"')


def _pattern_twice(sb, tmp):
    path = sb.repo / "src" / "bsonlite" / "__init__.py"
    line = next(line for line in path.read_text().splitlines() if line.startswith("__version__ = "))
    _edit(sb, "src/bsonlite/__init__.py", line, f"{line}\n{line}")


def _changelog_missing(sb, tmp):
    git(sb.repo, "rm", "-q", "doc/changelog.rst")
    git(sb.repo, "commit", "-q", "-m", "Remove the changelog")
    git(sb.repo, "push", "-q", "origin", "main")


def _detached(sb, tmp):
    git(sb.repo, "switch", "-q", "--detach", "HEAD")


def _diverged(sb, tmp):
    clone = tmp / "other"
    git(tmp, "clone", "-q", str(sb.origin), str(clone))
    (clone / "NEWS").write_text("theirs\n")
    commit_all(clone, "Their commit")
    git(clone, "push", "-q", "origin", "main")
    (sb.repo / "LOCAL").write_text("mine\n")
    commit_all(sb.repo, "My commit")


def _secret_in_env(sb, tmp):
    import os

    os.environ["TWINE_PASSWORD"] = "hunter2-not-a-parameter"


#: (id, version, setup, extra arguments, phrases the message must hold)
CASES = [
    ("version-empty", "", None, [], ["version is empty", "2.2"]),
    ("version-v-prefix", "v1.2", None, [], ["v1.2", "1.2"]),
    ("version-1.1-after-1.10", "1.1", _release_1_10_exists, [], ["1.1", "1.10"]),
    ("prerelease-after-final", "1.0rc1", None, [], ["1.0rc1", "1.0"]),
    ("config-wrong-type", "1.1", _wrong_type, [], ["push-timeout", "fast"]),
    ("config-missing-version-file", "1.1", _missing_version_file, [], ["_version.py"]),
    ("config-pattern-twice", "1.1", _pattern_twice, [], ["__init__.py", "2"]),
    ("config-changelog-missing", "1.1", _changelog_missing, [], ["changelog.rst"]),
    ("repo-detached", "1.1", _detached, [], ["detached", "git switch main"]),
    ("repo-diverged", "1.1", _diverged, [], ["diverged", "1 commit ahead", "1 commit behind"]),
    ("param-unknown", "1.1", None, ["-p", "colour=red"], ["colour", "next_version"]),
    ("param-typo", "1.1", None, ["-p", "next_versoin=2.0+dev"], ["next_versoin", "next_version"]),
    ("param-secret-name", "1.1", None, ["-p", "password=abc"], ["password", "credential", "environment"]),
    ("param-secret-value", "1.1", _secret_in_env, ["-p", "next_version=hunter2-not-a-parameter"],
     ["next_version", "credential", "environment"]),
    ("param-secret-inside-value", "1.1", _secret_in_env, ["-p", "next_version=1.2+hunter2-not-a-parameter"],
     ["next_version", "credential", "nothing was changed"]),
]


@pytest.mark.parametrize("name,version,setup,extra,phrases", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_the_fix_and_changes_nothing(sandbox, tmp_path, capsys, monkeypatch,
                                                                name, version, setup, extra, phrases):
    monkeypatch.setenv("TWINE_PASSWORD", "unused")  # restored after the test, whatever setup sets
    if setup is not None:
        setup(sandbox, tmp_path)
    capsys.readouterr()
    before = repo_state(sandbox.repo, sandbox.origin)
    outputs = tmp_path / "outputs"

    code = main(with_accepted_draft(["run", version, "--repo", str(sandbox.repo), "--outputs", str(outputs),
                                     "--phases", PHASES, *extra]))

    err = capsys.readouterr().err
    flat = " ".join(err.split())
    assert code != 0
    assert "error:" in err and "TIP:" in err, err
    for phrase in phrases:
        assert phrase in flat, f"{phrase!r} not in:\n{err}"
    assert "hunter2-not-a-parameter" not in err
    assert repo_state(sandbox.repo, sandbox.origin) == before
    # Nothing that names a secret reached the record either.
    for path in outputs.rglob("*") if outputs.exists() else []:
        if path.is_file():
            assert b"hunter2-not-a-parameter" not in path.read_bytes()
