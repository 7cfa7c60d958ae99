"""The test requirements a project writes down for itself, so the matrix installs what its tests need.

frozenlist's pytest.ini loads ``pytest_cov`` (``-p pytest_cov``); with only
``pytest`` installed every cell stopped before its first test. Detection reads
the first of: a requirements file for tests (``-r`` includes followed, options
and local paths left out), a ``test``/``tests``/``testing`` dependency group,
or the extra of that name. ``pytest`` is added when the list lacks it (the
default test command is pytest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_FILES = (
    "requirements/test.txt", "requirements/tests.txt", "requirements/testing.txt", "requirements-test.txt",
    "requirements-tests.txt", "requirements_test.txt", "test-requirements.txt", "tests/requirements.txt",
)  # fmt: skip
_NAMES = ("test", "tests", "testing")
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def detect_test_requires(root: Path, data: Mapping[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """The test requirements and where they were read, or None when the project names none."""
    for relpath in _FILES:
        if (root / relpath).is_file():
            found = _read_requirements(root / relpath, root, set())
            if found:
                return _with_pytest(found), relpath
    groups = data.get("dependency-groups")
    project = data.get("project")
    extras = project.get("optional-dependencies") if isinstance(project, dict) else None
    for table, where in ((groups, "[dependency-groups]"), (extras, "[project.optional-dependencies]")):
        if not isinstance(table, dict):
            continue
        for name in _NAMES:
            items = table.get(name)
            if isinstance(items, list):
                found = [item for item in items if isinstance(item, str)]  # {include-group = ...} left out
                if found:
                    return _with_pytest(found), f"{where} {name}"
    return None


def _read_requirements(path: Path, root: Path, seen: set[Path]) -> list[str]:
    path = path.resolve()
    if path in seen or root.resolve() not in path.parents:
        return []
    seen.add(path)
    found: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        include = re.match(r"^(?:-r|--requirement)[\s=]+(\S+)$", line)
        if include:
            found += [item for item in _read_requirements(path.parent / include.group(1), root, seen)
                      if item not in found]  # fmt: skip
        elif not line.startswith(("-", ".", "/")) and _NAME_RE.match(line) and line not in found:
            found.append(line)  # options (-e, -c, --index-url) and local paths are not requirements of the tests
    return found


def _with_pytest(found: list[str]) -> tuple[str, ...]:
    matches = [_NAME_RE.match(item) for item in found]
    names = {match.group(1).lower().replace("_", "-") for match in matches if match is not None}
    return tuple(found if "pytest" in names else ["pytest", *found])
