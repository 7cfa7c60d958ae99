"""The pure-Python BSON codec, and the fallback for the C extension."""

import struct

_INT32 = struct.Struct("<i")

TYPE_STRING = 0x02
TYPE_DOCUMENT = 0x03
TYPE_INT32 = 0x10


class InvalidBSON(ValueError):
    """The bytes are not a well-formed BSON document."""


def encode_int32(value):
    """Pack ``value`` as a little-endian signed 32-bit integer."""
    if not -(2**31) <= value < 2**31:
        raise OverflowError(f"BSON int32 out of range: {value}")
    return _INT32.pack(value)


def decode_int32(data, offset):
    """Unpack the signed 32-bit integer at ``offset`` in ``data``."""
    return _INT32.unpack_from(data, offset)[0]


_encode_int32 = encode_int32
_decode_int32 = decode_int32


def set_int32_codec(encoder, decoder):
    """Use faster integer functions (the C extension's) from now on."""
    global _encode_int32, _decode_int32
    _encode_int32 = encoder
    _decode_int32 = decoder


def _cstring(text):
    raw = text.encode("utf-8")
    if b"\x00" in raw:
        raise ValueError("BSON keys must not contain NUL")
    return raw + b"\x00"


def encode_document(document):
    """Encode a ``dict`` to BSON bytes."""
    if not isinstance(document, dict):
        raise TypeError(f"expected a dict, got {type(document).__name__}")
    body = bytearray()
    for key, value in document.items():
        if not isinstance(key, str):
            raise TypeError(f"BSON keys must be str, got {type(key).__name__}")
        if isinstance(value, bool):
            raise TypeError("bool values are not supported by bsonlite")
        if isinstance(value, int):
            body += bytes([TYPE_INT32]) + _cstring(key) + _encode_int32(value)
        elif isinstance(value, str):
            raw = value.encode("utf-8") + b"\x00"
            body += bytes([TYPE_STRING]) + _cstring(key) + _encode_int32(len(raw)) + raw
        elif isinstance(value, dict):
            body += bytes([TYPE_DOCUMENT]) + _cstring(key) + encode_document(value)
        else:
            raise TypeError(f"cannot encode {type(value).__name__} values")
    return _encode_int32(len(body) + 5) + bytes(body) + b"\x00"


def _int32_at(data, offset):
    # Checked here, not in the codec, so both codecs raise the same error.
    if offset < 0 or offset + 4 > len(data):
        raise InvalidBSON(f"truncated int32 at offset {offset}")
    return _decode_int32(data, offset)


def _read_cstring(data, offset):
    end = data.find(b"\x00", offset)
    if end < 0:
        raise InvalidBSON(f"unterminated key at offset {offset}")
    return data[offset:end].decode("utf-8"), end + 1


def _decode_at(data, offset):
    """Decode the document at ``offset``; return it and the offset after it."""
    size = _int32_at(data, offset)
    end = offset + size
    if size < 5 or end > len(data) or data[end - 1] != 0:
        raise InvalidBSON(f"bad document length {size} at offset {offset}")
    document = {}
    position = offset + 4
    while position < end - 1:
        kind = data[position]
        key, position = _read_cstring(data, position + 1)
        if kind == TYPE_INT32:
            document[key] = _int32_at(data, position)
            position += 4
        elif kind == TYPE_STRING:
            length = _int32_at(data, position)
            start = position + 4
            position = start + length
            if length < 1 or position > end - 1 or data[position - 1] != 0:
                raise InvalidBSON(f"bad string length for key {key!r}")
            document[key] = data[start:position - 1].decode("utf-8")
        elif kind == TYPE_DOCUMENT:
            document[key], position = _decode_at(data, position)
        else:
            raise InvalidBSON(f"unsupported BSON type 0x{kind:02x} for key {key!r}")
    if position != end - 1:
        raise InvalidBSON(f"document overruns its length at offset {offset}")
    return document, end


def decode_document(data):
    """Decode BSON bytes holding exactly one document to a ``dict``."""
    document, end = _decode_at(data, 0)
    if end != len(data):
        raise InvalidBSON(f"{len(data) - end} trailing bytes after the document")
    return document
