"""Tally: count the items of an iterable that pass a test."""

__version__ = "0.3.dev0"

try:
    from tally._speed import count_positive
    COMPILED = True
except ImportError:
    COMPILED = False

    def count_positive(values):
        return sum(1 for value in values if value > 0)
