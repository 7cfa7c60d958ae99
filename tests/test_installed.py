"""What the tests import (issue 10): the installed distribution's names, the copy without them, the import proof."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from releaselib.phases.installed import (
    InstalledDistribution,
    installed_distribution,
    probe_argv,
    read_probe,
    shell_argv,
    tests_copy as copy_for_tests,
)


def write_dist_info(site: Path, name: str, version: str, files: list[str]) -> None:
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    rows = [*files, f"{dist_info.name}/METADATA", f"{dist_info.name}/RECORD"]
    (dist_info / "RECORD").write_text("".join(f"{row},,\n" for row in rows))


def test_every_top_level_package_module_and_compiled_module_is_found(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    write_dist_info(site, "green-alphabeta", "2.0", [
        "alpha/__init__.py", "alpha/_core.cpython-312-x86_64-linux-gnu.so", "alpha/__pycache__/x.pyc",
        "beta/__init__.py", "single.py", "_speed.cpython-312-x86_64-linux-gnu.so", "green_alphabeta.libs/libz.so",
        "../../bin/tool", "green_alphabeta.pth",
    ])
    write_dist_info(site, "other", "1.0", ["other/__init__.py"])

    found = installed_distribution(tmp_path / "venv", "Green_AlphaBeta")

    assert found is not None
    assert found.top_level == ("alpha", "beta", "single", "_speed")
    assert found.compiled == ("alpha._core", "_speed")
    assert installed_distribution(tmp_path / "venv", "absent") is None


def test_the_tests_copy_leaves_out_every_shadowing_name_but_keeps_the_tests(tmp_path: Path) -> None:
    export = tmp_path / "export"
    for name in ["alpha/__init__.py", "beta/__init__.py", "single.py", "tests/test_x.py", "src/x.py",
                 "build/lib/x.py", "pkg.egg-info/PKG-INFO", "doc/usage.rst", "conftest.py"]:
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        (export / name).write_text("")
    installed = InstalledDistribution("d", tmp_path, ("alpha", "beta", "single", "tests"), ())

    copy = copy_for_tests(export, tmp_path / "copy", installed)

    assert sorted(p.name for p in copy.iterdir()) == ["conftest.py", "doc", "tests"]


def test_a_module_imported_from_outside_the_environment_fails_naming_the_file(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "shadowpkg").mkdir(parents=True)
    (checkout / "shadowpkg" / "__init__.py").write_text("")
    installed = InstalledDistribution("shadowpkg", tmp_path, ("shadowpkg",), ())
    venv = tmp_path / "venv"
    venv.mkdir()

    proc = subprocess.run(probe_argv(sys.executable, installed, compiled=False), cwd=checkout,
                          capture_output=True, text=True, check=True)
    proof = read_probe(proc.stdout, venv, installed)

    assert not proof.ok
    assert str((checkout / "shadowpkg" / "__init__.py").resolve()) in proof.problems[0]
    assert "not from the installed distribution" in proof.problems[0]


def test_a_module_that_does_not_import_is_a_problem(tmp_path: Path) -> None:
    installed = InstalledDistribution("nothing-here", tmp_path, ("no_such_module_here",), ())
    proc = subprocess.run(probe_argv(sys.executable, installed, compiled=True), cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    proof = read_probe(proc.stdout, tmp_path, installed)
    assert "importing no_such_module_here failed: ModuleNotFoundError" in proof.problems[0]
    # The metadata is the version source; a distribution without it is a problem too.
    assert "installed metadata of nothing-here cannot be read" in proof.problems[1]


def test_a_configured_command_means_the_same_everywhere(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    proc = subprocess.run(shell_argv("cd sub && pwd && X=1 sh -c 'echo $X'"), cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.split() == [str((tmp_path / "sub").resolve()), "1"]
