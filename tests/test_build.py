"""build: the sample released from a real sandbox, built, repaired, checked and install-tested.

The fast tests use tiny files and projects in tmp_path; the two ``e2e`` tests
build the sample's tag with two real interpreters (about 50 s together).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest

from releaselib.core.errors import BuildError
from releaselib.engine.context import Release
from releaselib.infra.config import load_config
from releaselib.infra.interpreters import find_interpreters
from releaselib.local.sandbox import create_sandbox
from releaselib.phases.build import (
    Artifact,
    _CurrentPython,
    build_release,
    build_sdist,
    built_artifacts,
    checkout_release,
    collect_wheelhouse,
    twine_check,
    wheelhouse_coverage,
)

from .helpers import git

WANTED = ("3.9", "3.12")




def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_wheel(folder: Path, filename: str, *, valid: bool = False) -> Path:
    """A file with a wheel's name; with ``valid``, a zip twine can read (metadata and all)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    if not valid:
        path.write_bytes(b"not a zip")
        return path
    name, version = filename.split("-")[:2]
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(
            f"{info}/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n"
            "Description-Content-Type: text/plain\n\nplain text\n",
        )
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n")
        archive.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    return create_sandbox(tmp_path_factory.mktemp("build") / "sandbox")


# --------------------------------------------------------------------------- export


def test_checkout_release_exports_the_tag_not_the_working_tree(sandbox, tmp_path):
    (sandbox.repo / "STRAY.txt").write_text("not committed")
    try:
        export = checkout_release(sandbox.repo, "1.0", tmp_path / "export")
    finally:
        (sandbox.repo / "STRAY.txt").unlink()

    assert not (export / "STRAY.txt").exists()
    assert not (export / ".git").exists()
    assert '__version__ = "1.0"' in (export / "src" / "bsonlite" / "__init__.py").read_text()
    assert '__version__ = "1.0+dev"' in (sandbox.repo / "src" / "bsonlite" / "__init__.py").read_text()


def test_checkout_release_of_a_missing_tag_says_to_tag_first(sandbox, tmp_path):
    with pytest.raises(BuildError) as caught:
        checkout_release(sandbox.repo, "9.9", tmp_path / "export")
    assert "9.9" in caught.value.message
    assert "commit_tag" in caught.value.hint


# --------------------------------------------------------------------------- artifacts and checks


def test_artifact_reads_tags_size_and_hash_from_the_file(tmp_path):
    wheel = fake_wheel(tmp_path, "bsonlite-1.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    sdist = tmp_path / "bsonlite-1.1.tar.gz"
    sdist.write_bytes(b"sdist bytes")

    w, s = Artifact.from_path(wheel), Artifact.from_path(sdist)

    assert (w.kind, w.python_tag, w.abi_tag, w.version) == ("wheel", "cp311", "cp311", "1.1")
    assert w.platform_tag == "manylinux2014_x86_64.manylinux_2_17_x86_64"
    assert not w.is_pure
    assert (s.kind, s.python_tag, s.platform_tag, s.size, s.sha256) == ("sdist", "source", "any", 11, sha256(sdist))
    assert json.loads(json.dumps(s.as_record()))["sha256"] == sha256(sdist)
    with pytest.raises(BuildError, match="not a valid distribution file name"):
        Artifact.from_path(fake_wheel(tmp_path, "not-a-wheel.whl"))


def test_twine_check_names_the_file_and_twines_words(tmp_path):
    project = tmp_path / "project"
    (project / "src" / "broken").mkdir(parents=True)
    (project / "src" / "broken" / "__init__.py").write_text("")
    (project / "README.rst").write_text("Title\n=====\n\n.. unknown-directive:: boom\n\n`unclosed\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "broken"\nversion = "1.0"\nreadme = "README.rst"\n'
    )
    sdist = build_sdist(project, tmp_path / "dist", log=tmp_path / "sdist.log")
    assert "exit 0" in (tmp_path / "sdist.log").read_text()

    with pytest.raises(BuildError) as caught:
        twine_check([sdist])

    assert "broken-1.0.tar.gz" in caught.value.message
    assert "long_description" in caught.value.message  # twine's own explanation is kept


def test_twine_strict_can_be_relaxed_to_warnings_that_are_returned(tmp_path):
    """Issue 10: twine-strict = false shows twine's warnings instead of failing; strict stays the default."""
    project = tmp_path / "project"
    (project / "nodesc").mkdir(parents=True)
    (project / "nodesc" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(  # no readme: twine warns that long_description is missing
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "nodesc"\nversion = "1.0"\n'
    )
    sdist = build_sdist(project, tmp_path / "dist", log=tmp_path / "sdist.log").path

    with pytest.raises(BuildError, match="twine check --strict failed"):
        twine_check([sdist])
    warnings = twine_check([sdist], strict=False)

    assert len(warnings) == 1 and warnings[0].startswith("nodesc-1.0.tar.gz: ") and "long_description" in warnings[0]


# --------------------------------------------------------------------------- coverage


def test_coverage_shows_each_platform_and_python_and_what_is_missing(tmp_path):
    files = [
        Artifact.from_path(fake_wheel(tmp_path, name))
        for name in (
            "bsonlite-1.1-cp39-cp39-manylinux_2_17_x86_64.whl",
            "bsonlite-1.1-cp312-cp312-manylinux_2_17_x86_64.whl",
            "bsonlite-1.1-cp312-cp312-win_amd64.whl",
        )
    ]
    coverage = wheelhouse_coverage(files, ["3.9", "3.12"], ["linux", "windows", "macos"], ["macos"])

    assert coverage.cells[("linux", "3.9")] == ["bsonlite-1.1-cp39-cp39-manylinux_2_17_x86_64.whl"]
    assert coverage.cells[("windows", "3.12")] == ["bsonlite-1.1-cp312-cp312-win_amd64.whl"]
    assert coverage.missing == [("windows", "3.9"), ("macos", "3.9"), ("macos", "3.12")]
    assert coverage.missing_not_allowed == [("windows", "3.9")]
    assert "MISSING (allowed)" in str(coverage) and "MISSING" in coverage._repr_html_()
    with pytest.raises(BuildError) as caught:
        coverage.raise_for_missing()
    assert "windows / Python 3.9" in caught.value.message
    assert "macos" not in caught.value.message.splitlines()[0]
    assert "allow-missing-platforms" in caught.value.hint


def test_a_pure_or_abi3_wheel_covers_the_cells_it_can_serve(tmp_path):
    pure = Artifact.from_path(fake_wheel(tmp_path, "bsonlite-1.1-py3-none-any.whl"))
    coverage = wheelhouse_coverage([pure], ["3.9", "3.13"], ["linux", "macos", "windows"])
    assert coverage.missing == []
    coverage.raise_for_missing()

    abi3 = Artifact.from_path(fake_wheel(tmp_path, "bsonlite-1.1-cp310-abi3-macosx_11_0_arm64.whl"))
    coverage = wheelhouse_coverage([abi3], ["3.9", "3.12"], ["macos"])
    assert coverage.missing == [("macos", "3.9")]


def test_wheelhouse_wheels_are_checked_like_our_own(tmp_path):
    house = tmp_path / "wheelhouse"
    good = fake_wheel(house, "bsonlite-1.1-cp312-cp312-win_amd64.whl", valid=True)
    fake_wheel(house, "bsonlite-1.0-cp312-cp312-win_amd64.whl", valid=True)  # another version: ignored

    found = collect_wheelhouse(house, "bsonlite", "1.1")
    assert [a.filename for a in found] == [good.name]
    assert found[0].origin == "wheelhouse"

    fake_wheel(house, "bsonlite-1.1-cp39-cp39-win_amd64.whl")  # not a zip: twine cannot read it
    with pytest.raises(BuildError, match="bsonlite-1.1-cp39-cp39-win_amd64.whl"):
        collect_wheelhouse(house, "bsonlite", "1.1")

    fake_wheel(tmp_path / "other", "otherpkg-1.1-py3-none-any.whl", valid=True)
    with pytest.raises(BuildError, match="not 'bsonlite'"):
        collect_wheelhouse(tmp_path / "other", "bsonlite", "1.1")
    with pytest.raises(BuildError, match="does not exist"):
        collect_wheelhouse(tmp_path / "nowhere", "bsonlite", "1.1")


# --------------------------------------------------------------------------- the whole phase


def release_of(repo: Path, record_dir: Path, **matrix: object) -> Release:
    config = load_config(repo)
    config = dataclasses.replace(config, matrix=dataclasses.replace(config.matrix, **matrix))
    return Release(version="1.0", repo=repo, config=config, dry_run=False, record_dir=record_dir)


def two_interpreters():
    found = list(find_interpreters(WANTED, allow_missing=WANTED).found)
    if len(found) < 2:
        pytest.skip(f"needs Python {' and '.join(WANTED)} on this machine")
    return found


@pytest.mark.e2e
def test_build_release_gives_an_sdist_and_a_tested_manylinux_wheel_per_python(sandbox, tmp_path):
    interpreters = two_interpreters()
    versions = tuple(i.requested for i in interpreters)
    release = release_of(
        sandbox.repo, tmp_path / "record", python=versions, platforms=("linux", "windows"),
        allow_missing_platforms=("windows",),
    )  # fmt: skip
    (sandbox.repo / "STRAY.py").write_text("raise SystemExit('the working tree leaked into the build')")
    try:
        result = build_release(release, interpreters=interpreters)
    finally:
        (sandbox.repo / "STRAY.py").unlink()

    dist = tmp_path / "record" / "dist"
    assert sorted(p.name for p in dist.iterdir()) == sorted(a.filename for a in result.artifacts)
    assert result.sdist is not None and result.sdist.filename == "bsonlite-1.0.tar.gz"
    tags = sorted(w.python_tag for w in result.wheels)
    assert tags == sorted(i.python_tag for i in interpreters)
    for wheel in result.wheels:
        assert "manylinux_2_17_x86_64" in wheel.platform_tag and "linux_x86_64" not in wheel.platform_tag.split(".")
    for artifact in result.artifacts:
        assert artifact.path.parent == dist
        assert artifact.sha256 == sha256(artifact.path) and artifact.size == artifact.path.stat().st_size
    with zipfile.ZipFile(result.wheels[0].path) as archive:
        assert any(n.startswith("bsonlite/_cbson") and n.endswith(".so") for n in archive.namelist())
        assert not any("STRAY" in n for n in archive.namelist())

    assert len(result.install_tests) == 3 and all(t.passed for t in result.install_tests)
    assert {t.python for t in result.install_tests} == {i.version for i in interpreters}
    for test in result.install_tests:
        assert "passed" in test.log.read_text()
    # One environment with the test tools per Python, made while the files built, copied for each file.
    made = {t.filename: re.findall(r"^## test environment: a copy of (\S+), made for Python", t.log.read_text(), re.M)
            for t in result.install_tests}  # fmt: skip
    assert all(len(paths) == 1 for paths in made.values()), made
    assert len({paths[0] for paths in made.values()}) == len(interpreters)
    assert result.coverage is not None
    assert result.coverage.missing_not_allowed == []
    assert {c for c in result.coverage.missing} == {("windows", v) for v in versions}

    record = json.loads(json.dumps(result.as_record()))
    assert {f["filename"]: f["sha256"] for f in record["files"]} == {a.filename: a.sha256 for a in result.artifacts}
    assert "MISSING (allowed)" in str(result) and "<table>" in result._repr_html_()
    assert (tmp_path / "record" / "logs" / "build-sdist.log").exists()


@pytest.mark.e2e
def test_tests_failing_after_install_stop_the_build_naming_the_file(tmp_path, monkeypatch):
    sandbox = create_sandbox(tmp_path / "sandbox")
    git(sandbox.repo, "checkout", "-q", "1.0")
    (sandbox.repo / "tests" / "test_shipped.py").write_text("def test_broken():\n    assert 1 + 1 == 3\n")
    git(sandbox.repo, "add", "tests/test_shipped.py")
    git(sandbox.repo, "commit", "-q", "-m", "a test that fails")
    git(sandbox.repo, "tag", "-f", "-a", "1.0", "-m", "1.0")
    # Without the extension the project is pure: one wheel for every Python, built once.
    monkeypatch.setenv("BSONLITE_NO_EXT", "1")
    release = release_of(sandbox.repo, tmp_path / "record", python=(), no_extension_env=None)

    with pytest.raises(BuildError) as caught:
        build_release(release, interpreters=[_CurrentPython()])

    message = caught.value.message
    assert "bsonlite-1.0-py3-none-any.whl failed its tests on Python" in message
    assert "bsonlite-1.0.tar.gz failed its tests on Python" in message
    assert "--resume" in caught.value.hint and "nothing has left the machine" in caught.value.hint
    logs = list((tmp_path / "record" / "logs").glob("install-test-bsonlite-1.0-py3-none-any.whl-*.log"))
    assert len(logs) == 1 and "FAILED tests/test_shipped.py::test_broken" in logs[0].read_text()
    assert str(logs[0]) in message
    assert sorted(p.name for p in (tmp_path / "record" / "dist").iterdir()) == [
        "bsonlite-1.0-py3-none-any.whl",
        "bsonlite-1.0.tar.gz",
    ]


def test_built_artifacts_must_match_the_record(tmp_path):
    release = Release(version="1.1", repo=tmp_path, config=None, dry_run=False, record_dir=tmp_path / "record")
    with pytest.raises(BuildError, match="No built files"):
        built_artifacts(release)
    dist = tmp_path / "record" / "dist"
    sdist = dist / "bsonlite-1.1.tar.gz"
    dist.mkdir(parents=True)
    sdist.write_bytes(b"as built")
    recorded = [Artifact.from_path(sdist).as_record()]

    assert [a.filename for a in built_artifacts(release, recorded)] == [sdist.name]

    sdist.write_bytes(b"changed afterwards")
    with pytest.raises(BuildError, match="bsonlite-1.1.tar.gz changed since it was built"):
        built_artifacts(release, recorded)
