"""Quill: tiny text helpers."""


def _joined(parts):
    head = ".".join(parts[:3])
    return head + "".join(parts[3:])


__version_info__ = ("1", "4", "0", "rc1")
__version__ = _joined(__version_info__)


def shout(text):
    return text.upper() + "!"
