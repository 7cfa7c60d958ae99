import pytest

import ringbuf


def test_sum_from_any_start():
    assert ringbuf.ring_sum([1, 2, 3], start=1) == 6


def test_empty_ring():
    assert ringbuf.ring_sum([]) == 0


@pytest.mark.skipif(not ringbuf.COMPILED, reason="the compiled module is not in use")
def test_the_compiled_module_is_in_use():
    assert "_fast" in type(ringbuf.ring_sum).__module__ or ringbuf.ring_sum.__module__ == "ringbuf._fast"
