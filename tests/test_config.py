"""Tests for releaselib.infra.config: real pyproject.toml files in tmp_path, real git repos."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest

from releaselib.core.config_types import (
    AnnounceConfig,
    Config,
    DocsCheckConfig,
    MatrixConfig,
    PublishConfig,
    VersionFile,
)
from releaselib.core.errors import ConfigError
from releaselib.infra.config import (
    detect_config,
    load_config,
    pattern_regex,
    render_table,
    suggest,
    write_init,
)

from .helpers import git

SAMPLE = Path(__file__).resolve().parents[1] / "releaselib" / "local" / "sample"

PROJECT = """\
[project]
name = "demo"
dynamic = ["version"]
"""

INIT_PY = """\
\"\"\"Demo.\"\"\"
__version__ = "1.0+dev"
version_tuple = (1, 0, '+dev')
"""

BASE_TABLE = """\
[tool.releaselib]
changelog = "CHANGELOG.md"
docs = ["doc/**/*.rst"]
"""

VERSION_FILE = """\
[[tool.releaselib.version-files]]
path = "src/demo/__init__.py"
pattern = '__version__ = "{version}"'
"""


def write(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_project(root: Path, table: str | None, extra: dict[str, str] | None = None) -> Path:
    """A small src-layout project with ``table`` appended to its pyproject.toml."""
    files = {
        "pyproject.toml": PROJECT + ("\n" + table if table is not None else ""),
        "src/demo/__init__.py": INIT_PY,
        "CHANGELOG.md": "# Changelog\n",
        "doc/index.rst": "Demo\n====\n\n.. versionadded:: 1.0+\n",
    }
    files.update(extra or {})
    write(root, files)
    return root




def expect_error(root: Path, *phrases: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(root)
    error = info.value
    assert type(error) is ConfigError
    for phrase in phrases:
        assert phrase in error.message, f"{phrase!r} not in {error.message!r}"
    assert error.hint, "every ConfigError must say what to do next"
    return error


# -- bad configurations -------------------------------------------------------------

BAD_CONFIGS = [
    pytest.param(
        BASE_TABLE + 'comit-message = "BUMP {version}"\n' + VERSION_FILE,
        {},
        ["Unknown key `comit-message` in [tool.releaselib]; did you mean `commit-message`?"],
        id="typo-top-level",
    ),
    pytest.param(
        BASE_TABLE + 'commit_message = "BUMP {version}"\n' + VERSION_FILE,
        {},
        ["Unknown key `commit_message`", "did you mean `commit-message`?"],
        id="underscore-spelling",
    ),
    pytest.param(
        BASE_TABLE + "zzzz = 1\n" + VERSION_FILE,
        {},
        ["Unknown key `zzzz` in [tool.releaselib]."],
        id="unknown-without-suggestion",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\npyhton = ["3.11"]\n',
        {},
        ["Unknown key `pyhton` in [tool.releaselib.matrix]; did you mean `python`?"],
        id="typo-in-matrix",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.announce]\nsmtp-hots = "x"\n',
        {},
        ["Unknown key `smtp-hots` in [tool.releaselib.announce]; did you mean `smtp-host`?"],
        id="typo-in-announce",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.docscheck]\nurl = "https://x.org/"\n',
        {},
        ["Unknown key `docscheck` in [tool.releaselib]; did you mean `docs-check`?"],
        id="typo-in-subtable-name",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npaht = "src/demo/__init__.py"\npattern = "x {version}"\n',
        {},
        ["Unknown key `paht`", "version-files", "did you mean `path`?"],
        id="typo-in-version-file-entry",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npath = "src/demo/__init__.py"\n',
        {},
        ["Missing key `pattern`", "version-files"],
        id="version-file-without-pattern",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\npython = "3.11"\n',
        {},
        ["Key `python` in [tool.releaselib.matrix] must be an array of strings, got a string", '"3.11"'],
        id="python-not-a-list",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.announce]\nsmtp-port = "25"\n',
        {},
        ["Key `smtp-port` in [tool.releaselib.announce] must be an integer, got a string"],
        id="port-as-string",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.announce]\nstarttls = "yes"\n',
        {},
        ["Key `starttls` in [tool.releaselib.announce] must be a boolean"],
        id="bool-as-string",
    ),
    pytest.param(
        BASE_TABLE + 'push-timeout = "60"\n' + VERSION_FILE,
        {},
        ["Key `push-timeout` in [tool.releaselib] must be a number"],
        id="timeout-as-string",
    ),
    pytest.param(
        BASE_TABLE + "changelog-required = 1\n" + VERSION_FILE,
        {},
        ["Key `changelog-required` in [tool.releaselib] must be a boolean", "an integer"],
        id="int-for-bool",
    ),
    pytest.param(
        BASE_TABLE + 'matrix = "py311"\n' + VERSION_FILE,
        {},
        ["Key `matrix` in [tool.releaselib] must be a table"],
        id="subtable-as-string",
    ),
    pytest.param(
        BASE_TABLE + 'version-files = "src/demo/__init__.py"\n',
        {},
        ["Key `version-files` in [tool.releaselib] must be an array of tables"],
        id="version-files-as-string",
    ),
    pytest.param(
        BASE_TABLE + 'dev-scheme = "minor"\n' + VERSION_FILE,
        {},
        ["`dev-scheme`", "'minor'", "'plus'", "'dev'"],
        id="unknown-dev-scheme",
    ),
    pytest.param(
        BASE_TABLE + 'tag = "release"\n' + VERSION_FILE,
        {},
        ["`tag`", "must contain {version}"],
        id="tag-without-version",
    ),
    pytest.param(
        BASE_TABLE + 'commit-message = "BUMP"\n' + VERSION_FILE,
        {},
        ["`commit-message`", "must contain {version}"],
        id="commit-message-without-version",
    ),
    pytest.param(
        # "Back to development" (no version) is fine; an unknown placeholder is not.
        BASE_TABLE + 'post-release-message = "Back to {next}"\n' + VERSION_FILE,
        {},
        ["`post-release-message`", "is not a valid template"],
        id="post-release-message-unknown-placeholder",
    ),
    pytest.param(
        BASE_TABLE + 'tag = "{prefix}{version}"\n' + VERSION_FILE,
        {},
        ["`tag`", "not a valid template", "prefix"],
        id="template-unknown-field",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npath = "src/demo/__init__.py"\npattern = "__version__"\n',
        {},
        ["exactly one {version}, {version_tuple} or {version_short} placeholder, found 0", "src/demo/__init__.py"],
        id="pattern-without-placeholder",
    ),
    pytest.param(
        BASE_TABLE
        + '[[tool.releaselib.version-files]]\npath = "src/demo/__init__.py"\npattern = "{version} {version_tuple}"\n',
        {},
        ["exactly one {version}, {version_tuple} or {version_short} placeholder, found 2"],
        id="pattern-with-two-placeholders",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npath = "src/demo/nope.py"\npattern = "v = {version}"\n',
        {},
        ["src/demo/nope.py", "does not exist"],
        id="version-file-missing",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npath = "src/demo/__init__.py"\npattern = \'VERSION = "{version}"\'\n',
        {},
        ["'VERSION = \"{version}\"'", "matches nothing in src/demo/__init__.py"],
        id="pattern-matches-nothing",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE
        + '[[tool.releaselib.version-files]]\npath = "src/demo/twice.py"\npattern = \'v = "{version}"\'\n',
        {"src/demo/twice.py": 'v = "1.0"\nx = 1\nv = \'1.0\'\n'},
        ["'v = \"{version}\"'", "matches 2 times in src/demo/twice.py", "lines 1, 3"],
        id="pattern-matches-twice",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + VERSION_FILE,
        {},
        ["listed twice"],
        id="duplicate-version-file",
    ),
    pytest.param(
        BASE_TABLE + '[[tool.releaselib.version-files]]\npath = "../outside.py"\npattern = "v = {version}"\n',
        {},
        ["'../outside.py'", "stay inside"],
        id="version-file-outside-project",
    ),
    pytest.param(
        '[tool.releaselib]\nchangelog = "NEWS.md"\n' + VERSION_FILE,
        {},
        ["The changelog NEWS.md", "does not exist"],
        id="changelog-missing",
    ),
    pytest.param(
        BASE_TABLE.replace('["doc/**/*.rst"]', '["doc/**/*.rst", "manual/**/*.rst"]') + VERSION_FILE,
        {},
        ["'manual/**/*.rst'", "matches no file"],
        id="docs-glob-matches-nothing",
    ),
    pytest.param(
        BASE_TABLE.replace('["doc/**/*.rst"]', '["../**/*.rst"]') + VERSION_FILE,
        {},
        ["'../**/*.rst'", "must stay inside the project"],
        id="docs-glob-outside-project",
    ),
    pytest.param(
        BASE_TABLE + 'import-name = "my-lib"\n' + VERSION_FILE,
        {},
        ["`import-name` 'my-lib' is not a Python identifier"],
        id="import-name-not-an-identifier",
    ),
    pytest.param(
        BASE_TABLE + 'plus-label = ""\n' + VERSION_FILE,
        {},
        ["not a PEP 440 version"],
        id="literal-plus-without-allow-non-pep440",
    ),
    pytest.param(
        BASE_TABLE + 'plus-label = "dev build"\n' + VERSION_FILE,
        {},
        ["`plus-label`", "local label", "'dev build'"],
        id="plus-label-not-a-local-label",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\npython = ["3.11"]\nallow-missing = ["3.9"]\n',
        {},
        ["`allow-missing`", "'3.9'", "not in `python`"],
        id="allow-missing-not-in-python",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\nno-extension-env = "X_NO_EXT"\n'
        'no-extension-global-option = ["--without-ext"]\n',
        {},
        ["`no-extension-env` and `no-extension-global-option`", "choose one"],
        id="two-extension-switches",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\nno-extension-global-option = ["without-ext"]\n',
        {},
        ["`no-extension-global-option`", "'without-ext'", "not a setup.py option"],
        id="global-option-not-an-option",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\npre-build-requires = ["Cython>=3"]\n',
        {},
        ["`pre-build-requires`", "no `pre-build`"],
        id="pre-build-requires-without-pre-build",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + "[tool.releaselib.announce]\nsmtp-port = 70000\n",
        {},
        ["`smtp-port`", "70000"],
        id="port-out-of-range",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.publish]\nrepository-url = "pypi"\n',
        {},
        ["`repository-url`", "http(s) URL", "'pypi'"],
        id="repository-url-not-a-url",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.publish]\npassword-env = "s3cr3t value"\n',
        {},
        ["`password-env`", "environment variable name"],
        id="password-env-not-a-name",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + "[tool.releaselib.docs-check]\ntimeout = 0\n",
        {},
        ["`timeout` in [tool.releaselib.docs-check] must be greater than 0"],
        id="zero-timeout",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE + '[tool.releaselib.announce]\ntemplate = "ann.txt"\n',
        {},
        ["announcement template ann.txt", "does not exist"],
        id="announce-template-missing",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE,
        {"pyproject.toml": '[project]\nname = "demo"\nversion = "1.0+dev"\n\n' + BASE_TABLE + VERSION_FILE},
        ["[project].version is set", "not among the version files"],
        id="static-project-version-not-bumped",
    ),
    pytest.param(
        BASE_TABLE + VERSION_FILE,
        {"pyproject.toml": "[build-system]\nrequires = []\n\n" + BASE_TABLE + VERSION_FILE},
        ["Cannot tell the package name"],
        id="no-package-name",
    ),
]


@pytest.mark.parametrize(("table", "extra", "phrases"), BAD_CONFIGS)
def test_bad_config_is_refused_with_a_clear_message(tmp_path: Path, table: str, extra: dict[str, str], phrases: list[str]) -> None:
    make_project(tmp_path, table, extra)
    expect_error(tmp_path, *phrases)


def test_unknown_key_hint_lists_known_keys(tmp_path: Path) -> None:
    make_project(tmp_path, BASE_TABLE + "comit-message = 'x {version}'\n" + VERSION_FILE)
    error = expect_error(tmp_path, "comit-message")
    assert "commit-message" in error.hint and "version-files" in error.hint


def test_wrong_type_hint_shows_the_right_spelling(tmp_path: Path) -> None:
    make_project(tmp_path, BASE_TABLE + VERSION_FILE + '[tool.releaselib.matrix]\npython = "3.11"\n')
    assert expect_error(tmp_path).hint == 'Write python = ["3.11"].'
    make_project(tmp_path, BASE_TABLE + VERSION_FILE + '[tool.releaselib.announce]\nsmtp-port = "25"\n')
    assert expect_error(tmp_path).hint == "Write smtp-port = 25."


def test_missing_changelog_hint_offers_changelog_required(tmp_path: Path) -> None:
    make_project(tmp_path, '[tool.releaselib]\nchangelog = "NEWS.md"\n' + VERSION_FILE)
    error = expect_error(tmp_path, "NEWS.md")
    assert "changelog-required = false" in error.hint


def test_missing_changelog_is_fine_when_not_required(tmp_path: Path) -> None:
    make_project(tmp_path, '[tool.releaselib]\nchangelog = "NEWS.md"\nchangelog-required = false\n' + VERSION_FILE)
    config = load_config(tmp_path)
    assert config.changelog == "NEWS.md" and config.changelog_required is False


def test_no_project_at_all_names_what_to_write_not_init(tmp_path: Path) -> None:
    # No pyproject.toml is fine (a setup.py project); a folder with nothing
    # naming the package cannot be detected, and `init` would fail the same way.
    error = expect_error(tmp_path, "Cannot tell the package name", "setup.py")
    assert "releaselib.toml" in error.hint and 'package = "' in error.hint
    assert "releaselib init" not in error.hint


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    make_project(tmp_path, None, {"pyproject.toml": '[project]\nname = "demo"\n\n[tool.releaselib]\ntag = "{version}\n'})
    error = expect_error(tmp_path, "pyproject.toml", "is not valid TOML", "line 5")
    assert "pyproject.toml:5" in error.hint
    assert isinstance(error.__cause__, ValueError)


# -- a good configuration ------------------------------------------------------------

FULL_TABLE = """\
[tool.releaselib]
package = "demo-dist"
import-name = "demo"
dev-scheme = "dev"
plus-label = "local"
allow-non-pep440 = true
tag = "v{version}"
commit-message = "Release {version}"
post-release-message = "Start {version}"
branch = "release"
remote = "upstream"
changelog = "CHANGELOG.md"
changelog-required = false
docs = ["doc/**/*.rst", "src/**/*.py"]
runbooks = "runbooks"
secrets = ["EXTRA_TOKEN"]
push-timeout = 30

[[tool.releaselib.version-files]]
path = "src/demo/__init__.py"
pattern = '__version__ = "{version}"'

[[tool.releaselib.version-files]]
path = "src/demo/__init__.py"
pattern = "version_tuple = {version_tuple}"

[tool.releaselib.matrix]
python = ["3.10", "3.11", "3.12"]
allow-missing = ["3.10"]
no-extension-env = "DEMO_NO_EXT"
extension-check = "import demo; print(demo.HAS_C)"
test-command = "python -m pytest -x"
doctest-command = "python -m doctest README.rst"
timeout = 120
test-requires = ["pytest", "hypothesis"]
platforms = ["linux", "macos"]
allow-missing-platforms = ["macos"]
wheelhouse = "wheelhouse"

[tool.releaselib.publish]
repository-url = "http://127.0.0.1:8080/"
index-url = "http://127.0.0.1:8080/simple/"
username-env = "IDX_USER"
password-env = "IDX_PASS"

[tool.releaselib.docs-check]
url = "http://127.0.0.1:8000/index.html"
timeout = 5.5
interval = 0.5

[tool.releaselib.announce]
smtp-host = "127.0.0.1"
smtp-port = 2525
starttls = false
user = "releaser"
password-env = "SMTP_PW"
sender = "release@example.org"
to = ["announce@example.org", "dev@example.org"]
subject = "{package} {version} is out"
template = "announce.txt"
links = ["https://example.org/docs"]
"""


def test_full_config_round_trips_to_the_frozen_dataclass(tmp_path: Path) -> None:
    make_project(tmp_path, FULL_TABLE, {"announce.txt": "{version}\n", "runbooks/.keep": ""})
    expected = Config(
        root=tmp_path.resolve(),
        package="demo-dist",
        import_name="demo",
        dev_scheme="dev",
        plus_label="local",
        allow_non_pep440=True,
        tag="v{version}",
        commit_message="Release {version}",
        post_release_message="Start {version}",
        branch="release",
        remote="upstream",
        changelog="CHANGELOG.md",
        changelog_required=False,
        docs=("doc/**/*.rst", "src/**/*.py"),
        version_files=(
            VersionFile("src/demo/__init__.py", '__version__ = "{version}"'),
            VersionFile("src/demo/__init__.py", "version_tuple = {version_tuple}"),
        ),
        runbooks="runbooks",
        secrets=("EXTRA_TOKEN",),
        push_timeout=30.0,
        matrix=MatrixConfig(
            python=("3.10", "3.11", "3.12"),
            allow_missing=("3.10",),
            no_extension_env="DEMO_NO_EXT",
            extension_check="import demo; print(demo.HAS_C)",
            test_command="python -m pytest -x",
            doctest_command="python -m doctest README.rst",
            timeout=120.0,
            test_requires=("pytest", "hypothesis"),
            platforms=("linux", "macos"),
            allow_missing_platforms=("macos",),
            wheelhouse="wheelhouse",
        ),
        publish=PublishConfig(
            repository_url="http://127.0.0.1:8080/",
            index_url="http://127.0.0.1:8080/simple/",
            username_env="IDX_USER",
            password_env="IDX_PASS",
        ),
        docs_check=DocsCheckConfig(url="http://127.0.0.1:8000/index.html", timeout=5.5, interval=0.5),
        announce=AnnounceConfig(
            smtp_host="127.0.0.1",
            smtp_port=2525,
            starttls=False,
            user="releaser",
            password_env="SMTP_PW",
            sender="release@example.org",
            to=("announce@example.org", "dev@example.org"),
            subject="{package} {version} is out",
            template="announce.txt",
            links=("https://example.org/docs",),
        ),
        detected=False,
    )
    config = load_config(tmp_path)
    assert config == expected
    assert isinstance(config.push_timeout, float) and isinstance(config.matrix.python, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.tag = "x"  # type: ignore[misc]
    assert config.secret_env_names() == ("IDX_PASS", "SMTP_PW", "EXTRA_TOKEN")


def test_render_table_loads_back_to_the_same_config(tmp_path: Path) -> None:
    make_project(tmp_path, FULL_TABLE, {"announce.txt": "{version}\n", "runbooks/.keep": ""})
    config = load_config(tmp_path)
    rendered = render_table(config)
    # package differs from [project].name, so it is written; import-name is derivable, so it is not.
    assert 'package = "demo-dist"' in rendered and "import-name" not in rendered
    assert "[tool.releaselib.docs-check]" in rendered
    (tmp_path / "pyproject.toml").write_text(PROJECT + "\n" + rendered)
    assert load_config(tmp_path) == config


def test_minimal_table_derives_package_and_import_name(tmp_path: Path) -> None:
    make_project(tmp_path, BASE_TABLE + VERSION_FILE)
    config = load_config(tmp_path)
    assert (config.package, config.import_name, config.detected) == ("demo", "demo", False)
    assert config.branch == "main" and config.dev_scheme == "plus"


def test_import_name_falls_back_to_package_name(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        None,
        {
            "pyproject.toml": '[project]\nname = "my-lib"\nversion = "1.0"\n\n[tool.releaselib]\n'
            '[[tool.releaselib.version-files]]\npath = "pyproject.toml"\npattern = \'version = "{version}"\'\n'
        },
    )
    # The version file says nothing of the package: the one package folder in src/ does.
    assert load_config(tmp_path).import_name == "demo"
    (tmp_path / "src" / "other").mkdir()
    (tmp_path / "src" / "other" / "__init__.py").write_text("")
    assert load_config(tmp_path).import_name == "my_lib"  # two candidates: the distribution's name


def test_import_name_from_flit_module(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "green-tally"\nversion = "1.0"\n\n[tool.flit.module]\nname = "tally"\n\n'
        '[tool.releaselib]\n[[tool.releaselib.version-files]]\npath = "pyproject.toml"\npattern = \'version = "{version}"\'\n',
        "tally/__init__.py": "",
        "tests/__init__.py": "",
    })
    assert load_config(tmp_path).import_name == "tally"


def test_package_name_from_setup_cfg(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": "[tool.releaselib]\n" + VERSION_FILE,
            "setup.cfg": "[metadata]\nname = cfg-named\n",
            "src/demo/__init__.py": INIT_PY,
        },
    )
    config = load_config(tmp_path)
    assert (config.package, config.import_name) == ("cfg-named", "demo")


def test_bundled_sample_project_loads(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "sample")
    config = load_config(tmp_path / "sample")
    assert config.package == "bsonlite" and config.import_name == "bsonlite"
    assert len(config.version_files) == 2 and config.matrix.no_extension_env == "BSONLITE_NO_EXT"


# -- pattern_regex and suggest -------------------------------------------------------


def test_pattern_regex_quotes_match_either_quote() -> None:
    regex = pattern_regex('__version__ = "{version}"')
    assert regex.search("__version__ = '2.1+dev'\n")["value"] == "2.1+dev"
    assert regex.search('__version__ = "2.1"')["value"] == "2.1"
    assert regex.search("__version__ = 2.1") is None
    assert regex.search('__version__  = "2.1"') is None  # spacing is literal


def test_pattern_regex_version_tuple_and_boundaries() -> None:
    regex = pattern_regex("version_tuple = {version_tuple}")
    assert regex.search("version_tuple = (2, 1, '+')\n")["value"] == "(2, 1, '+')"
    assert regex.search("my_version_tuple = (1,)") is None
    toml = pattern_regex('version = "{version}"')
    text = '[project]\nversion = "1.0"\n[tool.ruff]\ntarget-version = "py311"\nmin_version = "0"\n'
    assert [m["value"] for m in toml.finditer(text)] == ["1.0"]


def test_pattern_regex_accepts_a_version_file_and_refuses_bad_patterns() -> None:
    assert pattern_regex(VersionFile("a.py", "V = {version}")).search("V = 3")["value"] == "3"
    with pytest.raises(ConfigError, match="a.py"):
        pattern_regex(VersionFile("a.py", "V = 3"))


def test_suggest() -> None:
    assert suggest("comit-message", ["commit-message", "tag"]) == "commit-message"
    assert suggest("dry_run", ["dry-run", "version"]) == "dry-run"
    assert suggest("xyz", ["commit-message", "tag"]) is None


# -- autodetection ---------------------------------------------------------------------


def test_detect_src_layout_with_init_py(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "alpha"\ndynamic = ["version"]\n',
            "src/alpha/__init__.py": "__version__ = '2.1+dev'\nversion_tuple = (2, 1, '+dev')\n",
            "src/alpha/core.py": "x = 1\n",
            "CHANGES.md": "# Changes\n",
            "docs/index.md": "# Alpha\n",
            "tests/__init__.py": "__version__ = '0'\n",
        },
    )
    git(tmp_path, "init", "-q", "-b", "release")
    config = load_config(tmp_path)
    assert config == Config(
        root=tmp_path.resolve(),
        package="alpha",
        import_name="alpha",
        dev_scheme="plus",
        plus_label="dev",
        branch="release",
        changelog="CHANGES.md",
        docs=("docs/**/*.md", "src/alpha/**/*.py"),
        version_files=(
            VersionFile("src/alpha/__init__.py", "__version__ = '{version}'"),
            VersionFile("src/alpha/__init__.py", "version_tuple = {version_tuple}"),
        ),
        detected=True,
    )


def test_detect_version_py_with_dev_scheme(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "beta-pkg"\ndynamic = ["version"]\n',
            "beta_pkg/__init__.py": "from ._version import __version__\n",
            "beta_pkg/_version.py": '__version__: str = "3.0.dev0"\n',
            "HISTORY.rst": "History\n=======\n",
            "doc/index.rst": "Beta\n",
        },
    )
    config = detect_config(tmp_path)
    assert config.version_files == (VersionFile("beta_pkg/_version.py", '__version__: str = "{version}"'),)
    assert (config.package, config.import_name, config.dev_scheme) == ("beta-pkg", "beta_pkg", "dev")
    assert config.changelog == "HISTORY.rst"
    assert config.docs == ("doc/**/*.rst", "beta_pkg/**/*.py")
    assert config.branch == "main"  # not a git repository
    assert config.detected


def test_detect_project_version_in_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "gamma"\nversion = "0.5"\n\n[tool.ruff]\ntarget-version = "py311"\n',
            "gamma/__init__.py": '"""No version here."""\n',
        },
    )
    config = detect_config(tmp_path)
    assert config.version_files == (VersionFile("pyproject.toml", 'version = "{version}"'),)
    assert (config.import_name, config.changelog, config.docs) == ("gamma", None, ("gamma/**/*.py",))
    assert config.dev_scheme == "none"  # 0.5 is a release: the files keep it until the next


def test_detect_skips_a_project_version_pattern_that_matches_twice(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pyproject.toml": '[project]\nname = "gamma"\nversion = "0.5"\n\n[tool.other]\nversion = "9"\n'},
    )
    with pytest.raises(ConfigError) as info:
        detect_config(tmp_path)
    assert "Found nothing holding the version of gamma" in info.value.message
    assert "releaselib.toml" in info.value.hint and "[[version-files]]" in info.value.hint
    assert "releaselib init" not in info.value.hint  # init would fail the same way


def test_detect_legacy_setup_py_project(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": 'from setuptools import setup\n\nsetup(\n    name="delta",\n    version="1.2+",\n    packages=["delta"],\n)\n',
            "delta/__init__.py": '__version__ = "1.2+"\n',
            "CHANGELOG.rst": "Changelog\n=========\n",
        },
    )
    config = detect_config(tmp_path)
    assert config.version_files == (
        VersionFile("delta/__init__.py", '__version__ = "{version}"'),
        VersionFile("setup.py", 'version="{version}"'),
    )
    assert (config.package, config.import_name, config.changelog) == ("delta", "delta", "CHANGELOG.rst")
    # The project writes the literal 1.2+ and builds with setup.py: kept as it is.
    assert (config.dev_scheme, config.plus_label, config.allow_non_pep440) == ("plus", "", True)
    # No pyproject.toml is needed: a run without configuration detects the same,
    # and `init` writes releaselib.toml rather than a pyproject.toml that would
    # change how pip builds the project.
    assert load_config(tmp_path) == config and load_config(tmp_path).detected
    assert write_init(tmp_path) == tmp_path / "releaselib.toml"
    assert not (tmp_path / "pyproject.toml").exists()
    assert load_config(tmp_path) == dataclasses.replace(config, detected=False)
    assert load_config(tmp_path).source == "releaselib.toml"


@pytest.mark.parametrize(("setup_args", "classifiers", "expected"), [
    ('python_requires=">=3.11",', "", ("3.11", "3.12", "3.13", "3.14")),
    ('python_requires=">=3.10, <3.13",', "", ("3.10", "3.11", "3.12")),
    # The classifiers name what is supported; requires-python takes out what cannot install.
    ('python_requires=">=3.12",', '"Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12",',
     ("3.12",)),
    ("", '"Programming Language :: Python :: 3.10",', ("3.10",)),
])
def test_detected_pythons_follow_requires_python_and_the_classifiers(tmp_path: Path, setup_args, classifiers,
                                                                      expected) -> None:
    write(tmp_path, {
        "setup.py": 'from setuptools import setup\n\nsetup(\n    name="delta",\n    version="1.2.dev0",\n'
                    f'    packages=["delta"],\n    {setup_args}\n    classifiers=[{classifiers}],\n)\n',
        "delta/__init__.py": '__version__ = "1.2.dev0"\n',
        "CHANGELOG.rst": "Changelog\n=========\n",
    })
    config = detect_config(tmp_path)
    assert config.matrix.python == expected
    assert config.matrix.allow_missing == expected  # what this machine lacks is skipped, not failed


def test_load_without_table_autodetects(tmp_path: Path) -> None:
    make_project(tmp_path, None)
    config = load_config(tmp_path)
    assert config.detected and config == detect_config(tmp_path)
    assert config.changelog == "CHANGELOG.md"


# -- releaselib init --------------------------------------------------------------------


def test_write_init_keeps_every_existing_byte(tmp_path: Path) -> None:
    original = textwrap.dedent(
        """\
        # A comment that tomlkit must not move
        [build-system]
        requires = ["setuptools"]   # trailing comment
        build-backend="setuptools.build_meta"

        [project]
        name = 'alpha'
        dynamic = [ "version" ]

        [tool.ruff]
        target-version = "py311\""""  # no final newline on purpose
    ).encode()
    write(
        tmp_path,
        {
            "src/alpha/__init__.py": '__version__ = "0.9+dev"\nversion_tuple = (0, 9, "+dev")\n',
            "doc/changelog.rst": "Changes\n",
            "doc/api/index.rst": "API\n",
        },
    )
    (tmp_path / "pyproject.toml").write_bytes(original)
    git(tmp_path, "init", "-q", "-b", "trunk")
    detected = detect_config(tmp_path)

    path = write_init(tmp_path)

    after = path.read_bytes()
    assert after.startswith(original) and len(after) > len(original)
    assert b"[tool.releaselib]" in after[len(original):]
    assert load_config(tmp_path) == dataclasses.replace(detected, detected=False)
    assert load_config(tmp_path).branch == "trunk"

    with pytest.raises(ConfigError) as info:
        write_init(tmp_path)
    assert "already has a [tool.releaselib] table" in info.value.message
    assert "Edit" in info.value.hint
    assert path.read_bytes() == after


def test_write_init_keeps_crlf_line_endings(tmp_path: Path) -> None:
    original = b'[project]\r\nname = "demo"\r\ndynamic = ["version"]\r\n'
    write(tmp_path, {"src/demo/__init__.py": INIT_PY})
    (tmp_path / "pyproject.toml").write_bytes(original)
    after = write_init(tmp_path).read_bytes()
    assert after.startswith(original)
    assert b"\n" not in after.replace(b"\r\n", b"")
    assert load_config(tmp_path) == dataclasses.replace(detect_config(tmp_path), detected=False)


def test_write_init_refuses_invalid_toml_without_writing(tmp_path: Path) -> None:
    original = b'[project\nname = "demo"\n'
    (tmp_path / "pyproject.toml").write_bytes(original)
    with pytest.raises(ConfigError, match="not valid TOML"):
        write_init(tmp_path)
    assert (tmp_path / "pyproject.toml").read_bytes() == original


def test_write_init_on_a_project_version_layout_loads_back(tmp_path: Path) -> None:
    # The written pattern ('version = "{version}"') lands in pyproject.toml
    # itself; it must not count as a second match of the version line.
    original = b'[project]\nname = "gamma"\nversion = "0.5"\n\n[tool.ruff]\ntarget-version = "py311"\n'
    (tmp_path / "pyproject.toml").write_bytes(original)
    write(tmp_path, {"gamma/__init__.py": "", "gamma/mod.py": "x = 1\n"})
    detected = detect_config(tmp_path)
    after = write_init(tmp_path).read_bytes()
    assert after.startswith(original)
    loaded = load_config(tmp_path)
    assert loaded == dataclasses.replace(detected, detected=False)
    assert loaded.version_files == (VersionFile("pyproject.toml", 'version = "{version}"'),)
    assert [m["value"] for m in pattern_regex(loaded.version_files[0]).finditer(after.decode())] == ["0.5"]
