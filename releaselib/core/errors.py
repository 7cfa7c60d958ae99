"""One error tree for releaselib.

Library code raises these; only the CLI catches them and prints them. Every
error carries a message (what went wrong) and a hint (what to do next), so the
edge can print one clear paragraph and exit non-zero.
"""

from __future__ import annotations


class ReleaseError(Exception):
    """Base of every error releaselib raises on purpose.

    ``message`` says what went wrong; ``hint`` says what to do next.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nTIP: {self.hint}"
        return self.message


class UsageError(ReleaseError):
    """A command or parameter was given wrongly (unknown phase, bad flag value)."""

    exit_code = 2


class VersionError(ReleaseError):
    """A version string is not usable: not PEP 440, not newer, wrong form."""


class ConfigError(ReleaseError):
    """``[tool.releaselib]`` is malformed, or names files or patterns that do not exist."""


class RepoStateError(ReleaseError):
    """The repository is not in a state to release from (dirty, wrong branch, behind...)."""


class GitError(ReleaseError):
    """A git operation failed: rejected push, timeout, unknown ref."""


class ChangelogError(ReleaseError):
    """The changelog is missing, unparsable, or invalid reStructuredText/Markdown."""


class BuildError(ReleaseError):
    """Building or checking the distribution files failed."""


class PublishError(ReleaseError):
    """Uploading to, or verifying against, the package index failed."""


class DocsError(ReleaseError):
    """The published documentation did not show the new version in time."""


class AnnounceError(ReleaseError):
    """The announcement could not be rendered or sent."""


class MatrixError(ReleaseError):
    """The test matrix failed or an interpreter could not be found."""


class CompatibilityError(ReleaseError):
    """The release breaks the compatibility policy (an unwaived API change it does not allow)."""


class RecordError(ReleaseError):
    """The release record is missing, incomplete, or has been tampered with."""


class SecretLeak(RecordError):
    """A secret value was found in something about to be archived."""


class LockHeld(ReleaseError):
    """Another release of the same package is running."""


class PhaseFailed(ReleaseError):
    """A runbook did not complete; the message names the phase and the reason."""


class PreflightFailed(ReleaseError):
    """One or more preflight checks failed; ``problems`` lists each one."""

    def __init__(self, problems: list[ReleaseError]) -> None:
        self.problems = problems
        lines = [f"{len(problems)} preflight check(s) failed:"]
        for problem in problems:
            lines.append(f"  - {problem.message}")
            if problem.hint:
                lines.append(f"    TIP: {problem.hint}")
        hint = "Fix the problems above, then run the same command again; nothing was changed."
        super().__init__("\n".join(lines), hint=hint)
