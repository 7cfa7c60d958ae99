"""Count the words of a text. No __version__: importlib.metadata knows it."""

from collections import Counter


def tally(text):
    return Counter(text.lower().split())
