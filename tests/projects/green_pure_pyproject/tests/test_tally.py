from importlib.metadata import version

import tally


def test_counts_words():
    assert tally.tally("a b A")["a"] == 2


def test_installed_version_is_known():
    assert version("green-tally")
