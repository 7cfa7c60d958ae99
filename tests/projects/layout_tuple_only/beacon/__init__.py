"""Beacon: signals for tiny programs."""

version_info = (1, 2, 1)
__version__ = ".".join(map(str, version_info))
