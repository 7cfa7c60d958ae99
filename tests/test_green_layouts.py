"""End-to-end (issue 10): fixture projects of the layouts real libraries use, rehearsed with real local servers.

Each rehearsal runs every phase against a throwaway clone, a pypiserver, an
SMTP catcher and a docs server. The assertions read the record: the cells'
extension state and test counts, the files each cell imported (all from the
cell's environment, never the checkout), the install tests' imports.
"""

from __future__ import annotations

import pytest

from releaselib.cli import main
from releaselib.infra.interpreters import find_interpreter

from .green_projects import green_project, phase_values, record_of

pytestmark = pytest.mark.e2e

PY = "3.12"


@pytest.fixture(autouse=True)
def _python_here():
    if find_interpreter(PY) is None:
        pytest.skip(f"Python {PY} not installed here")


def rehearse(project, workdir, version, *extra: str) -> int:
    return main(["rehearse", version, "--repo", str(project.repo), "--workdir", str(workdir), *extra])


def cells_by_state(record):
    return {cell["extension"]: cell for cell in phase_values(record, "01_test")["matrix"]}


def assert_installed_imports(cell_or_test, *names):
    for name in names:
        where = cell_or_test["imported"][name]
        assert "site-packages" in where, (name, where)


def assert_install_tests_import_installed(record, *names, compiled=()):
    """05_build installed every built file and imported each name (and each wheel's compiled module) from it."""
    tests = phase_values(record, "05_build")["build"]["install_tests"]
    assert {t["filename"].endswith(".whl") for t in tests} == {True, False}, tests  # the sdist and the wheel
    for test in tests:
        assert test["passed"], test
        assert_installed_imports(test, *names)
        if test["filename"].endswith(".whl"):
            assert_installed_imports(test, *compiled)


def test_flat_layout_with_env_switch_rehearses_green_and_tests_the_installed_extension(tmp_path, capsys):
    project = green_project("flat_c", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.2")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-flatc", "0.2")
    cells = cells_by_state(record)
    with_ext, without = cells[True], cells[False]
    assert with_ext["result"] == without["result"] == "passed"
    # The C-only test runs only where the extension is in use: the counts differ.
    assert (with_ext["tests_passed"], without["tests_passed"]) == (3, 2)
    assert_installed_imports(with_ext, "flatc", "flatc._fast")
    assert_installed_imports(without, "flatc")
    assert "flatc._fast" not in without["imported"]
    # test-command is `cd tests && ...`: a shell command in both phases.
    assert_install_tests_import_installed(record, "flatc", compiled=["flatc._fast"])


def test_flat_layout_broken_compiled_module_fails_only_the_with_cells(tmp_path, capsys):
    project = green_project("flat_c", tmp_path)
    project.edit("flatc/_fast.c", "total += v * v;", "total += v * v + 1;")
    project.commit("Break the C implementation")

    code = main(["run", "0.2", "--repo", str(project.repo), "--outputs", str(tmp_path / "outputs"),
                 "--phases", "test"])

    assert code != 0
    record = record_of(tmp_path, "green-flatc", "0.2")
    cells = cells_by_state(record)
    assert cells[True]["result"] == "failed" and cells[True]["tests_failed"] == 1, cells[True]  # [] still sums to 0
    assert cells[False]["result"] == "passed", cells[False]


def test_pure_python_with_the_version_only_in_pyproject_rehearses_green(tmp_path, capsys):
    project = green_project("pure_pyproject", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.3")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-tally", "0.3")
    [cell] = phase_values(record, "01_test")["matrix"]
    assert cell["extension"] is None and cell["result"] == "passed" and cell["tests_passed"] == 2
    assert_installed_imports(cell, "tally")
    assert_install_tests_import_installed(record, "tally")
    verify = phase_values(record, "06_publish")["verified"]
    assert verify["installed_version"] == "0.3" and verify["imported_version"] == ""  # no __version__
    docs = phase_values(record, "07_docs")["docs"]
    assert docs["found"] and "green-tally 0.3 documentation" in docs["declared"][0]


def test_a_runtime_dependency_is_served_by_the_rehearsal_index(tmp_path, capsys):
    project = green_project("with_dep", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "1.0")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "Runtime dependencies served by the local index: six-" in " ".join(out.out.split())
    record = record_of(workdir, "green-greeting", "1.0")
    cells = cells_by_state(record)
    assert cells[True]["result"] == cells[False]["result"] == "passed"
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (3, 2)
    assert_installed_imports(cells[True], "greeting", "greeting._speed")
    assert_installed_imports(cells[False], "greeting")
    assert "greeting._speed" not in cells[False]["imported"]
    assert_install_tests_import_installed(record, "greeting", compiled=["greeting._speed"])
    # twine-strict = false: twine's warning is in the record and in the archived 05_build notebook.
    warnings = phase_values(record, "05_build")["build"]["twine_warnings"]
    assert warnings and all("long_description" in w for w in warnings), warnings
    assert "twine check warning (twine-strict = false)" in next((workdir / "outputs").rglob("05_build.ipynb")).read_text()
    verify = phase_values(record, "06_publish")["verified"]
    # The release's own file came from the local index, the same bytes as built.
    assert verify["sha256"] == verify["expected_sha256"] and verify["ok"]


def test_two_top_level_packages_both_import_from_the_installed_distribution(tmp_path, capsys):
    project = green_project("two_packages", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "2.0")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-alphabeta", "2.0")
    cells = cells_by_state(record)
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (3, 2)
    for cell in cells.values():
        assert_installed_imports(cell, "alpha", "beta")
    assert_installed_imports(cells[True], "alpha._core")
    assert_install_tests_import_installed(record, "alpha", "beta", compiled=["alpha._core"])


def test_src_layout_with_a_config_setting_switch_rehearses_green(tmp_path, capsys):
    project = green_project("src_setting", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.5")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-srcset", "0.5")
    cells = cells_by_state(record)
    assert cells[True]["result"] == cells[False]["result"] == "passed"
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (2, 1)
    assert_installed_imports(cells[True], "srcset", "srcset._fast")
    assert_installed_imports(cells[False], "srcset")
    assert "srcset._fast" not in cells[False]["imported"]
    assert_install_tests_import_installed(record, "srcset", compiled=["srcset._fast"])


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_global_option_switch_builds_the_without_cells_pure(tmp_path, capsys, monkeypatch, installer):
    """`--global-option` (pip's legacy build switch; uv and pip >= 25.3 have none) reaches setup.py either way."""
    monkeypatch.setenv("RELEASELIB_INSTALLER", installer)
    project = green_project("src_setting", tmp_path)
    project.edit("pyproject.toml", 'no-extension-config-settings = ["--build-option=--without-ext"]',
                 'no-extension-global-option = ["--without-ext"]')
    project.commit("Switch the extension off with a global option")

    code = main(["run", "0.5", "--repo", str(project.repo), "--outputs", str(tmp_path / "outputs"),
                 "--phases", "test"])

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    cells = cells_by_state(record_of(tmp_path, "green-srcset", "0.5"))
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (2, 1)
    assert_installed_imports(cells[True], "srcset", "srcset._fast")
    assert "srcset._fast" not in cells[False]["imported"]
    # The phase says how the option reached the build.
    notebook = next((tmp_path / "outputs").rglob("01_test.ipynb")).read_text()
    assert "--global-option --without-ext" in notebook
    assert "as the config setting --global-option=--without-ext" in notebook
    assert {"uv": "given to uv as", "pip": "given to pip (with --use-pep517) as"}[installer] in notebook


def test_a_project_testing_both_implementations_gets_one_cell_per_python(tmp_path, capsys):
    project = green_project("self_tested", tmp_path)
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "3.1")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    # The matrix table in the archived notebook says what the one cell per Python covers.
    notebook = next((workdir / "outputs").rglob("01_test.ipynb")).read_text()
    assert "the project's tests cover both" in notebook
    record = record_of(workdir, "green-both", "3.1")
    [cell] = phase_values(record, "01_test")["matrix"]
    # Each test runs on both implementations: twice the tests of either one.
    assert cell["extension"] is True and cell["result"] == "passed" and cell["tests_passed"] == 4
    assert_installed_imports(cell, "both", "both._fast")
    assert_install_tests_import_installed(record, "both", compiled=["both._fast"])


@pytest.mark.parametrize(("name", "version", "package", "source", "old", "new"), [
    ("two_packages", "2.0", "green-alphabeta", "alpha/_core.c", "2 * v", "3 * v"),
    ("src_setting", "0.5", "green-srcset", "src/srcset/_fast.c", "PySet_Size(set)", "PySet_Size(set) + 1"),
    ("self_tested", "3.1", "green-both", "both/_fast.c", "if (v > hi) v = hi;", ""),
    ("cython", "0.9", "green-cyt", "cyt/_fast.pyx", "total += i", "total += i + 1"),
    ("with_dep", "1.0", "green-greeting", "src/greeting/_speed.c", '"%U!"', '"%U?"'),
])
def test_a_broken_compiled_module_fails_only_the_with_cells(tmp_path, name, version, package, source, old, new):
    project = green_project(name, tmp_path)
    project.edit(source, old, new)
    project.commit("Break the C implementation")

    code = main(["run", version, "--repo", str(project.repo), "--outputs", str(tmp_path / "outputs"),
                 "--phases", "test"])

    assert code != 0
    cells = cells_by_state(record_of(tmp_path, package, version))
    # One cell per Python where the project's tests cover both implementations themselves.
    assert set(cells) == ({True} if name == "self_tested" else {True, False})
    assert cells[True]["result"] == "failed" and cells[True]["tests_failed"] >= 1, cells[True]
    if False in cells:
        assert cells[False]["result"] == "passed", cells[False]
    else:  # in the one cell, only the C half of the parametrized tests fails
        assert (cells[True]["tests_passed"], cells[True]["tests_failed"]) == (3, 1), cells[True]


def test_a_cython_extension_generated_by_the_pre_build_step_rehearses_green(tmp_path, capsys):
    project = green_project("cython", tmp_path)
    assert not (project.repo / "cyt" / "_fast.c").exists()  # generated, never in git
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.9")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-cyt", "0.9")
    cells = cells_by_state(record)
    assert cells[True]["result"] == cells[False]["result"] == "passed"
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (2, 1)
    assert_installed_imports(cells[True], "cyt", "cyt._fast")
    assert "cyt._fast" not in cells[False]["imported"]
    assert_install_tests_import_installed(record, "cyt", compiled=["cyt._fast"])
    build = phase_values(record, "05_build")["build"]
    assert build["pre_build"] == "cython -3 cyt/_fast.pyx"
    # Cython came from pre-build-requires (the cells' pre-build passed above): [build-system] requires has none.
    assert "Cython>=3" in (workdir / "outputs" / "green-cyt" / "0.9" / "logs" / "pre-build.log").read_text()
    assert (workdir / "outputs" / "green-cyt" / "0.9" / "logs" / "pre-build.log").is_file()


CYTHONIZE_SETUP = """\
import os

from setuptools import Extension, setup

# The build itself turns cyt/_fast.pyx into C: Cython is a build requirement.
if os.environ.get("CYT_NO_EXT") == "1":
    ext_modules = []
else:
    from Cython.Build import cythonize

    ext_modules = cythonize([Extension("cyt._fast", ["cyt/_fast.pyx"])], language_level=3)
setup(ext_modules=ext_modules)
"""


def test_a_cython_extension_built_from_the_pyx_by_the_build_rehearses_green(tmp_path, capsys):
    """No pre-build step: setup.py cythonizes, with Cython from [build-system] requires."""
    project = green_project("cython", tmp_path)
    (project.repo / "setup.py").write_text(CYTHONIZE_SETUP)
    # The sdist must carry the .pyx the wheel is built from (setuptools ships only the generated .c):
    # a project duty, as in any library that cythonizes in setup.py.
    (project.repo / "MANIFEST.in").write_text("include cyt/*.pyx\n")
    project.edit("pyproject.toml", 'pre-build = "cython -3 cyt/_fast.pyx"\n', "")
    project.edit("pyproject.toml", 'pre-build-requires = ["Cython>=3"]\n', "")
    project.edit("pyproject.toml", 'requires = ["setuptools>=64"]', 'requires = ["setuptools>=64", "Cython>=3"]')
    project.commit("Cythonize in setup.py")
    workdir = tmp_path / "rehearsal"

    code = rehearse(project, workdir, "0.9")

    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    record = record_of(workdir, "green-cyt", "0.9")
    cells = cells_by_state(record)
    assert (cells[True]["tests_passed"], cells[False]["tests_passed"]) == (2, 1)
    assert_installed_imports(cells[True], "cyt", "cyt._fast")
    assert "cyt._fast" not in cells[False]["imported"]
    # The sdist carries the .pyx, and the wheel built from it compiles.
    assert_install_tests_import_installed(record, "cyt", compiled=["cyt._fast"])
    assert phase_values(record, "05_build")["build"]["pre_build"] is None


@pytest.mark.parametrize(("name", "version", "said"), [
    ("flat_c", "0.2", "each again with FLATC_NO_EXT=1"),
    ("src_setting", "0.5", "each again with --config-settings --build-option=--without-ext"),
    ("self_tested", "3.1", "(the project's tests cover both implementations)"),
])
def test_the_plan_says_how_the_matrix_switches_the_extension(tmp_path, capsys, name, version, said):
    project = green_project(name, tmp_path)

    main(["plan", version, "--repo", str(project.repo)])

    assert said in " ".join(capsys.readouterr().out.split())
