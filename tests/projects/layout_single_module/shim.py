"""Shim: one module that smooths over differences between Python versions."""

import sys

__author__ = "Release Manager"
__version__ = "0.4.0"
__license__ = "MIT"

PY312 = sys.version_info >= (3, 12)


def text_type():
    return str
