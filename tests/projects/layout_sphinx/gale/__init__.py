"""Gale."""

__version__ = "1.4.dev0"
