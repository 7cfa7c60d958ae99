from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.core.config_types import Config
from releaselib.core.errors import ConfigError, VersionError
from releaselib.core.versions import (
    build_backend,
    check_buildable,
    check_newer,
    check_writable,
    dev_markers,
    format_version_tuple,
    next_dev_version,
    parse_release,
    parse_version_tuple,
    release_base,
    version_from_tuple,
    version_tuple,
)


@pytest.mark.parametrize("text", ["2.2", "2.2.1", "1.10", "2.2rc1", "2.2a1", "2.2.post1", "1!2.0", "0.1"])
def test_parse_release_accepts_canonical(text: str) -> None:
    assert str(parse_release(text)) == text


def test_parse_release_keeps_1_10_distinct_from_1_1() -> None:
    assert parse_release("1.10") > parse_release("1.1")
    assert str(parse_release("1.10")) == "1.10"


@pytest.mark.parametrize(
    ("text", "in_message", "in_hint"),
    [
        ("", "empty", "2.2"),
        ("   ", "empty", "2.2"),
        ("1.1.x", "not a valid PEP 440", "2.2"),
        ("abc", "not a valid PEP 440", "2.2"),
        ("v1.2", "starts with 'v'", "tag"),
        ("V1.2", "starts with 'V'", "'1.2'"),
        ("1.2+x", "local label", "'1.2'"),
        ("1.2.dev0", "development release", "'1.2'"),
        ("1.2-rc1", "canonical", "'1.2rc1'"),
        ("01.2", "canonical", "'1.2'"),
        ("1.2.0-post1", "canonical", "'1.2.0.post1'"),
        (" 1.2", "whitespace", "'1.2'"),
    ],
)
def test_parse_release_rejects(text: str, in_message: str, in_hint: str) -> None:
    with pytest.raises(VersionError) as info:
        parse_release(text)
    assert in_message in info.value.message
    assert info.value.hint and in_hint in info.value.hint


def test_parse_release_rejects_float() -> None:
    with pytest.raises(VersionError, match="string"):
        parse_release(1.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "last"),
    [("2.2", None), ("2.2", "2.1"), ("1.10", "1.9"), ("2.2", "2.2rc1"), ("2.2.post1", "2.2"), ("2.2rc2", "2.2rc1")],
)
def test_check_newer_passes(version: str, last: str | None) -> None:
    check_newer(version, last)


@pytest.mark.parametrize(
    ("version", "last", "in_message", "candidates"),
    [
        ("2.1", "2.1", "the same as the last release '2.1'", ["'2.1.1'", "'2.2'"]),
        ("2.0", "2.1", "older than the last release '2.1'", ["'2.1.1'", "'2.2'"]),
        ("2.2rc1", "2.2", "older than", ["'2.2.1'", "'2.3'"]),
        ("1.9", "1.10", "older than", ["'1.10.1'", "'1.11'"]),
        ("2.1.1", "2.1.2", "older than", ["'2.1.3'", "'2.2'"]),
        ("2.2rc1", "2.2rc1", "the same as", ["'2.2rc2'", "'2.2'"]),
    ],
)
def test_check_newer_fails(version: str, last: str, in_message: str, candidates: list[str]) -> None:
    with pytest.raises(VersionError) as info:
        check_newer(version, last)
    assert in_message in info.value.message
    for candidate in candidates:
        assert candidate in (info.value.hint or "")


@pytest.mark.parametrize(
    ("release", "scheme", "label", "expected"),
    [
        ("2.2", "plus", "dev", "2.2+dev"),
        ("2.2", "plus", "", "2.2+"),
        ("1.10", "plus", "dev", "1.10+dev"),
        ("2.2", "dev", "dev", "2.3.dev0"),
        ("2.2.1", "dev", "dev", "2.2.2.dev0"),
        ("1.9", "dev", "dev", "1.10.dev0"),
        ("2.2rc1", "dev", "dev", "2.2rc2.dev0"),
        ("2.2.post1", "dev", "dev", "2.3.dev0"),
    ],
)
def test_next_dev_version(release: str, scheme: str, label: str, expected: str) -> None:
    assert next_dev_version(release, scheme, label) == expected


@pytest.mark.parametrize(
    ("release", "suffix", "expected"),
    [("3.1.0", ".dev", "3.1.1.dev"), ("3.1.0", ".dev0", "3.1.1.dev0"), ("2.2", "dev0", "2.3dev0"), ("2.2rc1", ".dev", "2.2rc2.dev")],
)
def test_next_dev_version_writes_the_projects_own_dev_suffix(release: str, suffix: str, expected: str) -> None:
    """A project that writes 3.1.0.dev (no number) gets 3.1.1.dev after the release, never 3.1.1.dev0."""
    assert next_dev_version(release, "dev", "dev", dev_suffix=suffix) == expected
    assert next_dev_version(release, "dev", "dev", "minor", dev_suffix=suffix).endswith(suffix)


def test_next_dev_version_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="Unknown development scheme"):
        next_dev_version("2.2", "calver", "dev")


@pytest.mark.parametrize(
    ("current", "scheme", "expected"),
    [
        ("2.1+dev", "plus", ["2.1+dev", "2.1+"]),
        ("2.1+", "plus", ["2.1+"]),
        ("1.10+dev", "plus", ["1.10+dev", "1.10+"]),
        ("2.2.dev0", "dev", ["2.2.dev0"]),
    ],
)
def test_dev_markers(current: str, scheme: str, expected: list[str]) -> None:
    assert dev_markers(current, scheme) == expected


@pytest.mark.parametrize(
    ("current", "scheme", "expected"),
    [("2.1+dev", "plus", "2.1"), ("2.1+", "plus", "2.1"), ("2.2.dev0", "dev", "2.2"), ("2.2rc2.dev0", "dev", "2.2rc2")],
)
def test_release_base(current: str, scheme: str, expected: str) -> None:
    assert release_base(current, scheme) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.1.1+", (2, 1, 1, "+")),
        ("2.1.1+dev", (2, 1, 1, "+")),
        ("2.2rc1", (2, 2, "rc1")),
        ("2.2", (2, 2)),
        ("1.10", (1, 10)),
        ("2.3.dev0", (2, 3, "dev0")),
        ("2.3.dev", (2, 3, "dev")),
        ("2.2.post1", (2, 2, "post1")),
    ],
)
def test_version_tuple_round_trip(version: str, expected: tuple) -> None:
    assert version_tuple(version) == expected
    assert parse_version_tuple(format_version_tuple(expected)) == expected
    # Back to a string: the '+' regains the label it was given.
    label = "dev" if version.endswith("+dev") else ""
    assert version_from_tuple(expected, label) == version


@pytest.mark.parametrize(
    ("value", "quote", "expected"),
    [
        ((2, 1, 1, "+"), "'", "(2, 1, 1, '+')"),
        ((2, 2, "rc1"), '"', '(2, 2, "rc1")'),
        ((2, 2), "'", "(2, 2)"),
        ((3,), "'", "(3,)"),
    ],
)
def test_format_version_tuple(value: tuple, quote: str, expected: str) -> None:
    assert format_version_tuple(value, quote) == expected


@pytest.mark.parametrize("text", ["[2, 2]", "(2, 2.0)", "(2, True)", "(2, __import__('os'))", "(2,"])
def test_parse_version_tuple_rejects(text: str) -> None:
    with pytest.raises(VersionError):
        parse_version_tuple(text)


def _config(root: Path, **kwargs: object) -> Config:
    return Config(root=root, package="pkg", import_name="pkg", **kwargs)  # type: ignore[arg-type]


def test_build_backend_read_from_pyproject(tmp_path: Path) -> None:
    assert build_backend(tmp_path) == "setuptools (setup.py, no pyproject build-system)"
    (tmp_path / "pyproject.toml").write_text('[build-system]\nbuild-backend = "hatchling.build"\n')
    assert build_backend(tmp_path) == "hatchling.build"
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_backend(tmp_path)


def test_check_buildable_refuses_literal_plus_naming_backend(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[build-system]\nbuild-backend = "flit_core.buildapi"\n')
    with pytest.raises(ConfigError) as info:
        check_buildable(_config(tmp_path, plus_label=""))
    assert "flit_core.buildapi" in info.value.message
    assert 'plus-label = "dev"' in (info.value.hint or "")
    assert "allow-non-pep440 = true" in (info.value.hint or "")


def test_check_buildable_names_setup_py_when_no_build_system(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"setuptools \(setup.py"):
        check_buildable(_config(tmp_path, plus_label=""))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"plus_label": "", "allow_non_pep440": True}, {"dev_scheme": "dev", "plus_label": ""}],
)
def test_check_buildable_passes(tmp_path: Path, kwargs: dict) -> None:
    check_buildable(_config(tmp_path, **kwargs))


def test_check_writable(tmp_path: Path) -> None:
    check_writable("2.2+dev", _config(tmp_path))
    check_writable("2.2+", _config(tmp_path, plus_label="", allow_non_pep440=True))
    with pytest.raises(ConfigError, match="'2.2\\+'"):
        check_writable("2.2+", _config(tmp_path, plus_label=""))
