"""Triangle numbers, compiled by Cython when built."""

__version__ = "0.9.dev0"

try:
    from cyt._fast import triangle
    HAVE_C = True
except ImportError:
    from cyt._pure import triangle
    HAVE_C = False
