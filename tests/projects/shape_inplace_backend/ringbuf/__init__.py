"""Ringbuf: the sum of a ring of numbers."""

__version__ = "1.1.dev0"

try:
    from ringbuf._fast import ring_sum
    COMPILED = True
except ImportError:
    COMPILED = False

    def ring_sum(values, start=0):
        values = list(values)
        return sum(values[start:] + values[:start])
