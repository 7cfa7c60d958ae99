"""Quill: a tiny example library."""

version_tuple = (2, 1, '+')
__version__ = "2.1+"


def double(x):
    """Twice x. New in 2.1+."""
    return 2 * x
