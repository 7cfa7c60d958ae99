"""Detection, form by form: every place and spelling issue 11 lists, each found and named in the detection notes.

The layout corpus (tests/test_layouts.py) releases a whole project per layout;
these are the single facts, one small project each, so that a form no corpus
project happens to use is still proven.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.core.config_types import VersionFile
from releaselib.infra.config import detect_config

from .helpers import commit_all, git


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


SETUP = 'from setuptools import setup\nsetup(name="kite", packages=["kite"])\n'


@pytest.mark.parametrize(
    ("files", "version_file", "note"),
    [
        ({"setup.py": SETUP, "kite/__init__.py": '__version__ = "1.2.dev0"\n'},
         VersionFile("kite/__init__.py", '__version__ = "{version}"'), "version: 1.2.dev0 in kite/__init__.py"),
        ({"setup.py": SETUP, "kite/__init__.py": "from ._version import __version__\n",
          "kite/_version.py": "__version__ = '1.2+'\n"},
         VersionFile("kite/_version.py", "__version__ = '{version}'"), "version: 1.2+ in kite/_version.py"),
        ({"setup.py": 'from setuptools import setup\nsetup(name="kite", version = "1.2")\n'},
         VersionFile("setup.py", 'version = "{version}"'), "version: 1.2 in setup.py (version)"),
        ({"setup.py": "from distutils.core import setup\nVERSION = '1.2+dev'\nsetup(name='kite', version=VERSION)\n"},
         VersionFile("setup.py", "VERSION = '{version}'"), "version: 1.2+dev in setup.py (VERSION)"),
        ({"pyproject.toml": '[project]\nname = "kite"\nversion = "1.2.dev0"\n'},
         VersionFile("pyproject.toml", 'version = "{version}"'), "version: 1.2.dev0 in pyproject.toml [project].version"),
        ({"setup.py": "from setuptools import setup\nsetup(name='kite')\n", "doc/conf.py": "release = '1.2'\n"},
         VersionFile("doc/conf.py", "release = '{version}'"), "version: 1.2 in doc/conf.py (release)"),
    ],
    ids=["init-dunder", "_version.py", "setup.py-version", "setup.py-VERSION", "project.version", "sphinx-release"],
)
def test_a_version_string_is_found_where_projects_keep_it(tmp_path: Path, files: dict, version_file: VersionFile,
                                                           note: str) -> None:
    write(tmp_path, files)
    config = detect_config(tmp_path)
    assert version_file in config.version_files
    assert any(line.startswith(note) for line in config.detection), config.detection


@pytest.mark.parametrize(
    ("line", "scheme", "label"),
    [
        ("version_tuple = (2, 2, 'rc1+')", "plus", ""),
        ("version_info = (1, 2, 1)", "none", "dev"),
        ("version = (1, 2, 1)", "none", "dev"),
        ("__version_info__ = (1, 3, 0, 'dev0')", "dev", "dev"),
    ],
)
def test_a_version_held_only_as_a_tuple_that_setup_py_imports(tmp_path: Path, line: str, scheme: str, label: str) -> None:
    write(tmp_path, {
        "setup.py": "from setuptools import setup\nfrom kite import VERSION_STRING\nsetup(name='kite', version=VERSION_STRING)\n",
        "kite/__init__.py": f"{line}\nVERSION_STRING = '.'.join(map(str, {line.split(' = ')[0]}))\n",
    })
    config = detect_config(tmp_path)
    name = line.split(" = ")[0]
    assert config.version_files == (VersionFile("kite/__init__.py", f"{name} = {{version_tuple}}"),)
    assert f"version tuple: {line.split(' = ')[1]} in kite/__init__.py" in config.detection
    assert (config.dev_scheme, config.plus_label) == (scheme, label)


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"pyproject.toml": '[project]\nname = "kite"\ndynamic = ["version"]\n[tool.setuptools_scm]\n'}, "setuptools-scm"),
        ({"pyproject.toml": '[project]\nname = "kite"\ndynamic = ["version"]\n[tool.hatch.version]\nsource = "vcs"\n'},
         "hatch-vcs"),
        ({"pyproject.toml": '[build-system]\nrequires = ["setuptools", "setuptools-scm>=8"]\n'
                            '[project]\nname = "kite"\ndynamic = ["version"]\n'}, "setuptools-scm"),
        ({"setup.py": "from setuptools import setup\nsetup(name='kite', use_scm_version=True)\n"}, "setuptools-scm"),
        ({"setup.py": "import versioneer\nfrom setuptools import setup\nsetup(name='kite', version=versioneer.get_version())\n",
          "versioneer.py": "# versioneer\n"}, "versioneer"),
    ],
    ids=["tool.setuptools_scm", "hatch-vcs", "dynamic+requires", "use_scm_version", "versioneer"],
)
def test_a_version_from_git_tags_has_no_file_to_rewrite(tmp_path: Path, files: dict, named: str) -> None:
    write(tmp_path, {**files, "kite/__init__.py": '"""Kite."""\n'})
    config = detect_config(tmp_path)
    assert (config.version_source, config.version_files, config.dev_scheme) == ("scm", (), "none")
    assert any(line.startswith(f"version: from the git tag ({named}") for line in config.detection), config.detection


@pytest.mark.parametrize(
    "name",
    ["CHANGES", "CHANGES.txt", "CHANGES.rst", "CHANGELOG.md", "HISTORY.rst", "NEWS", "doc/changelog.rst", "docs/changes.rst"],
)
def test_each_changelog_name_the_issue_lists_is_found(tmp_path: Path, name: str) -> None:
    write(tmp_path, {"setup.py": 'from setuptools import setup\nsetup(name="kite", version="1.0")\n', name: "1.0\n---\n"})
    config = detect_config(tmp_path)
    assert config.changelog == name and f"changelog: {name}" in config.detection


@pytest.mark.parametrize(
    ("read", "switch"),
    [
        ('os.environ.get("KITE_NO_EXT")', "KITE_NO_EXT"),
        ("os.getenv('KITE_PUREPYTHON')", "KITE_PUREPYTHON"),
        ("os.environ['DISABLE_SPEEDUPS']", "DISABLE_SPEEDUPS"),
        ('"KITE_NO_CEXT" in os.environ and os.environ.get("KITE_NO_CEXT")', "KITE_NO_CEXT"),
    ],
)
def test_the_extension_switch_setup_py_reads_is_found(tmp_path: Path, read: str, switch: str) -> None:
    write(tmp_path, {"setup.py": f'import os\nfrom setuptools import setup\nif {read}:\n    pass\nsetup(name="kite", version="1.0")\n'})
    config = detect_config(tmp_path)
    assert config.matrix.no_extension_env == switch
    assert f"extension switch: {switch} (read in setup.py)" in config.detection


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({".bumpversion.cfg": "[bumpversion]\ncurrent_version = 1.4.0\n\n[bumpversion:file:kite/__init__.py]\n"},
         ".bumpversion.cfg"),
        ({"pyproject.toml": '[project]\nname = "kite"\ndynamic = ["version"]\n[tool.bumpversion]\ncurrent_version = "1.4.0"\n'
                            '[[tool.bumpversion.files]]\nfilename = "kite/__init__.py"\nsearch = \'VERSION = "{current_version}"\'\n'},
         "[tool.bumpversion] in pyproject.toml"),
        ({"tbump.toml": '[version]\ncurrent = "1.4.0"\nregex = "(?P<major>\\\\d+)"\n[git]\nmessage_template = "Bump to {new_version}"\n'
                        'tag_template = "v{new_version}"\n[[file]]\nsrc = "kite/__init__.py"\nsearch = \'VERSION = "{current_version}"\'\n'},
         "tbump.toml"),
    ],
)
def test_an_existing_bump_tool_configuration_gives_its_files_and_patterns(tmp_path: Path, files: dict, where: str) -> None:
    write(tmp_path, {**files, "setup.py": SETUP, "kite/__init__.py": '"""Kite."""\nVERSION = "1.4.0"\n'})
    config = detect_config(tmp_path)
    assert VersionFile("kite/__init__.py", 'VERSION = "{version}"') in config.version_files
    assert any(line.startswith(f"version files: from {where}") for line in config.detection), config.detection
    own = {".bumpversion.cfg": ".bumpversion.cfg", "tbump.toml": "tbump.toml"}.get(where, "pyproject.toml")
    assert own in {vf.path for vf in config.version_files}  # the tool's own current version moves too


@pytest.mark.parametrize(
    ("tags", "tag"),
    [(["v1.0", "v1.1"], "v{version}"), (["1.0", "1.1"], "{version}"), (["release-1.0", "release-1.1"], "release-{version}"),
     # Most tags bare, the newest ones with a "v" (msgpack-python): the next tag follows the newest.
     (["0.1", "0.2", "0.3", "1.0rc1", "v1.0", "v1.1"], "v{version}")],
)
def test_the_tag_format_comes_from_the_existing_tags(tmp_path: Path, tags: list[str], tag: str) -> None:
    write(tmp_path, {"setup.py": 'from setuptools import setup\nsetup(name="kite", version="1.2.dev0")\n'})
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "Start")
    for name in tags:
        git(tmp_path, "tag", name)
    assert detect_config(tmp_path).tag == tag


def test_a_failed_detection_names_this_projects_file_in_the_keys_to_write(tmp_path: Path) -> None:
    from releaselib.core.errors import ConfigError

    write(tmp_path, {"setup.py": SETUP, "kite/__init__.py": "__version__ = get_version()\n"})
    with pytest.raises(ConfigError) as info:
        detect_config(tmp_path)
    assert 'path = "kite/__init__.py"' in info.value.hint and "pkg/" not in info.value.hint
