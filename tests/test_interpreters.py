"""Finding the configured Pythons on PATH and in pyenv, with real interpreters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import find_interpreter, find_interpreters, probe

MACHINE_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


@pytest.mark.parametrize("version", MACHINE_VERSIONS)
def test_finds_each_installed_python_with_its_exact_version(version: str) -> None:
    interpreter = find_interpreter(version)
    if interpreter is None:
        pytest.skip(f"Python {version} is not installed on this machine")
    assert interpreter.requested == version
    assert interpreter.version.startswith(version + ".")
    assert "shims" not in interpreter.executable.parts
    assert interpreter.cache_tag == f"cpython-{version.replace('.', '')}"
    assert interpreter.python_tag == f"cp{version.replace('.', '')}"
    # The recorded version is what the executable really runs.
    out = subprocess.run(
        [str(interpreter.executable), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert out == interpreter.version


def test_running_python_is_found() -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = find_interpreters([here])
    assert [i.requested for i in found] == [here]
    assert found[here].version.startswith(here + ".")
    assert Path(found[here].executable).is_file()
    assert found.skipped == ()


def test_missing_version_fails_by_name_with_a_hint() -> None:
    with pytest.raises(MatrixError) as info:
        find_interpreters(["3.99"])
    error = info.value
    assert "3.99" in error.message
    assert "PATH" in error.message and "pyenv" in error.message.lower()
    assert error.hint is not None
    assert "pyenv install 3.99" in error.hint and "allow-missing" in error.hint


def test_missing_version_allowed_is_skipped() -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = find_interpreters([here, "3.99"], allow_missing=["3.99"])
    assert [i.requested for i in found] == [here]
    assert found.skipped == ("3.99",)
    assert found.as_record()["skipped"] == ["3.99"]
    assert "3.99" in str(found) and "skipped" in found._repr_html_()


def test_unreadable_version_is_a_config_problem() -> None:
    with pytest.raises(MatrixError, match="3.x"):
        find_interpreters(["3.x"])


def _fake_pyenv(root: Path, versions: dict[str, str]) -> None:
    for name, target in versions.items():
        bin_dir = root / "versions" / name / "bin"
        bin_dir.mkdir(parents=True)
        minor = ".".join(name.split(".")[:2])
        (bin_dir / f"python{minor}").symlink_to(target)


def test_pyenv_highest_patch_wins_and_shims_and_impostors_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    real = os.path.realpath(sys.executable)
    # A shim that would run the real interpreter, and an impostor on PATH
    # named python3.98 that is really the running Python.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / f"python{here}"
    shim.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    impostors = tmp_path / "bin"
    impostors.mkdir()
    (impostors / "python3.98").symlink_to(real)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{impostors}")
    root = tmp_path / "pyenv"
    _fake_pyenv(root, {f"{here}.0": real, f"{here}.17": real, f"{here}.3": real, f"{here}-dev": real})
    monkeypatch.setenv("PYENV_ROOT", str(root))

    chosen = find_interpreter(here)
    assert chosen is not None
    assert chosen.executable == root / "versions" / f"{here}.17" / "bin" / f"python{here}"
    assert find_interpreter("3.98") is None  # reports another version: not kept


def test_probe_answers_are_cached_per_executable(tmp_path: Path) -> None:
    script = tmp_path / "python-counting"
    counter = tmp_path / "count"
    script.write_text(f'#!/bin/sh\necho x >> "{counter}"\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    first = probe(script)
    second = probe(script)
    assert first is not None and first == second
    assert counter.read_text().count("x") == 1


def test_broken_candidate_probes_as_none(tmp_path: Path) -> None:
    script = tmp_path / "python-broken"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    assert probe(script) is None
