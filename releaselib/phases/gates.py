"""Gates: what must be in the record before something leaves the machine.

A headless ``releaselib run`` tests (01_test) and builds and checks (05_build)
before it pushes a tag or uploads a file. A partial run (``--phases``) or a
phase stepped through by hand can skip those, so the phases that push a tag
(06_publish, 08_post_release) or upload a file (06_publish) ask
:func:`require_tested` first: the record must hold a successful, real (not dry
run) 01_test and 05_build for the tagged commit. The maintainer can override
it with ``allow_untested = True``; the override is recorded (the value
``allow_untested``) and every reader of the record shows it as unusual.
"""

from __future__ import annotations

from typing import Any

from releaselib.core.errors import RepoStateError
from releaselib.core.plan import Action, Plan

#: The recorded value that marks an override of the gate.
OVERRIDE_KEY = "allow_untested"
TEST_PHASE, BUILD_PHASE = "01_test", "05_build"


class UntestedRelease(RepoStateError):
    """The record holds no successful test or build for the commit about to leave the machine."""


def _parents(repo: Any, commit: str) -> set[str]:
    from releaselib.infra.git.repository import _git_ok

    line = _git_ok(repo, "rev-list", "--parents", "-n", "1", commit) or ""
    return set(line.split()[1:])


def _good_attempts(record: Any, phase: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in record.attempts(phase)
        if entry.get("result") == "succeeded" and not entry.get("dry_run")
    ]


def missing_checks(release: Any) -> list[str]:
    """What the record lacks before the tag may leave: one line per missing check, empty when none.

    05_build counts when a successful attempt ran with HEAD at the tagged
    commit (``commit_after``). 01_test runs before the BUMP commit exists, so
    it counts when it tested the tagged commit or its parent (the commit the
    BUMP commit was made on).
    """
    from releaselib.infra.git import commit_of
    from releaselib.record.store import Record

    try:
        tagged = commit_of(release.repo, release.tag)
    except Exception:  # noqa: BLE001 - no tag: nothing was tested for it
        return [f"the tag {release.tag} does not exist here, so nothing can have been tested for it"]
    record = Record.load(release.record_dir)
    short = tagged[:12]
    missing = []
    tests = _good_attempts(record, TEST_PHASE)
    allowed = {tagged} | _parents(release.repo, tagged)
    if not any(entry.get("commit_after") in allowed for entry in tests):
        detail = "no successful attempt" if not tests else "its successful attempts tested another commit"
        missing.append(f"{TEST_PHASE} (the tests) for {short}: {detail}")
    builds = _good_attempts(record, BUILD_PHASE)
    if not any(entry.get("commit_after") == tagged for entry in builds):
        detail = "no successful attempt" if not builds else "its successful attempts built another commit"
        missing.append(f"{BUILD_PHASE} (build and check) for {short}: {detail}")
    return missing


class TestedGate(Action):
    """The first action of every plan that pushes the tag or uploads a file.

    Done when the record holds a successful 01_test and 05_build for the
    tagged commit. Otherwise applying it refuses (:class:`UntestedRelease`,
    naming what is missing), or, with ``allow_untested``, records the
    override as the value ``allow_untested`` and lets the plan go on. A dry
    run shows it like any other action and changes nothing.
    """

    def __init__(self, release: Any, *, what: str, allow_untested: bool = False) -> None:
        self.release = release
        self.what = what
        self.allow_untested = bool(allow_untested)
        self._missing: list[str] | None = None

    def missing(self) -> list[str]:
        if self._missing is None:
            self._missing = missing_checks(self.release)
        return self._missing

    def describe(self) -> str:
        override = " (allow_untested = True: an override, recorded)" if self.allow_untested else ""
        return (
            f"check the record: {TEST_PHASE} and {BUILD_PHASE} succeeded for tag {self.release.tag} "
            f"before we {self.what}{override}"
        )

    def is_done(self) -> bool:
        self._missing = None  # the record may have changed since the plan was made
        return not self.missing()

    def apply(self) -> None:
        release, missing = self.release, self.missing()
        if self.allow_untested:
            release.record(OVERRIDE_KEY, {"what": self.what, "missing": missing})
            return
        raise UntestedRelease(
            f"Refusing to {self.what} of {release.config.package} {release.version}: the record "
            f"({release.record_dir}) has no proof it was tested and built:\n"
            + "\n".join(f"  - {line}" for line in missing),
            hint=f"Run the missing phases first (`releaselib run {release.version} --phases test,build`, "
            "or by hand with `releaselib open`), then this phase again. To go on untested anyway, pass "
            "`-p allow_untested=true` (or set allow_untested = True in the parameters cell); the record "
            "keeps the override and every review shows it.",
        )


def plan_tested(release: Any, *, what: str = "push the tag", allow_untested: bool = False) -> Plan:
    """The gate alone, as a plan: for a phase that changes files before it pushes
    (08_post_release), so a refusal comes before its first change."""
    plan = Plan(f"Tested and built before we {what}?")
    plan.add(TestedGate(release, what=what, allow_untested=allow_untested))
    return plan
