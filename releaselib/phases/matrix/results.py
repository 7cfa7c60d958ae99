"""What the test matrix reports: each cell's result, the grid, and the test summaries it reads."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from releaselib.core.errors import MatrixError
from releaselib.infra.interpreters import Interpreter

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
TIMEOUT = "timeout"

#: Reason given when a "with extension" cell ran on the pure-Python fallback.
EXTENSION_NOT_LOADED = "the C extension did not load (fell back to pure Python)"

#: Reason given when a "with extension" cell could not even build the extension.
EXTENSION_BUILD_FAILED = "the C extension did not load: its build failed"


@dataclass(frozen=True)
class MatrixCell:
    """One interpreter, with the extension (True), without it (False), or a pure project (None)."""

    interpreter: Interpreter
    extension: bool | None

    @property
    def name(self) -> str:
        """``py3.12-ext``, ``py3.12-noext``, or ``py3.12`` for a project without an extension."""
        if self.extension is None:
            return self.interpreter.label
        return f"{self.interpreter.label}-{'ext' if self.extension else 'noext'}"

    @property
    def log_name(self) -> str:
        return f"test-{self.name}.log"

    def describe(self) -> str:
        state = {True: "with the C extension", False: "without the C extension", None: ""}[self.extension]
        return f"Python {self.interpreter.requested} ({self.interpreter.version}) {state}".strip()


@dataclass(frozen=True)
class CellResult:
    """What one cell did. ``log`` is relative to the record folder (``logs/test-py3.12-ext.log``)."""

    python: str
    version: str
    extension: bool | None
    result: str  # "passed" | "failed" | "error" | "timeout"
    tests_passed: int | None
    tests_failed: int | None
    duration: float
    log: str
    reason: str = ""
    doctests_passed: int | None = None
    doctests_failed: int | None = None
    executable: str = ""
    imported: dict[str, str] = field(default_factory=dict)  # module -> file it was imported from

    @property
    def ok(self) -> bool:
        return self.result == PASSED

    @property
    def extension_label(self) -> str:
        return {True: "with extension", False: "without extension", None: "pure Python"}[self.extension]

    def counts(self) -> str:
        """``12 passed / 0 failed`` (``-`` when the test command never reported)."""
        if self.tests_passed is None and self.tests_failed is None:
            text = "-"
        else:
            text = f"{self.tests_passed or 0} passed / {self.tests_failed or 0} failed"
        if self.doctests_passed is not None or self.doctests_failed is not None:
            text += f"; doctests {self.doctests_passed or 0}/{self.doctests_failed or 0}"
        return text


@dataclass
class MatrixResult:
    """Every cell's result, plus the configured versions that were skipped."""

    cells: list[CellResult]
    skipped: list[str] = field(default_factory=list)
    commit: str = ""
    duration: float = 0.0
    self_tested: bool = False  # the project's own tests exercise both implementations in every cell
    switch: str = ""  # how the "without" cells switched the extension off (FOO_NO_EXT=1, --config-settings ...)
    switch_note: str = ""  # how that switch reached the build (which installer, as which config setting)

    @property
    def ok(self) -> bool:
        """True when there was at least one cell and every cell passed."""
        return bool(self.cells) and all(cell.ok for cell in self.cells)

    def failures(self) -> list[CellResult]:
        return [cell for cell in self.cells if not cell.ok]

    def as_record(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per cell, in matrix order."""
        return [asdict(cell) for cell in self.cells]

    def raise_for_failures(self) -> None:
        """Raise :class:`MatrixError` naming every failed cell, its reason and its log file."""
        failed = self.failures()
        if not failed:
            if not self.cells:
                raise MatrixError("The test matrix ran no cell.", hint="Configure at least one Python that is installed.")
            return
        lines = [f"{len(failed)} of {len(self.cells)} test matrix cell(s) failed:"]
        for cell in failed:
            lines.append(
                f"  - Python {cell.python} ({cell.version}) {cell.extension_label}: {cell.result}"
                f" - {cell.reason} (log: {cell.log})"
            )
        raise MatrixError(
            "\n".join(lines),
            hint="Read the log, fix the problem and commit, then resume with `releaselib run VERSION --resume`.",
        )

    # -- display ---------------------------------------------------------
    def _grid(self) -> tuple[list[str], list[bool | None], dict[tuple[str, bool | None], CellResult]]:
        pythons = list(dict.fromkeys(cell.python for cell in self.cells))
        states = [s for s in (True, False, None) if any(cell.extension is s for cell in self.cells)]
        return pythons, states, {(cell.python, cell.extension): cell for cell in self.cells}

    def _title(self, state: bool | None) -> str:
        if state is True and self.self_tested:
            return "with extension (the project's tests cover both)"
        return _STATE_TITLES[state]

    def __str__(self) -> str:
        pythons, states, by_key = self._grid()
        header = ["python"] + [self._title(s) for s in states]
        rows = [header]
        for python in pythons:
            row = [f"{python} ({_version_of(by_key, python)})"]
            for state in states:
                cell = by_key.get((python, state))
                row.append(
                    "" if cell is None else f"{cell.result.upper()} {cell.counts()} {cell.duration:.1f}s {cell.log}"
                )
            rows.append(row)
        for version in self.skipped:
            rows.append([version] + ["skipped (not found, allowed to be missing)"] + [""] * (len(states) - 1))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [f"Test matrix at {self.commit[:12] or '?'}: {'PASSED' if self.ok else 'FAILED'}"]
        lines += ["  ".join(text.ljust(widths[i]) for i, text in enumerate(r)).rstrip() for r in rows]
        if self.switch and False in states:
            lines.append(f"Without the extension: {self.switch}" + (f" ({self.switch_note})" if self.switch_note else ""))
        for cell in self.failures():
            lines.append(f"  {cell.python} {cell.extension_label}: {cell.reason}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        pythons, states, by_key = self._grid()
        head = "".join(f"<th>{html.escape(self._title(s))}</th>" for s in states)
        body = []
        for python in pythons:
            tds = []
            for state in states:
                cell = by_key.get((python, state))
                if cell is None:
                    tds.append("<td></td>")
                    continue
                colour = "#d4edda" if cell.ok else "#f8d7da"
                reason = f"<br><small>{html.escape(cell.reason)}</small>" if cell.reason else ""
                tds.append(
                    f'<td style="background:{colour}"><strong>{cell.result}</strong> '
                    f"{html.escape(cell.counts())} &middot; {cell.duration:.1f}s &middot; "
                    f'<a href="{html.escape(cell.log)}">log</a>{reason}</td>'
                )
            version = html.escape(_version_of(by_key, python))
            body.append(f"<tr><th>{html.escape(python)} <small>({version})</small></th>{''.join(tds)}</tr>")
        for version in self.skipped:
            body.append(
                f"<tr><th>{html.escape(version)}</th><td colspan={max(len(states), 1)}>"
                "<em>skipped: not found, allowed to be missing</em></td></tr>"
            )
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"<p><strong>Test matrix</strong> at <code>{html.escape(self.commit[:12])}</code>: {verdict}"
            f" ({len(self.cells)} cells, {self.duration:.1f}s)</p>"
            f"<table><thead><tr><th>Python</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + (f"<p>Without the extension: <code>{html.escape(self.switch)}</code>"
               + (f" ({html.escape(self.switch_note)})" if self.switch_note else "") + "</p>"
               if self.switch and False in states else "")
        )


_STATE_TITLES = {True: "with extension", False: "without extension", None: "tests"}


def _version_of(by_key: dict[tuple[str, bool | None], CellResult], python: str) -> str:
    return next((cell.version for (p, _), cell in by_key.items() if p == python), "")


# -- summary parsing ---------------------------------------------------------
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")
_PYTEST_SUMMARY = re.compile(r"\b\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b.* in [\d.]+s")
_DOCTEST_TOTAL = re.compile(r"^(\d+) tests? in \d+ items?\.$", re.MULTILINE)
_DOCTEST_FAILED = re.compile(r"\*\*\*Test Failed\*\*\* (\d+) failures?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def parse_pytest_summary(output: str) -> tuple[int, int] | None:
    """(passed, failed) from pytest's last summary line (``5 passed, 1 failed in 0.12s``).

    Errors count as failures. Returns None when no summary line is found.
    """
    lines = [line for line in _ANSI.sub("", output).splitlines() if _PYTEST_SUMMARY.search(line)]
    if not lines:
        if re.search(r"\bno tests ran\b", output):
            return (0, 0)
        return None
    passed = failed = 0
    for number, kind in _PYTEST_COUNT.findall(lines[-1]):
        if kind == "passed":
            passed += int(number)
        else:
            failed += int(number)
    return passed, failed


def parse_doctest_summary(output: str) -> tuple[int, int] | None:
    """(passed, failed) examples from ``python -m doctest -v`` output, or None.

    Reads the "N tests in M items." total and the "***Test Failed*** K
    failures" line, whose wording is the same from 3.6 to 3.13 (the
    "passed and failed" line is not).
    """
    output = _ANSI.sub("", output)
    failures = _DOCTEST_FAILED.findall(output)
    failed = int(failures[-1]) if failures else 0
    totals = _DOCTEST_TOTAL.findall(output)
    if totals:
        return int(totals[-1]) - failed, failed
    if failures:
        return 0, failed
    return None


