"""Gale."""

__version__ = "1.3.1.dev0"
