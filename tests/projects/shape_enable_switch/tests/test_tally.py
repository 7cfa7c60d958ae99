import pytest

import tally


def test_counts_positive_items():
    assert tally.count_positive([3, -1, 0, 2]) == 2


def test_empty():
    assert tally.count_positive([]) == 0


@pytest.mark.skipif(not tally.COMPILED, reason="the C extension is not in use")
def test_the_compiled_module_is_in_use():
    assert tally.count_positive.__module__ in (None, "tally._speed") or "built-in" in repr(tally.count_positive)
