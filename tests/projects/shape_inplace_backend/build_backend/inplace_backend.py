"""setuptools, plus: Cython only when the extension is built (a dynamic build requirement)."""

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 - every other hook as setuptools has it

PURE_PYTHON_ENV_VAR = "RINGBUF_NO_EXTENSIONS"
PURE_PYTHON_SETTING = "pure-python"


def _pure(config_settings):
    value = (config_settings or {}).get(PURE_PYTHON_SETTING, os.environ.get(PURE_PYTHON_ENV_VAR, ""))
    return str(value).lower() in {"1", "true", "on", "yes"}


def get_requires_for_build_wheel(config_settings=None):
    extra = [] if _pure(config_settings) else ["Cython>=3"]
    return _setuptools.get_requires_for_build_wheel(config_settings) + extra


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if not _pure(config_settings):
        from Cython.Build import cythonize

        cythonize(["ringbuf/_fast.pyx"], language_level=3)
    elif os.path.exists("ringbuf/_fast.c"):
        os.remove("ringbuf/_fast.c")
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
