import pytest

import flatc


def test_sum_squares():
    assert flatc.sum_squares([1, 2, 3]) == 14


def test_empty():
    assert flatc.sum_squares([]) == 0


@pytest.mark.skipif(not flatc.HAVE_C, reason="the C implementation only")
def test_c_rejects_non_integers():
    with pytest.raises(TypeError):
        flatc.sum_squares(["x"])
