"""Set sizes of unique items, in C when built."""

__version__ = "0.5.dev0"

try:
    from srcset._fast import count_unique
    HAVE_C = True
except ImportError:
    HAVE_C = False

    def count_unique(items):
        return len(set(items))
