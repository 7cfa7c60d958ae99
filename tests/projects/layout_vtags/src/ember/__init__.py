"""Ember: warm defaults."""

from importlib.metadata import version as _version

__version__ = _version("ember")
