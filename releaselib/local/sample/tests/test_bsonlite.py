"""Round trips through bsonlite, with or without the C extension.

These tests import the installed package, so they test what was built.
"""

import bsonlite
import pytest
from bsonlite import _pure


def test_round_trip_of_ints_and_strings():
    document = {"answer": 42, "name": "bsonlite", "negative": -7, "empty": ""}
    assert bsonlite.decode(bsonlite.encode(document)) == document


def test_encoding_matches_the_bson_spec():
    # {"hello": "world"} from https://bsonspec.org/faq.html
    expected = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
    assert bsonlite.encode({"hello": "world"}) == expected


def test_unicode_strings_round_trip():
    document = {"sch\u00f6n": "\u65e5\u672c\u8a9e", "emoji": "\U0001f600"}
    assert bsonlite.decode(bsonlite.encode(document)) == document


def test_int32_limits_round_trip():
    document = {"min": -(2**31), "max": 2**31 - 1, "zero": 0}
    assert bsonlite.decode(bsonlite.encode(document)) == document


def test_nested_documents_round_trip():
    document = {"outer": {"inner": 1, "deeper": {"name": "x"}}, "after": 2}
    assert bsonlite.decode(bsonlite.encode(document)) == document


def test_int32_overflow_is_rejected():
    with pytest.raises(OverflowError):
        bsonlite.encode({"big": 2**31})
    with pytest.raises(OverflowError):
        bsonlite.encode({"small": -(2**31) - 1})


def test_truncated_data_is_invalid():
    data = bsonlite.encode({"a": 1, "b": "two"})
    with pytest.raises(bsonlite.InvalidBSON):
        bsonlite.decode(data[:-3])


def test_unsupported_values_are_rejected():
    with pytest.raises(TypeError):
        bsonlite.encode({"pi": 3.14})


def test_c_extension_agrees_with_pure_python():
    if not bsonlite.has_c_extension():
        pytest.skip("built without the C extension")
    from bsonlite import _cbson

    for value in (0, 1, -1, 2**31 - 1, -(2**31), 123456789):
        packed = _cbson.encode_int32(value)
        assert packed == _pure.encode_int32(value)
        assert _cbson.decode_int32(b"xx" + packed, 2) == value
    with pytest.raises(OverflowError):
        _cbson.encode_int32(2**31)


def test_dumps_still_works_and_warns():
    with pytest.warns(DeprecationWarning, match="use bsonlite.encode"):
        assert bsonlite.dumps({"a": 1}) == bsonlite.encode({"a": 1})
