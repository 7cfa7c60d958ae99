"""Keep an optional dependency nothing here uses from costing a second per process.

papermill imports nbformat, which imports jsonschema; when ``rfc3987_syntax``
is installed (jupyter-events asks for it), jsonschema's format checkers
import it, and it builds three Earley parsers for the IRI grammar at import:
about a second of CPU, several on a busy machine, paid by every ``releaselib
run`` and every test process. Nothing releaselib runs checks the ``iri``
format (nbformat validates notebooks without format checks), so the command
line marks the module absent before anything imports jsonschema; jsonschema
then has no ``iri`` format checker, which nothing here asks for.
"""

from __future__ import annotations

import sys

__all__ = ["skip_iri_grammar"]

#: Imported only by jsonschema's optional "iri" and "iri-reference" format checkers.
IRI_GRAMMAR_MODULE = "rfc3987_syntax"


def skip_iri_grammar() -> bool:
    """Mark :data:`IRI_GRAMMAR_MODULE` absent; False (and nothing changed) once jsonschema is loaded."""
    if "jsonschema" in sys.modules or IRI_GRAMMAR_MODULE in sys.modules:
        return False
    sys.modules[IRI_GRAMMAR_MODULE] = None  # type: ignore[assignment]  # import raises ImportError
    return True
