import pytest

import srcset


def test_count_unique():
    assert srcset.count_unique([1, 2, 2, 3]) == 3


@pytest.mark.skipif(not srcset.HAVE_C, reason="the C implementation only")
def test_c_is_builtin_function():
    assert type(srcset.count_unique).__name__ == "builtin_function_or_method"
