"""Doubling, in C when built."""

__version__ = "2.0.dev0"

try:
    from alpha._core import double
    HAVE_C = True
except ImportError:
    HAVE_C = False

    def double(n):
        return 2 * n
