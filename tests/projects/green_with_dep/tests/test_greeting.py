import pytest

import greeting


def test_greet():
    assert greeting.greet("you") == "Hello, you!"


def test_shout():
    assert greeting.shout("hi") == "HI!"


@pytest.mark.skipif(not greeting.HAVE_C, reason="the C implementation only")
def test_compiled_shout_takes_text_only():
    with pytest.raises(TypeError):
        greeting.shout(b"hi")
