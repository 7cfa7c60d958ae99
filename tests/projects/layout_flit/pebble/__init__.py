"""Pebble: small stones."""

__version__ = "0.8+dev"
