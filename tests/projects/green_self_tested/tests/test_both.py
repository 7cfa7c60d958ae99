import pytest

from both import _fast, _pure  # the C module must be there: these tests cover both implementations


@pytest.fixture(params=[_pure, _fast], ids=["pure", "c"])
def impl(request):
    return request.param


def test_inside(impl):
    assert impl.clamp(5, 0, 10) == 5


def test_outside(impl):
    assert (impl.clamp(-3, 0, 10), impl.clamp(30, 0, 10)) == (0, 10)
