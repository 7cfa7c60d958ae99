"""Pebble: small stones."""

__version__ = "0.9+dev"
