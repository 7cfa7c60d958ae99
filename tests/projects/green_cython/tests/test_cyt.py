import pytest

import cyt


def test_triangle():
    assert cyt.triangle(4) == 10


@pytest.mark.skipif(not cyt.HAVE_C, reason="the Cython implementation only")
def test_compiled_rejects_text():
    with pytest.raises(TypeError):
        cyt.triangle("4")
