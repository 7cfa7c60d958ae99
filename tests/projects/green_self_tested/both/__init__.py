"""Clamping, with a C and a pure implementation that the tests compare."""

__version__ = "3.1.dev0"

from both._pure import clamp as pure_clamp

try:
    from both._fast import clamp
except ImportError:
    clamp = pure_clamp
