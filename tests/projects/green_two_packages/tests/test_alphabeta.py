import pytest

import alpha
import beta


def test_double():
    assert alpha.double(21) == 42


def test_quadruple():
    assert beta.quadruple(3) == 12


@pytest.mark.skipif(not alpha.HAVE_C, reason="the C implementation only")
def test_c_rejects_floats():
    with pytest.raises(TypeError):
        alpha.double(1.5)
