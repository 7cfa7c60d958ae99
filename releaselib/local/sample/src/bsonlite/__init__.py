"""A tiny BSON encoder and decoder.

bsonlite supports Python 3.8+ and a small subset of BSON: 32-bit integers,
strings and embedded documents. The C extension ``bsonlite._cbson`` packs and
unpacks the integers when it is available; the pure-Python module
``bsonlite._pure`` does everything else, and the integers too when the
extension was not built.
"""

import warnings

from bsonlite import _pure

__version__ = "1.0+dev"
version_tuple = (1, 0, '+')

try:
    from bsonlite import _cbson
except ImportError:  # built with BSONLITE_NO_EXT=1, or no compiler
    _cbson = None

__all__ = ["InvalidBSON", "decode", "dumps", "encode", "has_c_extension"]

InvalidBSON = _pure.InvalidBSON

if _cbson is not None:
    _pure.set_int32_codec(_cbson.encode_int32, _cbson.decode_int32)


def has_c_extension():
    """Whether the C extension is in use.

    .. versionadded:: 0.9
    """
    return _cbson is not None


def encode(document):
    """Encode a ``dict`` with ``str`` keys to BSON bytes.

    Values may be ``int`` (32-bit), ``str`` or ``dict``. Raises
    :exc:`OverflowError` for an integer outside the 32-bit range and
    :exc:`TypeError` for any other type.
    """
    return _pure.encode_document(document)


def decode(data):
    """Decode BSON bytes to a ``dict``.

    Raises :exc:`InvalidBSON` when ``data`` is not a well-formed document.

    .. versionadded:: 1.0+
       Embedded documents are decoded to nested ``dict`` values.
    """
    return _pure.decode_document(bytes(data))


def dumps(document):
    """Encode ``document``: the old name of :func:`encode`.

    .. deprecated:: 0.10
       Use :func:`encode`; ``dumps`` goes after four releases of warnings.
    """
    warnings.warn("bsonlite.dumps is deprecated: use bsonlite.encode", DeprecationWarning, stacklevel=2)
    return encode(document)
