"""Which runtime dependencies a rehearsal serves on its local index, and what it asks pip to learn them.

A ``[project]`` table whose ``dependencies`` are not ``dynamic`` states them
finally (PEP 621: no backend may add to them, a ``setup.py`` included), so the
project need not be built to know them; only where they are dynamic, or there
is no ``[project]`` table, does pip build the project's metadata.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from releaselib.local import rehearse

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "demo-deps"
version = "1.0"
{extra}
"""
SETUP_PY = "from setuptools import setup\nsetup(install_requires=['six'])\n"


def _project(tmp_path: Path, extra: str, *, setup_py: bool = True) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT.format(extra=extra))
    if setup_py:
        (project / "setup.py").write_text(SETUP_PY)
    return project


@pytest.fixture
def pip_calls(monkeypatch):
    """The pip commands the rehearsal runs, without running them (each writes an empty report)."""
    calls: list[list[str]] = []

    def fake_pip(args, log, what):
        calls.append(list(args))
        if "--report" in args:
            Path(args[args.index("--report") + 1]).write_text('{"install": []}')

    monkeypatch.setattr(rehearse, "_pip", fake_pip)
    return calls


def test_static_empty_dependencies_need_no_pip_even_beside_a_setup_py(tmp_path, pip_calls):
    project = _project(tmp_path, "dependencies = []")
    assert rehearse.serve_runtime_dependencies(project, tmp_path / "packages", "demo-deps", tmp_path / "d.log") == []
    assert pip_calls == []


def test_no_dependencies_key_and_no_dynamic_is_none(tmp_path, pip_calls):
    project = _project(tmp_path, "")
    assert rehearse.serve_runtime_dependencies(project, tmp_path / "packages", "demo-deps", tmp_path / "d.log") == []
    assert pip_calls == []


def test_static_dependencies_are_resolved_without_building_the_project(tmp_path, pip_calls):
    project = _project(tmp_path, 'dependencies = ["six>=1.16", "attrs; python_version > \'3\'"]')
    rehearse.serve_runtime_dependencies(project, tmp_path / "packages", "demo-deps", tmp_path / "d.log")
    [resolve] = pip_calls
    assert resolve[-2:] == ["six>=1.16", "attrs; python_version > '3'"]
    assert str(project) not in resolve


@pytest.mark.parametrize("extra", ['dynamic = ["dependencies"]', None])
def test_dynamic_dependencies_or_no_project_table_are_read_from_the_built_metadata(tmp_path, pip_calls, extra):
    if extra is None:
        project = tmp_path / "project"
        project.mkdir()
        (project / "setup.py").write_text(SETUP_PY)
    else:
        project = _project(tmp_path, extra)
    rehearse.serve_runtime_dependencies(project, tmp_path / "packages", "demo-deps", tmp_path / "d.log")
    [resolve] = pip_calls
    assert resolve[-1] == str(project)
