"""The test matrix: every configured Python, with and without the C extension.

Each cell of the matrix gets its own fresh virtual environment, installs the
project from the release commit (a ``git archive`` export, so stray files in
the working tree never reach a test), checks that the C extension is loaded,
or absent, as the cell claims, then runs the test command and the doctests.
A cell whose extension silently fell back to pure Python is a failure.

Speed without sharing state between cells: one seed environment per
interpreter holds the test tools and the build requirements; each cell gets a
copy of it. pip's cache serves third-party packages; the project itself is
always installed with ``--no-cache-dir`` (pip would otherwise reuse a wheel
built with the extension for a cell that asked for none).
"""


from releaselib.phases.matrix.cells import run_matrix
from releaselib.phases.matrix.environments import build_requires, export_commit
from releaselib.phases.matrix.results import (
    ERROR,
    EXTENSION_BUILD_FAILED,
    EXTENSION_NOT_LOADED,
    FAILED,
    PASSED,
    TIMEOUT,
    CellResult,
    MatrixCell,
    MatrixResult,
    parse_doctest_summary,
    parse_pytest_summary,
)

__all__ = [
    "ERROR",
    "EXTENSION_BUILD_FAILED",
    "EXTENSION_NOT_LOADED",
    "FAILED",
    "PASSED",
    "TIMEOUT",
    "CellResult",
    "MatrixCell",
    "MatrixResult",
    "build_requires",
    "export_commit",
    "parse_doctest_summary",
    "parse_pytest_summary",
    "run_matrix",
]
