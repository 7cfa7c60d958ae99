"""Environments of test tools kept between runs (releaselib.infra.envcache), on real uv and real interpreters.

A kept environment must hold exactly what a fresh install would get now, never
the project, and a making that was cut short must never be reused.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from releaselib.infra import envcache, processes
from releaselib.infra.interpreters import InterpreterSet, find_interpreters
from releaselib.infra.venv import uv_binary
from releaselib.phases.matrix import run_matrix

from .fixtures_matrix import make_tinyext, tinyext_release

CANDIDATES = ("3.12", "3.13", "3.11", "3.10", "3.9")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if uv_binary() is None:
        pytest.skip("environments are kept only where uv installs")
    folder = tmp_path / "cache"
    monkeypatch.setenv(envcache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def one_python() -> InterpreterSet:
    found = find_interpreters(CANDIDATES, allow_missing=CANDIDATES)
    if not len(found):
        pytest.skip("needs one of " + ", ".join(CANDIDATES))
    return InterpreterSet(found=tuple(found)[:1])


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "envs").iterdir() if p.is_dir())


def _distributions(env: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in env.glob("lib/python*/site-packages/*.dist-info")}


@pytest.mark.e2e
def test_the_next_run_reuses_the_seed_which_never_holds_the_project(tmp_path, cache, one_python):
    repo = make_tinyext(tmp_path / "tinyext")
    versions = tuple(i.requested for i in one_python)

    first = run_matrix(tinyext_release(repo, tmp_path / "record1", versions), interpreters=one_python)

    assert first.ok, str(first)
    [entry] = _entries(cache)
    made = json.loads((entry / "complete.json").read_text())
    names = {pin.split("==")[0].lower() for pin in made["pins"]}
    assert {"pytest", "setuptools"} <= names and all("==" in pin for pin in made["pins"])
    # Only the test tools and the build requirements: each cell installed the project into its own copy.
    assert _distributions(entry / "env") == names
    assert "uv venv" in (entry / "make.log").read_text()
    log = (tmp_path / "record1" / first.cells[0].log).read_text()
    assert "seed environment ready after" in log and str(entry / "env") in log
    python_inode = (entry / "env" / "pyvenv.cfg").stat().st_ino
    os.utime(entry / "complete.json", (time.time() - 3600, time.time() - 3600))

    second = run_matrix(tinyext_release(repo, tmp_path / "record2", versions), interpreters=one_python)

    assert second.ok, str(second)
    assert _entries(cache) == [entry]
    assert (entry / "env" / "pyvenv.cfg").stat().st_ino == python_inode  # reused, not made again
    assert (entry / "complete.json").stat().st_mtime > time.time() - 600  # marked as used
    assert {(c.extension, c.tests_passed) for c in second.cells} == {(c.extension, c.tests_passed) for c in first.cells}
    assert _distributions(entry / "env") == names

    # Another set of test tools is another environment; pytest's own dependency named again is the same one.
    same = run_matrix(tinyext_release(repo, tmp_path / "record3", versions, test_requires=("pytest", "iniconfig")),
                      interpreters=one_python)  # fmt: skip
    assert same.ok and _entries(cache) == [entry]
    third = run_matrix(tinyext_release(repo, tmp_path / "record4", versions, test_requires=("pytest", "six")),
                       interpreters=one_python)  # fmt: skip

    assert third.ok, str(third)
    assert len(_entries(cache)) == 2


def _python(one_python: InterpreterSet) -> Path:
    return next(iter(one_python)).executable


def _fake_make(calls: list[Path]):
    def make(dest: Path, pins, log: Path) -> None:
        calls.append(dest)
        dest.mkdir()
        log.write_text("made: " + " ".join(pins) + "\n")

    return make


def test_an_entry_whose_making_was_cut_short_is_made_again(tmp_path, cache, one_python):
    calls: list[Path] = []
    log = tmp_path / "run.log"

    def broken(dest: Path, pins, made_log: Path) -> None:
        made_log.write_text("uv pip install: interrupted\n")
        raise processes.Stopped()

    with pytest.raises(processes.Stopped):
        envcache.environment(_python(one_python), ["pytest"], warm=(), make=broken, log=log, timeout=120)
    [entry] = _entries(cache)
    assert not (entry / "complete.json").exists()
    assert "interrupted" in log.read_text()  # the run's log says what failed

    kept = envcache.environment(_python(one_python), ["pytest"], warm=(), make=_fake_make(calls), log=log, timeout=120)
    again = envcache.environment(_python(one_python), ["pytest"], warm=(), make=_fake_make(calls), log=log, timeout=120)

    assert kept == again == entry / "env" and calls == [entry / "env"]
    text = log.read_text()
    assert "made now, kept for later runs" in text and "reused, made by an earlier run" in text
    assert "pytest==" in text


def test_the_same_requirements_with_other_modules_warmed_are_another_entry(tmp_path, cache, one_python):
    calls: list[Path] = []
    for warm in ((), ("pytest",)):
        envcache.environment(_python(one_python), ["pytest"], warm=warm, make=_fake_make(calls), log=tmp_path / "log",
                             timeout=120)  # fmt: skip
    assert len(calls) == 2 and calls[0] != calls[1]


def test_nothing_is_kept_that_does_not_pin_to_an_index_version_or_when_turned_off(tmp_path, cache, one_python,
                                                                                  monkeypatch):  # fmt: skip
    calls: list[Path] = []
    project = make_tinyext(tmp_path / "tinyext")  # a local path: its content can change under the same name
    assert envcache.environment(_python(one_python), ["pytest", str(project)], warm=(), make=_fake_make(calls),
                                log=tmp_path / "log", timeout=300) is None  # fmt: skip
    monkeypatch.setenv(envcache.CACHE_ENV, "off")
    assert envcache.environment(_python(one_python), ["pytest"], warm=(), make=_fake_make(calls),
                                log=tmp_path / "log", timeout=120) is None  # fmt: skip
    monkeypatch.setenv(envcache.CACHE_ENV, str(cache))
    monkeypatch.setenv("RELEASELIB_INSTALLER", "pip")
    assert envcache.environment(_python(one_python), ["pytest"], warm=(), make=_fake_make(calls),
                                log=tmp_path / "log", timeout=120) is None  # fmt: skip
    assert calls == []


def test_entries_unused_for_a_month_go_when_a_new_one_is_made(tmp_path, cache, one_python):
    calls: list[Path] = []
    old = envcache.environment(_python(one_python), ["pytest"], warm=(), make=_fake_make(calls), log=tmp_path / "log",
                               timeout=120).parent  # fmt: skip
    recent = envcache.environment(_python(one_python), ["pytest"], warm=("pytest",), make=_fake_make(calls),
                                  log=tmp_path / "log", timeout=120).parent  # fmt: skip
    month = time.time() - (envcache.KEEP_DAYS + 1) * 86400
    os.utime(old / "complete.json", (month, month))

    new = envcache.environment(_python(one_python), ["iniconfig"], warm=(), make=_fake_make(calls),
                               log=tmp_path / "log", timeout=120).parent  # fmt: skip

    assert sorted(_entries(cache)) == sorted([recent, new])


def test_the_default_cache_is_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(envcache.CACHE_ENV, raising=False)
    assert envcache.cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "releaselib"
    assert envcache.cache_root({}) == Path.home() / ".cache" / "releaselib"
    assert envcache.cache_root({envcache.CACHE_ENV: "off"}) is None
