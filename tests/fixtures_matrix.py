"""A tiny project with an optional C extension, for the test-matrix tests.

``make_tinyext(path)`` writes the project and makes it a git repository with
one commit. Its setup.py builds ``tinyext._speedups`` unless
``TINYEXT_NO_EXT=1``; ``tinyext.has_c_extension()`` says whether it loaded.
Knobs make the scenarios the tests need: a C file that does not compile (the
build is optional, so setuptools silently falls back to pure Python), and a
test that fails under one Python version only.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from releaselib.core.config_types import Config, MatrixConfig
from releaselib.engine.context import Release

NO_EXT_ENV = "TINYEXT_NO_EXT"

_SETUP = '''
import os
from setuptools import Extension, setup

ext_modules = []
if os.environ.get("TINYEXT_NO_EXT") != "1":
    # optional=True: a compiler error skips the extension instead of failing the build,
    # exactly the silent fallback the matrix must catch.
    ext_modules.append(Extension("tinyext._speedups", ["src/tinyext/_speedups.c"], optional={optional}))

setup(
    name="tinyext",
    version="0.1",
    package_dir={"": "src"},
    packages=["tinyext"],
    ext_modules=ext_modules,
)
'''

_PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"
'''

_C_SOURCE = '''
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
'''

_INIT = '''
"""tinyext: adds numbers, fast when it can."""

try:
    from tinyext._speedups import add
    _HAVE_EXT = True
except ImportError:
    _HAVE_EXT = False

    def add(a, b):
        """Add two integers.

        >>> add(2, 3)
        5
        """
        return a + b


def has_c_extension():
    return _HAVE_EXT
'''

_TESTS = '''
import sys

import tinyext


def test_add():
    assert tinyext.add(2, 3) == 5


def test_add_negative():
    assert tinyext.add(-2, 3) == 1


def test_version_specific():
    assert sys.version_info[:2] != {broken_on}, "broken on purpose under this Python"
'''

_USAGE = '''
Usage
=====

>>> import tinyext
>>> tinyext.add(1, 1)
2
'''


def make_tinyext(
    path: Path, *, broken_c: bool = False, fail_on: tuple[int, int] | None = None, required_ext: bool = False
) -> Path:
    """Write the tiny project at ``path`` and commit it; returns ``path``.

    ``broken_c``: the C file does not compile, so the extension is silently
    skipped. ``required_ext``: the extension is not optional, so a C error
    fails the build (as in the sample project). ``fail_on=(3, 12)``: one test
    fails under Python 3.12 only.
    """
    files = {
        "setup.py": _SETUP.replace("{optional}", str(not required_ext)),
        "pyproject.toml": _PYPROJECT,
        "src/tinyext/__init__.py": _INIT,
        "src/tinyext/_speedups.c": _C_SOURCE + ("\nthis is not C;\n" if broken_c else ""),
        "tests/test_tinyext.py": _TESTS.format(broken_on=repr(fail_on) if fail_on else "None"),
        "doc/usage.rst": _USAGE,
    }
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    git = ["git", "-C", str(path), "-c", "user.name=Test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tinyext 0.1"], check=True)
    return path


def tinyext_release(repo: Path, record_dir: Path, pythons: tuple[str, ...], **matrix: object) -> Release:
    """A :class:`Release` of the tiny project whose matrix runs on ``pythons``."""
    settings: dict[str, object] = {
        "python": pythons,
        "no_extension_env": NO_EXT_ENV,
        "extension_check": "import tinyext; print(tinyext.has_c_extension())",
        "test_command": "python -m pytest -q -p no:cacheprovider tests",
        "doctest_command": "python -m doctest -v doc/usage.rst",
        "timeout": 300.0,
    }
    settings.update(matrix)
    config = Config(root=repo, package="tinyext", import_name="tinyext", matrix=MatrixConfig(**settings))  # type: ignore[arg-type]
    return Release(version="0.1", repo=repo, config=config, dry_run=False, record_dir=record_dir, phase="01_test")
