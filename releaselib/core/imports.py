"""Keep optional dependencies nothing here uses from costing a second per process.

papermill imports nbformat, which imports jsonschema; jsonschema's format
checkers import optional modules when they are installed (jupyter-events asks
for them). Two are costly: ``rfc3987_syntax`` builds three Earley parsers for
the IRI grammar at import (about a second of CPU, several on a busy
machine), and ``isoduration`` pulls in ``arrow``. Every ``releaselib run``
and every test process paid for them. Nothing releaselib runs checks the
``iri``, ``iri-reference`` or ``duration`` formats (nbformat validates
notebooks without format checks), so the command line marks these modules
absent before anything imports jsonschema; jsonschema then simply has no
checker for those formats.
"""

from __future__ import annotations

import sys

__all__ = ["UNUSED_FORMAT_MODULES", "skip_iri_grammar"]

#: Imported only by jsonschema's optional format checkers, for formats nothing here checks.
UNUSED_FORMAT_MODULES = ("rfc3987_syntax", "isoduration")


def skip_iri_grammar() -> bool:
    """Mark :data:`UNUSED_FORMAT_MODULES` absent; False (nothing changed) once jsonschema is loaded."""
    if "jsonschema" in sys.modules or any(name in sys.modules for name in UNUSED_FORMAT_MODULES):
        return False
    for name in UNUSED_FORMAT_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]  # importing it raises ImportError
    return True
