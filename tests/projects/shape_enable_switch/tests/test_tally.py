import pytest

import tally


def test_counts_positive_items():
    assert tally.count_positive([3, -1, 0, 2]) == 2


def test_empty():
    assert tally.count_positive([]) == 0


@pytest.mark.skipif(not tally.COMPILED, reason="the C extension is not in use")
def test_the_compiled_module_is_in_use():
    assert tally.count_positive.__module__ in (None, "tally._speed") or "built-in" in repr(tally.count_positive)


def test_no_tool_of_the_release_tool_is_on_path():
    """wrapt's tests run `mypy` when it is on PATH: they must see the same tools in every phase."""
    import os

    forbidden = os.environ.get("SHAPE_FORBIDDEN_PATH")
    if forbidden:
        entries = [os.path.realpath(p) for p in os.environ["PATH"].split(os.pathsep) if p]
        assert os.path.realpath(forbidden) not in entries, f"{forbidden} is on PATH"
