"""What changed in the public API between two surfaces, classified.

Kinds of change:

``added``        a public name the release has and the last release did not
``removed``      a public name the last release had and the release does not
``incompatible`` a signature or kind change that breaks callers (a parameter
                 removed, moved, made required; a base class dropped; a
                 function turned into an attribute): it counts as a removal
``default``      a parameter's default value changed (listed; not a removal)
``changed``      an annotated type changed (listed; not a removal)
``deprecated``   a public name that warns now and did not in the last release

Below a removed or added module or class, its members are not listed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from releaselib.phases.api.surface import Surface

__all__ = ["ApiChange", "compare"]

ADDED, REMOVED, INCOMPATIBLE, DEFAULT, CHANGED, DEPRECATED = (
    "added", "removed", "incompatible", "default", "changed", "deprecated",
)
#: griffe's breakage kinds that change nothing a caller relies on, or that we list without judging.
_LISTED = {"PARAMETER_CHANGED_DEFAULT": DEFAULT, "ATTRIBUTE_CHANGED_TYPE": CHANGED, "RETURN_CHANGED_TYPE": CHANGED}
#: A constant's new value (``__version__``!) is not an API change.
_IGNORED = {"OBJECT_REMOVED", "ATTRIBUTE_CHANGED_VALUE"}


@dataclass(frozen=True)
class ApiChange:
    """One change to one public name."""

    kind: str
    path: str
    object_kind: str
    file: str
    line: int | None
    detail: str = ""
    members: tuple[str, ...] = ()  # of a removed module or class: the public names defined in it

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def breaks(self) -> bool:
        """Whether callers of the last release can break: a removal or an incompatible change."""
        return self.kind in (REMOVED, INCOMPATIBLE)

    def as_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "object": self.path, "type": self.object_kind, "file": self.file,
                "line": self.line, "detail": self.detail}


def _outermost(paths: set[str]) -> list[str]:
    """``paths`` without those below another of them (a removed class's methods)."""
    return sorted(p for p in paths if not any(p.startswith(q + ".") for q in paths if q != p))


def compare(old: Surface, new: Surface) -> list[ApiChange]:
    """Every change from ``old`` (the last release) to ``new`` (the release), sorted by kind and path."""
    import griffe

    changes: list[ApiChange] = []
    for path in _outermost(set(old.objects) - set(new.objects)):
        obj = old.objects[path]
        members = tuple(sorted(
            p for p, o in old.objects.items()
            if p.startswith(path + ".") and "." not in p[len(path) + 1:] and o.canonical == p
        ))
        changes.append(ApiChange(REMOVED, path, obj.kind, obj.file, obj.line, members=members))
    for path in _outermost(set(new.objects) - set(old.objects)):
        obj = new.objects[path]
        changes.append(ApiChange(ADDED, path, obj.kind, obj.file, obj.line))

    merged: dict[tuple[str, str], list[str]] = {}
    for breakage in griffe.find_breaking_changes(old.root, new.root):
        name = breakage.kind.name
        if name in _IGNORED:
            continue
        kind = _LISTED.get(name, INCOMPATIBLE)
        canonical = breakage.obj.path
        paths = [p for p in new.public_paths(canonical) if p in old.objects] or (
            [canonical] if canonical in new.objects and canonical in old.objects else []
        )
        detail = _explain(breakage)
        for path in paths:
            merged.setdefault((kind, path), [])
            if detail not in merged[(kind, path)]:
                merged[(kind, path)].append(detail)
    for (kind, path), details in merged.items():
        obj = new.objects[path]
        changes.append(ApiChange(kind, path, obj.kind, obj.file, obj.line, "; ".join(details)))

    for path, obj in new.deprecated().items():
        before = old.objects.get(path)
        if before is None or before.deprecated is None:
            assert obj.deprecated is not None
            changes.append(ApiChange(DEPRECATED, path, obj.kind, obj.file, obj.deprecated.line, obj.deprecated.how))
    order = [ADDED, DEPRECATED, REMOVED, INCOMPATIBLE, DEFAULT, CHANGED]
    return sorted(changes, key=lambda c: (order.index(c.kind), c.path))


def _explain(breakage: Any) -> str:
    """griffe's explanation in plain words, without colours: ``parameter c: added as required``."""
    what = breakage.kind.value.lower()
    name = getattr(breakage.new_value, "name", None) or getattr(breakage.old_value, "name", None)
    if breakage.kind.name.startswith("PARAMETER"):
        text = f"parameter {name}: {what}"
        if breakage.kind.name == "PARAMETER_CHANGED_DEFAULT":
            text += f" ({breakage.old_value.default} -> {breakage.new_value.default})"
        return text
    if breakage.kind.name == "CLASS_REMOVED_BASE":
        return f"{what}: {breakage.old_value}"
    return what
