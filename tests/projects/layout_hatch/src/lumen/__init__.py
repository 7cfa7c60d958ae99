"""Lumen."""

from lumen._version import __version__
