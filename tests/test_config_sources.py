"""Where the configuration comes from (--config, releaselib.toml, the table, detection), and its reference page."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.core.config_types import Config, VersionFile
from releaselib.core.errors import ConfigError
from releaselib.infra.config import detect_config, load_config, write_init
from releaselib.infra.config.load import CONFIG_FILE_ENV
from releaselib.infra.config.schema import _NOT_KEYS, _SUBTABLES

from .helpers import commit_all, git

REFERENCE = Path(__file__).parent.parent / "docs" / "configuration.md"


def every_key() -> list[str]:
    """Every key the parser accepts, as `table.key` for sub-tables."""
    keys = []
    for f in dataclasses.fields(Config):
        if f.name in _NOT_KEYS:
            continue
        if f.name in _SUBTABLES:
            keys += [f"{f.name.replace('_', '-')}.{g.name.replace('_', '-')}" for g in dataclasses.fields(_SUBTABLES[f.name])]
        else:
            keys.append(f.name.replace("_", "-"))
    return keys


def test_every_key_in_the_code_is_documented_in_the_reference() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    missing = []
    for key in every_key():
        table, _, name = key.rpartition(".")
        where = next((s for s in sections if s.startswith(f"`{table}`")), "") if table else text
        if f"| `{name}` |" not in where:
            missing.append(key)
    assert missing == [], f"keys not documented in docs/configuration.md: {missing}"
    assert len(every_key()) > 40  # the test reads the real schema


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


SETUP_PY_PROJECT = {
    "setup.py": 'from setuptools import setup\nsetup(name="kite", version="1.0+", packages=["kite"])\n',
    "kite/__init__.py": '__version__ = "1.0+"\n',
    "CHANGES": "1.0\n---\n\n- First.\n",
}


def test_releaselib_toml_wins_over_detection_and_needs_no_pyproject(tmp_path: Path) -> None:
    write(tmp_path, SETUP_PY_PROJECT)
    write(tmp_path, {"releaselib.toml": 'tag = "v{version}"\nbranch = "trunk"\n[matrix]\npython = ["3.12"]\n'})
    config = load_config(tmp_path)
    assert (config.tag, config.branch, config.matrix.python, config.source) == ("v{version}", "trunk", ("3.12",), "releaselib.toml")
    assert not config.detected and not (tmp_path / "pyproject.toml").exists()


def test_config_file_outside_the_project_wins_over_everything(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    write(project, {**SETUP_PY_PROJECT, "releaselib.toml": 'tag = "v{version}"\n'})
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('tag = "release-{version}"\n[[version-files]]\npath = "setup.py"\npattern = \'version="{version}"\'\n')
    assert load_config(project, outside).tag == "release-{version}"
    monkeypatch.setenv(CONFIG_FILE_ENV, str(outside))  # what --config sets for the kernels
    config = load_config(project)
    assert config.tag == "release-{version}" and config.version_files == (VersionFile("setup.py", 'version="{version}"'),)
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(project)


def test_unknown_key_in_releaselib_toml_names_the_file_and_the_closest_key(tmp_path: Path) -> None:
    write(tmp_path, {**SETUP_PY_PROJECT, "releaselib.toml": 'comit-message = "x {version}"\n'})
    with pytest.raises(ConfigError, match="did you mean `commit-message`"):
        load_config(tmp_path)


def test_init_writes_releaselib_toml_with_placeholder_tables_and_plan_reports_them(tmp_path: Path, capsys) -> None:
    write(tmp_path, SETUP_PY_PROJECT)
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "Start")
    assert main(["init", "--repo", str(tmp_path)]) == 0
    text = (tmp_path / "releaselib.toml").read_text()
    assert "# [announce]" in text and "# [docs-check]" in text and 'sender = "FILL-IN' in text
    assert load_config(tmp_path) == dataclasses.replace(detect_config(tmp_path), detected=False)
    commit_all(tmp_path, "releaselib.toml")
    capsys.readouterr()
    code = main(["plan", "1.1", "--repo", str(tmp_path), "--outputs", str(tmp_path / "out"),
                 "--phases", "preflight,changelog,bump,commit_tag,docs,post_release,announce"])
    out = capsys.readouterr()
    assert code != 0
    # Everything reported at once: the missing docs page and mail settings, and no remote.
    assert "url is not set in [docs-check]" in out.err and "smtp-host, sender, to are not set in [announce]" in out.err
    assert "no remote named origin" in out.err
    assert "configuration: releaselib.toml" in out.out


def test_init_with_config_writes_outside_and_refuses_to_overwrite(tmp_path: Path) -> None:
    write(tmp_path, SETUP_PY_PROJECT)
    target = tmp_path / "conf" / "kite.toml"
    target.parent.mkdir()
    assert write_init(tmp_path, target) == target
    assert load_config(tmp_path, target).version_files == detect_config(tmp_path).version_files
    with pytest.raises(ConfigError, match="already exists"):
        write_init(tmp_path, target)


@pytest.mark.parametrize(
    "files, tag",
    [
        ({}, None),
        ({"tags": ["v1.0", "v1.1", "1.0-docs"]}, "v{version}"),
        ({"tags": ["1.0", "1.1", "v0.1"]}, None),
    ],
)
def test_tag_format_is_learnt_from_the_existing_tags(tmp_path: Path, files: dict, tag: str | None) -> None:
    write(tmp_path, SETUP_PY_PROJECT)
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "Start")
    for name in files.get("tags", []):
        git(tmp_path, "tag", name)
    assert detect_config(tmp_path).tag == (tag or "{version}")


def test_a_failed_detection_names_the_places_and_the_keys_not_the_failing_command(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": 'from setuptools import setup\nsetup(name="kite", version=get_version())\n'})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "version_info" in info.value.message and "conf.py" in info.value.message
    assert "[[version-files]]" in info.value.hint and "releaselib init" not in info.value.hint


def test_overrides_apply_over_a_detected_configuration(tmp_path: Path, monkeypatch) -> None:
    # rehearse points a release at local servers through the overrides, also for a project with no configuration.
    write(tmp_path, SETUP_PY_PROJECT)
    monkeypatch.setenv("RELEASELIB_CONFIG_OVERRIDES", '{"publish": {"index-url": "http://127.0.0.1:9/simple/"}}')
    config = load_config(tmp_path)
    assert config.detected and config.publish.index_url == "http://127.0.0.1:9/simple/"
    assert config.version_files == detect_config(tmp_path).version_files


def test_every_reference_row_gives_type_default_example_and_the_phase_that_reads_it() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    rows = 0
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        header = next((line for line in section.splitlines() if line.startswith("| key |")), None)
        if header is None:
            continue
        columns = [c.strip() for c in header.strip("|").split("|")]
        # A sub-table names its phases in its heading; the top-level tables have a "read by" column.
        assert "read by" in columns or re.match(r"`[\w-]+`: .*\(\d\d", section), section.splitlines()[0]
        for line in section.splitlines():
            if line.startswith("| `"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
                assert len(cells) == len(columns) and all(cells), f"incomplete row: {line}"
                rows += 1
    assert rows >= len(every_key())
