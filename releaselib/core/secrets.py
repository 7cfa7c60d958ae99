"""Secrets: values that must never reach disk.

Credentials reach kernels through the environment only. Before a notebook or
a log is archived, it is scanned for the value of every environment variable
the configuration names as a secret; a hit fails the phase and only a
redacted copy is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "********"

#: Parameter names that look like credentials; such parameters are refused,
#: because papermill writes parameters into the notebook twice.
_SECRET_NAME = re.compile(r"pass(word)?|token|secret|api[_-]?key|credential", re.IGNORECASE)

# Values shorter than this are not scanned for: "1" or "x" would match everywhere.
_MIN_LENGTH = 4


def looks_like_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{env var name: value}`` for every named variable set to a scannable value."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in names:
        value = environ.get(name)
        if value and len(value) >= _MIN_LENGTH:
            found[name] = value
    return found


def find_secrets(text: str, secrets: Mapping[str, str]) -> list[str]:
    """The names of the secrets whose values occur in ``text``."""
    return [name for name, value in secrets.items() if value in text]


def redact(text: str, secrets: Mapping[str, str]) -> str:
    for value in sorted(secrets.values(), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
