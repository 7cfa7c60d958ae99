"""The compatibility policy, and the report of one release's API check.

The seed's policy, with its numbers configurable in ``[tool.releaselib.api]``:

- a bug-fix release (the last number moves: 2.1 -> 2.1.1) adds no public
  name, removes none and deprecates none;
- a public name is removed only after it was deprecated in at least
  ``deprecation-period`` (4) earlier releases, and an incompatible signature
  change counts as a removal;
- a major release (the first number moves) may break anything when
  ``major-may-break`` is true; what broke is listed.

A violation names the object, its file and line, the rule, and what to do.
A waiver (``[[tool.releaselib.api.waivers]]`` with ``object`` and ``reason``)
lets one violation through; it is kept in the record with its reason.
"""

from __future__ import annotations

import fnmatch
import html
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from releaselib.core.errors import CompatibilityError
from releaselib.phases.api.changes import ADDED, DEPRECATED, INCOMPATIBLE, REMOVED, ApiChange
from releaselib.phases.api.ledger import Ledger

__all__ = ["ApiReport", "Violation", "apply_waivers", "release_kind", "violations"]

BUGFIX, MINOR, MAJOR, FIRST = "bug-fix", "minor", "major", "first"


def release_kind(version: str, previous: str | None) -> str:
    """``major``, ``minor`` or ``bug-fix``: which number moved from ``previous`` to ``version``."""
    if previous is None:
        return FIRST
    new, old = Version(version).release, Version(previous).release
    new, old = new + (0,) * (3 - len(new)), old + (0,) * (3 - len(old))
    if new[0] != old[0]:
        return MAJOR
    if new[1] != old[1]:
        return MINOR
    return BUGFIX


@dataclass(frozen=True)
class Violation:
    """A change the policy refuses: which rule, and what to do about it."""

    change: ApiChange
    rule: str
    todo: str
    waiver: str | None = None  # the reason of the waiver that lets it through

    def as_record(self) -> dict[str, Any]:
        return {**self.change.as_record(), "rule": self.rule, "todo": self.todo, "waiver": self.waiver}

    def __str__(self) -> str:
        c = self.change
        text = f"{c.path} ({c.where}): {c.kind}{' - ' + c.detail if c.detail else ''}. Rule: {self.rule}. {self.todo}"
        return text + (f" [waived: {self.waiver}]" if self.waiver else "")


def _next_minor(version: str) -> str:
    release = Version(version).release
    return f"{release[0]}.{(release[1] if len(release) > 1 else 0) + 1}"


def _next_major(version: str) -> str:
    return f"{Version(version).release[0] + 1}.0"


def violations(
    changes: list[ApiChange], ledger: Ledger, *, version: str, kind: str, period: int, major_may_break: bool
) -> list[Violation]:
    """The changes the policy refuses, each with its rule and what to do (waivers not yet applied)."""
    found: list[Violation] = []
    waive = "or add a [[tool.releaselib.api.waivers]] entry with this object and a reason"
    for change in changes:
        if kind == BUGFIX and change.kind in (ADDED, DEPRECATED, REMOVED, INCOMPATIBLE):
            what = {ADDED: "adds no public API", DEPRECATED: "deprecates nothing",
                    REMOVED: "removes nothing", INCOMPATIBLE: "changes no signature incompatibly"}[change.kind]
            found.append(Violation(
                change,
                f"a bug-fix release {what}",
                f"Release it as {_next_minor(version)} (a minor release), or move this change after the "
                f"bug-fix release, {waive}.",
            ))
            continue
        if not change.breaks or kind == FIRST or (kind == MAJOR and major_may_break):
            continue
        releases = ledger.releases_deprecated(change.path, change.members)
        if len(releases) >= period:
            continue
        so_far = (f"deprecated in {len(releases)} release{'s' if len(releases) != 1 else ''} "
                  f"({', '.join(releases)})" if releases else "never deprecated")
        major = f", release it as {_next_major(version)} (a major release)" if major_may_break else ""
        found.append(Violation(
            change,
            f"a removal needs {period} releases of deprecation; {change.path} was {so_far}",
            f"Keep it and deprecate it first (warnings.warn(..., DeprecationWarning) while it still works)"
            f"{major}, {waive}.",
        ))
    return found


def apply_waivers(found: list[Violation], waivers: tuple[Any, ...], version: str) -> list[Violation]:
    """``found`` with each violation a waiver matches marked with the waiver's reason."""
    result = []
    for violation in found:
        reason = next(
            (w.reason for w in waivers
             if fnmatch.fnmatchcase(violation.change.path, w.object) and (not w.version or w.version == version)),
            None,
        )
        result.append(Violation(violation.change, violation.rule, violation.todo, reason) if reason else violation)
    return result


@dataclass
class ApiReport:
    """One release's API check: the changes, the ledger, and the verdict."""

    package: str
    version: str
    against: str | None  # the last release's tag
    kind: str
    period: int
    changes: list[ApiChange] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    seconds: float = 0.0
    enforce: bool = True  # [tool.releaselib.api] check = false: report, never refuse
    still_deprecated: list[str] = field(default_factory=list)  # deprecated names the release still has

    def count(self, *kinds: str) -> int:
        return sum(1 for c in self.changes if c.kind in kinds)

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if not v.waiver]

    @property
    def waived(self) -> list[Violation]:
        return [v for v in self.violations if v.waiver]

    @property
    def ok(self) -> bool:
        return not self.blocking

    def summary(self) -> str:
        """``3 additions, 1 deprecation, 0 removals — allowed for a minor release``."""
        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        removals = self.count(REMOVED, INCOMPATIBLE)
        parts = f"{n(self.count(ADDED), 'addition')}, {n(self.count(DEPRECATED), 'deprecation')}, {n(removals, 'removal')}"
        if self.kind == FIRST:
            return f"{parts} — first release, nothing to compare"
        release = f"a {self.kind} release"
        if self.blocking:
            return f"{parts} — refused for {release}: {n(len(self.blocking), 'violation')}"
        waived = f" with {n(len(self.waived), 'waiver')}" if self.waived else ""
        broke = " (it breaks what is listed)" if self.kind == MAJOR and removals else ""
        return f"{parts} — allowed for {release}{waived}{broke}"

    def raise_for_violations(self) -> None:
        """Raise :class:`CompatibilityError` listing every unwaived violation."""
        if self.ok or not self.enforce:
            return
        lines = [f"{self.package} {self.version} breaks the compatibility policy ({self.summary()}):"]
        lines += [f"  - {v}" for v in self.blocking]
        raise CompatibilityError(
            "\n".join(lines),
            hint="Each line says what to do. A waiver needs a reason: [[tool.releaselib.api.waivers]] "
            'object = "pkg.name", reason = "...", version = "' + self.version + '".',
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "against": self.against,
            "release_kind": self.kind,
            "deprecation_period": self.period,
            "summary": self.summary(),
            "additions": self.count(ADDED),
            "deprecations": self.count(DEPRECATED),
            "removals": self.count(REMOVED, INCOMPATIBLE),
            "allowed": self.ok,
            "changes": [c.as_record() for c in self.changes],
            "violations": [v.as_record() for v in self.blocking],
            "waivers": [v.as_record() for v in self.waived],
            "ledger": self.ledger.as_record(),
            "removable": [name for name, _, _ in self.removable()],
            "seconds": round(self.seconds, 3),
        }

    # -- showing -------------------------------------------------------------
    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """``(change, object, where, detail, verdict)`` per change, violations marked."""
        by_path = {(v.change.kind, v.change.path): v for v in self.violations}
        rows = []
        for c in self.changes:
            v = by_path.get((c.kind, c.path))
            verdict = "" if v is None else (f"waived: {v.waiver}" if v.waiver else "REFUSED (see below)")
            if v is None and c.breaks:
                since = self.ledger.releases_deprecated(c.path, c.members)
                verdict = f"ok: deprecated since {since[0]}" if since else f"ok: {self.kind} release"
            rows.append((c.kind, c.path, c.where, c.detail, verdict))
        return rows

    def removable(self) -> list[tuple[str, str, int]]:
        """``(name, since, releases)`` of names deprecated long enough to be removed in this release."""
        found = []
        for path in self.still_deprecated:
            releases = self.ledger.releases_deprecated(path)
            if len(releases) >= self.period and self.kind != BUGFIX:
                found.append((path, releases[0], len(releases)))
        return found

    def ledger_rows(self) -> list[tuple[str, str]]:
        """``(tag, deprecated names)`` of the releases that deprecated something; the rest are counted
        by :meth:`ledger_note`."""
        return [(e.tag, ", ".join(sorted(e.deprecated))) for e in self.ledger.entries if e.deprecated]

    def ledger_note(self) -> str:
        quiet = [e.tag for e in self.ledger.entries if not e.deprecated and not e.unreadable]
        unreadable = [e.tag for e in self.ledger.entries if e.unreadable]
        notes = []
        for tags, what in ((quiet, "deprecated nothing"), (unreadable, "could not be read (counted as no deprecation)")):
            if tags:
                span = tags[0] if len(tags) == 1 else f"{tags[0]} … {tags[-1]}"
                notes.append(f"{len(tags)} of {len(self.ledger.entries)} releases {what} ({span})")
        return "; ".join(notes)

    def __str__(self) -> str:
        head = f"{self.package} {self.version} against {self.against or '(no earlier release)'}: {self.summary()}"
        lines = [head]
        rows = self.rows()
        if rows:
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for r in rows:
                lines.append("  " + "  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
        else:
            lines.append("  no change to the public API")
        for v in self.blocking:
            lines.append(f"  REFUSED {v.change.path} ({v.change.where}): {v.rule}. {v.todo}")
        for name, since, count in self.removable():
            lines.append(f"  {name} may be removed now: deprecated since {since}, in {count} releases")
        if self.ledger.entries:
            lines.append("Deprecation ledger (names deprecated in each release):")
            lines += [f"  {tag:<12} {names}" for tag, names in self.ledger_rows()]
            if self.ledger_note():
                lines.append(f"  {self.ledger_note()}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        e = html.escape
        left = " style='text-align:left'"
        colour = "#1a7f37" if self.ok else "#cf222e"
        against = e(self.against or "no earlier release")
        out = [f"<p><b style='color:{colour}'>{e(self.summary())}</b> ({e(self.package)} {e(self.version)} against {against})</p>"]
        if self.changes:
            heads = "".join(f"<th{left}>{h}</th>" for h in ("change", "object", "where", "detail", "verdict"))
            out.append(f"<table><thead><tr>{heads}</tr></thead><tbody>")
            for row in self.rows():
                red = " style='text-align:left;color:#cf222e'" if row[4].startswith("REFUSED") else left
                out.append("<tr>" + "".join(f"<td{red if i == 4 else left}>{e(x)}</td>" for i, x in enumerate(row)) + "</tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p>No change to the public API.</p>")
        for v in self.blocking:
            out.append(f"<p style='color:#cf222e'>✘ <code>{e(v.change.path)}</code> ({e(v.change.where)}): {e(v.rule)}. {e(v.todo)}</p>")
        for v in self.waived:
            out.append(f"<p>⚠ <code>{e(v.change.path)}</code> ({e(v.change.where)}): {e(v.rule)}; waived: {e(v.waiver or '')}</p>")
        for name, since, count in self.removable():
            out.append(f"<p><code>{e(name)}</code> may be removed now: deprecated since {e(since)}, in {count} releases.</p>")
        if self.ledger.entries:
            out.append("<p><b>Deprecation ledger</b></p>")
        if self.ledger_rows():
            out.append(f"<table><thead><tr><th{left}>release</th><th{left}>deprecated names</th></tr></thead><tbody>")
            out += [f"<tr><td{left}>{e(t)}</td><td{left}>{e(n)}</td></tr>" for t, n in self.ledger_rows()]
            out.append("</tbody></table>")
        if self.ledger_note():
            out.append(f"<p>{e(self.ledger_note())}</p>")
        return "".join(out)
