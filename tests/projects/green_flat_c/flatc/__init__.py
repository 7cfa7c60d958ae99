"""Sums of squares, in C when the extension is built."""

__version__ = "0.2.dev0"

try:
    from flatc._fast import sum_squares
    HAVE_C = True
except ImportError:
    from flatc._pure import sum_squares
    HAVE_C = False

__all__ = ["sum_squares", "HAVE_C"]
