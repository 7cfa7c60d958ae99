"""releaselib: release runbooks for Python libraries, as notebooks papermill runs."""

from __future__ import annotations

from releaselib.core.errors import ReleaseError
from releaselib.engine.context import Release, start

__version__ = "0.1.0"

__all__ = ["Release", "ReleaseError", "start", "__version__"]
