from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.phases.bump import (
    MarkerReplace,
    VersionFileEdit,
    changed_paths,
    docs_files,
    marker_regex,
    pattern_regex,
    plan_next_dev,
    plan_release_bump,
    read_current_version,
)
from releaselib.core.config_types import Config, VersionFile
from releaselib.engine.context import Release
from releaselib.core.errors import ConfigError, VersionError
from releaselib.core.plan import ALREADY_DONE, DONE, WOULD_DO

INIT = "src/pkg/__init__.py"
VERSION_FILE = VersionFile(INIT, '__version__ = "{version}"')
TUPLE_FILE = VersionFile(INIT, "version_tuple = {version_tuple}")


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_config(root: Path, **kwargs: object) -> Config:
    kwargs.setdefault("version_files", (VERSION_FILE, TUPLE_FILE))
    kwargs.setdefault("docs", ("doc/**/*.rst", "src/**/*.py", "README.rst"))
    return Config(root=root, package="pkg", import_name="pkg", **kwargs)  # type: ignore[arg-type]


def make_release(root: Path, version: str, **kwargs: object) -> Release:
    return Release(version=version, repo=root, config=make_config(root, **kwargs), dry_run=False, record_dir=root / "rec")


def bump_done(plan) -> bool:
    return all(outcome in (DONE, ALREADY_DONE) for outcome in plan.outcomes) and bool(plan.outcomes)


def all_already_done(plan) -> bool:
    return plan.outcomes == [ALREADY_DONE] * len(plan.actions)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project in the seed's state after releasing 2.1: dev version 2.1+dev, docs with 2.1+ markers."""
    write(tmp_path, INIT, '"""pkg."""\n__version__ = "2.1+dev"\nversion_tuple = (2, 1, \'+\')\n')
    write(
        tmp_path,
        "doc/index.rst",
        "pkg 2.1+dev docs\n\n.. versionadded:: 2.1+\n\nNeeds Python 2.5+ and server 1.3.3+ (not 12.1+).\n",
    )
    write(tmp_path, "doc/api/mod.rst", ".. versionchanged:: 2.1+\n   Since 2.1+, on 2.1.x too.\n")
    write(tmp_path, "doc/untouched.rst", "Nothing about versions 2.1 here, nor 2.1.1+.\n")
    write(tmp_path, "README.rst", "Latest: 2.1+.\n")
    write(tmp_path, ".git/doc/stale.rst", "2.1+\n")
    return tmp_path


# -- patterns ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "value"),
    [
        ('__version__ = "{version}"', '__version__ = "2.1+dev"\n', "2.1+dev"),
        ('__version__ = "{version}"', "__version__ = '2.1+'\n", "2.1+"),
        ("__version__ = '{version}'", '__version__ = "1.10"\n', "1.10"),
        ("version = {version}", "[metadata]\nversion = 2.2.dev0\n", "2.2.dev0"),
        ("version_tuple = {version_tuple}", "version_tuple = (2, 1, 1, '+')\n", "(2, 1, 1, '+')"),
        ("version_tuple = {version_tuple}", 'version_tuple = (2, 2, "rc1")', '(2, 2, "rc1")'),
    ],
)
def test_pattern_regex_captures_value(pattern: str, text: str, value: str) -> None:
    matches = list(pattern_regex(VersionFile("f", pattern)).finditer(text))
    assert [m.group("value") for m in matches] == [value]


def test_pattern_does_not_match_inside_longer_name() -> None:
    regex = pattern_regex(VersionFile("f", 'version = "{version}"'))
    assert not regex.search('min_version = "3.8"\n')
    assert regex.search('version = "3.8"\n')


@pytest.mark.parametrize("pattern", ["__version__", "{version} {version}", "{version} {version_tuple}"])
def test_pattern_needs_one_placeholder(tmp_path: Path, pattern: str) -> None:
    write(tmp_path, "v.py", "__version__ = '1.0'\n")
    config = make_config(tmp_path, version_files=(VersionFile("v.py", pattern),))
    with pytest.raises(ConfigError, match="exactly one placeholder"):
        read_current_version(config)


# -- reading ----------------------------------------------------------------


def test_read_current_version(project: Path) -> None:
    assert read_current_version(make_config(project)) == "2.1+dev"


def test_read_current_version_from_tuple_only(project: Path) -> None:
    config = make_config(project, version_files=(TUPLE_FILE,))
    assert read_current_version(config) == "2.1+dev"


@pytest.mark.parametrize(
    ("content", "in_message"),
    [
        ("VERSION = '2.1'\n", "matches nothing in src/pkg/__init__.py"),
        ('__version__ = "2.1+"\nif x:\n    __version__ = "2.1+"\n', "matches 2 times in src/pkg/__init__.py (lines 1, 3)"),
    ],
)
def test_read_current_version_pattern_errors(tmp_path: Path, content: str, in_message: str) -> None:
    write(tmp_path, INIT, content)
    with pytest.raises(ConfigError) as info:
        read_current_version(make_config(tmp_path))
    assert in_message in info.value.message
    assert '__version__ = "{version}"' in info.value.message
    assert info.value.hint


def test_twice_hint_says_more_specific(tmp_path: Path) -> None:
    write(tmp_path, INIT, '__version__ = "2.1+"\n__version__ = "2.1+"\n')
    with pytest.raises(ConfigError) as info:
        read_current_version(make_config(tmp_path))
    assert "more specific" in (info.value.hint or "")


def test_missing_version_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="src/pkg/__init__.py does not exist"):
        read_current_version(make_config(tmp_path))


def test_no_version_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No version files"):
        read_current_version(make_config(tmp_path, version_files=()))


# -- version file edits -----------------------------------------------------


@pytest.mark.parametrize(
    ("before", "pattern", "version", "after"),
    [
        # quote style is the file's own
        ("__version__ = '2.1+'\n", '__version__ = "{version}"', "2.2", "__version__ = '2.2'\n"),
        ('__version__ = "2.1+dev"\n', "__version__ = '{version}'", "2.1.1", '__version__ = "2.1.1"\n'),
        # CRLF and a missing final newline survive
        (
            'a = 1\r\n__version__ = "1.9+dev"\r\nb = 2',
            '__version__ = "{version}"',
            "1.10",
            'a = 1\r\n__version__ = "1.10"\r\nb = 2',
        ),
        # tuples, in the file's quote style
        ("version_tuple = (2, 1, 1, '+')\n", "version_tuple = {version_tuple}", "2.2", "version_tuple = (2, 2)\n"),
        ("version_tuple = (2, 1, 1, '+')\n", "version_tuple = {version_tuple}", "2.2rc1", "version_tuple = (2, 2, 'rc1')\n"),
        ('version_tuple = (2, 1, "+")\r\n', "version_tuple = {version_tuple}", "2.2rc1", 'version_tuple = (2, 2, "rc1")\r\n'),
        ("version_tuple = (1, 9, '+')\n", "version_tuple = {version_tuple}", "1.10", "version_tuple = (1, 10)\n"),
        # a BOM and non-ASCII text stay as they are
        ('\ufeff# café\n__version__ = "2.1+"\n', '__version__ = "{version}"', "2.2", '\ufeff# café\n__version__ = "2.2"\n'),
    ],
)
def test_version_file_edit_rewrites_only_the_value(
    tmp_path: Path, before: str, pattern: str, version: str, after: str
) -> None:
    path = write(tmp_path, "v.py", before)
    edit = VersionFileEdit(make_config(tmp_path), VersionFile("v.py", pattern), version)
    assert not edit.is_done()
    edit.apply()
    assert path.read_bytes() == after.encode("utf-8")
    assert edit.is_done()


def test_version_file_edit_describe(project: Path) -> None:
    config = make_config(project)
    assert VersionFileEdit(config, VERSION_FILE, "2.2").describe() == 'src/pkg/__init__.py: __version__ "2.1+dev" -> "2.2"'
    assert VersionFileEdit(config, TUPLE_FILE, "2.2rc1").describe() == (
        "src/pkg/__init__.py: version_tuple (2, 1, '+') -> (2, 2, 'rc1')"
    )


def test_version_file_edit_keeps_file_mode(tmp_path: Path) -> None:
    path = write(tmp_path, "v.py", '__version__ = "2.1+"\n')
    path.chmod(0o640)
    VersionFileEdit(make_config(tmp_path), VersionFile("v.py", '__version__ = "{version}"'), "2.2").apply()
    assert path.stat().st_mode & 0o777 == 0o640


# -- markers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("markers", "text", "found"),
    [
        (["2.1+"], "Since 2.1+, and in 2.1+.", ["2.1+", "2.1+"]),
        (["2.1+"], "Python 2.5+ and server 1.3.3+ and 12.1+", []),
        (["1.1+"], "version 2.1.1+ and 11.1+ and v1.1+", []),
        (["2.1+"], "2.1+dev and 2.1+.5 and 2.1+x", []),
        (["2.1+dev", "2.1+"], "2.1+dev then 2.1+", ["2.1+dev", "2.1+"]),
        (["2.2.dev0"], "(2.2.dev0) 2.2.dev01 12.2.dev0", ["2.2.dev0"]),
        (["1.10+"], "1.10+ 1.1+ 1.100+", ["1.10+"]),
    ],
)
def test_marker_regex(markers: list[str], text: str, found: list[str]) -> None:
    assert [m.group(0) for m in marker_regex(markers).finditer(text)] == found


def test_marker_replace(project: Path) -> None:
    config = make_config(project)
    action = MarkerReplace(config, "doc/index.rst", ["2.1+dev", "2.1+"], "2.2")
    assert action.count == 2
    assert action.describe() == 'doc/index.rst: 2 markers "2.1+dev" / "2.1+" -> "2.2"'
    assert not action.is_done()
    action.apply()
    assert (project / "doc/index.rst").read_text() == (
        "pkg 2.2 docs\n\n.. versionadded:: 2.2\n\nNeeds Python 2.5+ and server 1.3.3+ (not 12.1+).\n"
    )
    assert action.is_done()


def test_marker_replace_keeps_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "doc/a.rst", "Title\r\n=====\r\n\r\nNew in 2.1+.\r\nEnd")
    MarkerReplace(make_config(tmp_path), "doc/a.rst", ["2.1+"], "2.1.1").apply()
    assert path.read_bytes() == b"Title\r\n=====\r\n\r\nNew in 2.1.1.\r\nEnd"


def test_docs_files_sorted_recursive_without_git(project: Path) -> None:
    assert docs_files(make_config(project)) == [
        "README.rst",
        "doc/api/mod.rst",
        "doc/index.rst",
        "doc/untouched.rst",
        "src/pkg/__init__.py",
    ]


def test_docs_glob_must_stay_inside(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inside the project"):
        docs_files(make_config(tmp_path, docs=("../other/*.rst",)))


# -- plans ------------------------------------------------------------------


def test_plan_release_bump(project: Path) -> None:
    before = snapshot(project)
    plan = plan_release_bump(make_release(project, "2.2"))
    assert [a.describe() for a in plan] == [
        'README.rst: 1 marker "2.1+dev" / "2.1+" -> "2.2"',
        'doc/api/mod.rst: 2 markers "2.1+dev" / "2.1+" -> "2.2"',
        'doc/index.rst: 2 markers "2.1+dev" / "2.1+" -> "2.2"',
        'src/pkg/__init__.py: __version__ "2.1+dev" -> "2.2"',
        "src/pkg/__init__.py: version_tuple (2, 1, '+') -> (2, 2)",
    ]
    assert changed_paths(plan) == ["README.rst", "doc/api/mod.rst", "doc/index.rst", "src/pkg/__init__.py"]

    plan.execute(dry_run=True)
    assert plan.outcomes == [WOULD_DO] * 5
    assert snapshot(project) == before

    plan.execute(dry_run=False)
    assert plan.outcomes == [DONE] * 5
    after = snapshot(project)
    assert after["README.rst"] == b"Latest: 2.2.\n"
    assert after["doc/api/mod.rst"] == b".. versionchanged:: 2.2\n   Since 2.2, on 2.1.x too.\n"
    assert after[INIT] == b'"""pkg."""\n__version__ = "2.2"\nversion_tuple = (2, 2)\n'
    unchanged = {"doc/untouched.rst", ".git/doc/stale.rst"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}

    # The same plan run again, and a plan built afresh: everything already done, nothing written.
    plan.execute(dry_run=False)
    assert all_already_done(plan)
    again = plan_release_bump(make_release(project, "2.2"))
    again.execute(dry_run=False)
    assert len(again) == 2 and all_already_done(again)
    assert snapshot(project) == after


def test_plan_release_bump_does_not_double_count_version_file_markers(project: Path) -> None:
    # __init__.py is both a docs file and a version file: its __version__ belongs to the VersionFileEdit.
    write(project, INIT, '__version__ = "2.1+dev"\n# changed in 2.1+\n')
    plan = plan_release_bump(make_release(project, "2.1.1", version_files=(VERSION_FILE,)))
    descriptions = [a.describe() for a in plan]
    assert 'src/pkg/__init__.py: 1 marker "2.1+dev" / "2.1+" -> "2.1.1"' in descriptions
    plan.execute(dry_run=False)
    assert plan.outcomes == [DONE] * len(plan)
    assert (project / INIT).read_text() == '__version__ = "2.1.1"\n# changed in 2.1.1\n'


def test_plan_release_bump_resumes_after_interruption(project: Path) -> None:
    plan = plan_release_bump(make_release(project, "2.2"))
    plan.actions[0].apply()  # only README.rst was done before the "crash"
    resumed = plan_release_bump(make_release(project, "2.2"))
    resumed.execute(dry_run=False)
    assert len(resumed) == 4 and resumed.outcomes == [DONE] * 4
    after = snapshot(project)
    assert after["README.rst"] == b"Latest: 2.2.\n"
    assert after["doc/api/mod.rst"] == b".. versionchanged:: 2.2\n   Since 2.2, on 2.1.x too.\n"
    assert after["doc/index.rst"].startswith(b"pkg 2.2 docs\n\n.. versionadded:: 2.2\n")
    assert after[INIT] == b'"""pkg."""\n__version__ = "2.2"\nversion_tuple = (2, 2)\n'


def test_plan_release_bump_literal_plus_tuple_rc(tmp_path: Path) -> None:
    write(tmp_path, INIT, "__version__ = '2.1.1+'\nversion_tuple = (2, 1, 1, '+')\n")
    write(tmp_path, "doc/changelog.rst", "Changes in Version 2.1.1+\n-------------------------\n")
    release = make_release(tmp_path, "2.2rc1", plus_label="", allow_non_pep440=True)
    plan_release_bump(release).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == "__version__ = '2.2rc1'\nversion_tuple = (2, 2, 'rc1')\n"
    assert (tmp_path / "doc/changelog.rst").read_text().startswith("Changes in Version 2.2rc1\n")


def test_plan_release_bump_dev_scheme(tmp_path: Path) -> None:
    write(tmp_path, INIT, '__version__ = "1.10.dev0"\nversion_tuple = (1, 10, "dev0")\n')
    write(tmp_path, "doc/index.rst", "Docs for 1.10.dev0 (not 1.1.dev0).\n")
    plan_release_bump(make_release(tmp_path, "1.10", dev_scheme="dev")).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == '__version__ = "1.10"\nversion_tuple = (1, 10)\n'
    assert (tmp_path / "doc/index.rst").read_text() == "Docs for 1.10 (not 1.1.dev0).\n"


def test_plan_release_bump_from_a_release_version_sets_the_files(tmp_path: Path) -> None:
    # A project that keeps the last release in its files (no development
    # marker) is released by setting the files; no marker is touched.
    write(tmp_path, INIT, '__version__ = "2.1"\nversion_tuple = (2, 1)\n')
    write(tmp_path, "doc/index.rst", "New in 2.1+ and 2.1.\n")
    plan_release_bump(make_release(tmp_path, "2.2")).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == '__version__ = "2.2"\nversion_tuple = (2, 2)\n'
    assert (tmp_path / "doc/index.rst").read_text() == "New in 2.1+ and 2.1.\n"


def test_plan_release_bump_refuses_an_older_release_than_the_files_hold(tmp_path: Path) -> None:
    write(tmp_path, INIT, '__version__ = "2.1"\nversion_tuple = (2, 1)\n')
    with pytest.raises(VersionError) as info:
        plan_release_bump(make_release(tmp_path, "2.0"))
    assert "'2.1'" in info.value.message
    assert "'2.1+dev'" in (info.value.hint or "")


def test_plan_release_bump_pattern_error_names_file(project: Path) -> None:
    release = make_release(project, "2.2", version_files=(VERSION_FILE, VersionFile("setup.py", 'version="{version}"')))
    write(project, "setup.py", "setup(name='pkg')\n")
    with pytest.raises(ConfigError, match="matches nothing in setup.py"):
        plan_release_bump(release)


@pytest.mark.parametrize(
    ("kwargs", "expected_init"),
    [
        ({}, '"""pkg."""\n__version__ = "2.2+dev"\nversion_tuple = (2, 2, \'+\')\n'),
        ({"plus_label": "", "allow_non_pep440": True}, '"""pkg."""\n__version__ = "2.2+"\nversion_tuple = (2, 2, \'+\')\n'),
        ({"dev_scheme": "dev"}, '"""pkg."""\n__version__ = "2.3.dev0"\nversion_tuple = (2, 3, \'dev0\')\n'),
    ],
)
def test_plan_next_dev(project: Path, kwargs: dict, expected_init: str) -> None:
    release = make_release(project, "2.2", **kwargs)
    plan_release_bump(release).execute(dry_run=False)
    plan = plan_next_dev(release)
    assert changed_paths(plan) == [INIT]
    before = snapshot(project)
    plan.execute(dry_run=True)
    assert snapshot(project) == before
    plan.execute(dry_run=False)
    assert plan.outcomes == [DONE, DONE]
    assert (project / INIT).read_text() == expected_init
    again = plan_next_dev(release)
    again.execute(dry_run=False)
    assert all_already_done(again)


def test_plan_next_dev_refuses_unbuildable(project: Path) -> None:
    (project / "pyproject.toml").write_text('[build-system]\nbuild-backend = "hatchling.build"\n')
    release = make_release(project, "2.2", plus_label="")
    with pytest.raises(ConfigError) as info:
        plan_next_dev(release)
    assert "hatchling.build" in info.value.message
    assert (project / INIT).read_text().count("2.1+dev") == 1


@pytest.mark.parametrize(
    ("kwargs", "next_version", "in_message"),
    [
        ({"dev_scheme": "dev"}, "2.1.dev0", "does not sort after"),
        ({"dev_scheme": "dev"}, "2.3", "not a development version"),
        ({}, "2.3", "not a development version"),
    ],
)
def test_plan_next_dev_rejects_bad_next(project: Path, kwargs: dict, next_version: str, in_message: str) -> None:
    with pytest.raises(VersionError, match=in_message):
        plan_next_dev(make_release(project, "2.2", **kwargs), next_version)


def test_plan_next_dev_explicit(project: Path) -> None:
    plan = plan_next_dev(make_release(project, "2.2", dev_scheme="dev"), "3.0.dev0")
    plan.execute(dry_run=False)
    assert '__version__ = "3.0.dev0"' in (project / INIT).read_text()


def test_a_release_behind_the_development_version_is_refused(tmp_path: Path) -> None:
    # main says 3.1.0.dev: releasing 3.0.3 from it belongs on the maintenance branch.
    write(tmp_path, INIT, '__version__ = "3.1.0.dev"\nversion_tuple = (3, 1, 0, "dev")\n')
    with pytest.raises(VersionError, match="would go backwards"):
        plan_release_bump(make_release(tmp_path, "3.0.3", dev_scheme="dev"))
    assert plan_release_bump(make_release(tmp_path, "3.1.0rc1", dev_scheme="dev")).actions  # a pre-release of it is fine
    write(tmp_path, INIT, '__version__ = "2.1+dev"\nversion_tuple = (2, 1, "+")\n')
    with pytest.raises(VersionError, match="would go backwards"):
        plan_release_bump(make_release(tmp_path, "2.1"))


def test_a_tuple_that_joins_the_marker_keeps_its_shape(tmp_path: Path) -> None:
    write(tmp_path, INIT, "__version__ = '2.2rc1+'\nversion_tuple = (2, 2, 'rc1+')\n")
    release = make_release(tmp_path, "2.2", plus_label="", allow_non_pep440=True)
    plan_release_bump(release).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == "__version__ = '2.2'\nversion_tuple = (2, 2)\n"
    plan_next_dev(release).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == "__version__ = '2.2+'\nversion_tuple = (2, 2, '+')\n"
    write(tmp_path, INIT, "__version__ = '2.2+'\nversion_tuple = (2, 2, 'rc1+')\n")
    assert "(2, 3, 'rc1+')" in VersionFileEdit(release.config, release.config.version_files[1], "2.3rc1+").new_value


def test_next_version_policy_minor(tmp_path: Path) -> None:
    write(tmp_path, INIT, '__version__ = "2.2.1"\nversion_tuple = (2, 2, 1)\n')
    release = make_release(tmp_path, "2.2.1", dev_scheme="dev", next_version="minor")
    plan_next_dev(release).execute(dry_run=False)
    assert (tmp_path / INIT).read_text() == '__version__ = "2.3.dev0"\nversion_tuple = (2, 3, \'dev0\')\n'


@pytest.mark.parametrize(
    ("dev", "short", "release", "after_bump", "after_post"),
    [
        ("1.4.dev0", "1.4", "1.4", "1.4", "1.5"),  # X.Y releases: the post-release moves the short version on
        ("1.3.1.dev0", "1.3", "1.4.0", "1.4", "1.4"),  # X.Y.Z: a minor release moves it, the patch dev keeps it
    ],
)
def test_the_short_sphinx_version_follows_in_its_own_form(
    tmp_path: Path, dev: str, short: str, release: str, after_bump: str, after_post: str
) -> None:
    """conf.py's short ``version = 'X.Y'`` beside ``release``: detected, and written short by the bump and the post-release."""
    from releaselib.infra.config import detect_config

    write(tmp_path, "setup.py", f'from setuptools import setup\nsetup(name="gale", version="{dev}")\n')
    write(tmp_path, "gale/__init__.py", f'__version__ = "{dev}"\n')
    write(tmp_path, "docs/conf.py", f'project = "gale"\nversion = "{short}"\nrelease = "{dev}"\n')
    config = detect_config(tmp_path)
    run = Release(version=release, repo=tmp_path, config=config, dry_run=False, record_dir=tmp_path / "rec")
    plan_release_bump(run).execute(dry_run=False)
    conf = (tmp_path / "docs/conf.py").read_text()
    assert conf == f'project = "gale"\nversion = "{after_bump}"\nrelease = "{release}"\n'
    plan_next_dev(run).execute(dry_run=False)
    dev_after = (tmp_path / "gale/__init__.py").read_text().split('"')[1]
    conf = (tmp_path / "docs/conf.py").read_text()
    assert conf == f'project = "gale"\nversion = "{after_post}"\nrelease = "{dev_after}"\n'
