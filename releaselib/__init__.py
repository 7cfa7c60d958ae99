"""releaselib: release runbooks for Python libraries, as notebooks papermill runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from releaselib.core.errors import ReleaseError

if TYPE_CHECKING:
    from releaselib.engine.context import Release, start

__version__ = "0.1.0"

__all__ = ["Release", "ReleaseError", "__version__", "start"]


def __getattr__(name: str) -> Any:
    # `start` and `Release` are what a runbook's first cell imports; loaded on first use so that
    # commands reading a record (review, verify, status) do not pay for the engine, git and config.
    if name in ("Release", "start"):
        from releaselib.engine import context

        return getattr(context, name)
    raise AttributeError(f"module 'releaselib' has no attribute {name!r}")
