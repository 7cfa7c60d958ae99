"""The sample's history before 1.0: releases that exercise the API check (phase 00a).

The sandbox (:mod:`releaselib.local.sandbox`) builds the sample's git history
by taking each step's text out of the shipped files and putting it back one
commit at a time. Before the 1.0 release come three minor releases: 0.10
deprecates ``bsonlite.dumps`` (the old name of ``encode``), 0.11 and 0.12
change nothing public. So by 1.1 the deprecation ledger shows ``dumps``
deprecated in four releases (0.10, 0.11, 0.12, 1.0): long enough, under the
seed's policy, for 1.1 to remove it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EARLY_RELEASES", "EarlyRelease", "Edit", "Step"]


@dataclass(frozen=True)
class Edit:
    """A change one history commit makes: ``earlier`` becomes ``final`` in ``path``."""

    path: str
    final: str
    earlier: str = ""


@dataclass(frozen=True)
class Step:
    """One commit of the history."""

    message: str
    date: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class EarlyRelease:
    """A release before 1.0: its commits, then ``BUMP <version>``, the tag, ``BUMP <version>+dev``."""

    version: str
    date: str
    steps: tuple[Step, ...]


def _changelog(version: str, body: str) -> Edit:
    title = f"Changes in Version {version}"
    return Edit("doc/changelog.rst", f"{title}\n{'-' * len(title)}\n\n{body}\n")


EARLY_RELEASES: tuple[EarlyRelease, ...] = (
    EarlyRelease(
        version="0.10",
        date="2023-04-10T12:00:00+00:00",
        steps=(
            Step(
                message="Deprecate dumps, the old name of encode",
                date="2023-04-03T10:00:00+00:00",
                edits=(
                    Edit("src/bsonlite/__init__.py", "import warnings\n\nfrom bsonlite import _pure",
                         "from bsonlite import _pure"),
                    Edit(
                        "src/bsonlite/__init__.py",
                        '''"""Encode ``document``: the old name of :func:`encode`.

    .. deprecated:: 0.10
       Use :func:`encode`; ``dumps`` goes after four releases of warnings.
    """
    warnings.warn("bsonlite.dumps is deprecated: use bsonlite.encode", DeprecationWarning, stacklevel=2)
''',
                        '''"""Encode ``document``: the old name of :func:`encode`."""
''',
                    ),
                    Edit(
                        "tests/test_bsonlite.py",
                        '''

def test_dumps_still_works_and_warns():
    with pytest.warns(DeprecationWarning, match="use bsonlite.encode"):
        assert bsonlite.dumps({"a": 1}) == bsonlite.encode({"a": 1})
''',
                    ),
                    _changelog(
                        "0.10",
                        "- ``bsonlite.dumps``, the old name of :func:`bsonlite.encode`, is deprecated:\n"
                        "  it warns with :exc:`DeprecationWarning` and goes after four releases.\n",
                    ),
                ),
            ),
        ),
    ),
    EarlyRelease(
        version="0.11",
        date="2023-07-10T12:00:00+00:00",
        steps=(Step("Add changelog for 0.11", "2023-07-03T10:00:00+00:00",
                    (_changelog("0.11", "- Clearer message for a truncated document.\n"),)),),
    ),
    EarlyRelease(
        version="0.12",
        date="2023-10-09T12:00:00+00:00",
        steps=(Step("Add changelog for 0.12", "2023-10-02T10:00:00+00:00",
                    (_changelog("0.12", "- Faster decoding of long strings.\n"),)),),
    ),
)
