"""The git actions of a release: commit, tag and push, each able to say whether it is already done."""


from __future__ import annotations

from dataclasses import dataclass

from releaselib.core.errors import GitError
from releaselib.core.plan import Action
from releaselib.infra.git.repository import (
    DEFAULT_TIMEOUT,
    RepoLike,
    _git,
    _git_ok,
    _ls_remote,
    _network_failure,
    _ref_sha,
    _require_remote,
    _run_network,
    commit_of,
    short,
    user_identity,
)


class CommitAction(Action):
    """Stage exactly ``paths`` and commit them with ``message``."""

    def __init__(self, repo: RepoLike, paths: list[str], message: str) -> None:
        if not paths:
            raise ValueError("CommitAction needs at least one path")
        self.repo = repo
        self.paths = [str(p) for p in paths]
        self.message = message

    def describe(self) -> str:
        shown = ", ".join(self.paths[:5]) + (
            f" and {len(self.paths) - 5} more" if len(self.paths) > 5 else ""
        )
        return f"commit {shown} as {self.message!r}"

    def _paths_changed(self) -> bool:
        return bool(
            _git(
                self.repo,
                "status",
                "--porcelain=v1",
                "--untracked-files=all",
                "--",
                *self.paths,
            )
        )

    def is_done(self) -> bool:
        """True when HEAD carries ``message`` and the paths hold nothing uncommitted."""
        head = _git_ok(self.repo, "log", "-1", "--format=%B", "HEAD")
        if head is None or head.strip() != self.message.strip():
            return False
        return not self._paths_changed()

    def apply(self) -> None:
        """Commit the paths. GitError when none of them changed or no identity is configured."""
        user_identity(self.repo)
        if not self._paths_changed():
            raise GitError(
                f"Nothing to commit for {self.message!r}: {', '.join(self.paths)} have no changes, "
                "and HEAD is not that commit.",
                hint="Run the step that writes those files first (the bump), then this one.",
            )
        # A path already removed from the index (towncrier `git rm`s its news fragments) is not added:
        # `git add` would refuse it as matching nothing; `commit --only` below takes its removal.
        known = _git(self.repo, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *self.paths)
        present = [path for path in known.split("\0") if path]
        if present:
            _git(self.repo, "add", "--all", "--", *present)
        # `--only` with the paths commits exactly them, whatever else the index holds.
        _git(
            self.repo,
            "commit",
            "--only",
            "-m",
            self.message,
            "--",
            *self.paths,
            hint="Read git's message above (a failing pre-commit hook, say), fix it, then run the phase again.",
        )


class TagAction(Action):
    """Create annotated tag ``tag`` with ``message`` at ``ref``.

    ``what`` names the commit in messages ("the BUMP commit"); default: ``ref``.
    """

    def __init__(
        self,
        repo: RepoLike,
        tag: str,
        message: str,
        ref: str = "HEAD",
        *,
        what: str | None = None,
    ) -> None:
        self.repo = repo
        self.tag = tag
        self.message = message
        self.ref = ref
        self.what = what or ref

    def describe(self) -> str:
        return f"annotated tag {self.tag} at {self.what}"

    def is_done(self) -> bool:
        """True when the tag points at ``ref``'s commit.

        Raises GitError when it exists at another commit: resuming must not
        silently release something else.
        """
        existing = _git_ok(
            self.repo,
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/tags/{self.tag}^{{commit}}",
        )
        if not existing:
            return False
        expected = commit_of(self.repo, self.ref)
        if existing != expected:
            raise GitError(
                f"Resume found tag {self.tag} at {short(existing)}, but {self.what} is {short(expected)}.",
                hint=f"Inspect both (`git show {self.tag}`). If the tag is wrong and was never pushed, "
                f"delete it with `git tag -d {self.tag}` and run the phase again; otherwise release another version.",
            )
        return True

    def apply(self) -> None:
        """Create the tag. GitError when no identity is configured or git refuses."""
        user_identity(self.repo)
        _git(
            self.repo,
            "tag",
            "--annotate",
            "-m",
            self.message,
            self.tag,
            commit_of(self.repo, self.ref),
        )


@dataclass(frozen=True)
class _Ref:
    spec: str  # as given
    local: str  # full local ref name
    remote: str  # full ref name on the remote

    @property
    def label(self) -> str:
        for prefix, kind in (("refs/heads/", ""), ("refs/tags/", "tag ")):
            if self.remote.startswith(prefix):
                return kind + self.remote[len(prefix) :]
        return self.remote


#: git's short reasons for a rejected ref, in words a maintainer can act on.
_REASONS = {
    "fetch first": "someone pushed to {remote}/{name} meanwhile",
    "non-fast-forward": "{remote}/{name} has commits your {name} does not",
    "already exists": "{remote} already has a different {name}",
    "atomic push failed": "not pushed, because another ref of this atomic push was rejected",
    "stale info": "{remote}/{name} changed since it was last fetched",
}


class PushAction(Action):
    """``git push --atomic --porcelain <remote> <refspecs>`` with a timeout.

    A refspec is a branch or tag name, a full ``refs/...`` name, or ``src:dst``.
    """

    def __init__(
        self,
        repo: RepoLike,
        remote: str,
        refspecs: list[str],
        timeout: float = DEFAULT_TIMEOUT,
        atomic: bool = True,
    ) -> None:
        if not refspecs:
            raise ValueError("PushAction needs at least one refspec")
        self.repo = repo
        self.remote = remote
        self.refspecs = list(refspecs)
        self.timeout = timeout
        self.atomic = atomic

    def _resolve(self, spec: str) -> _Ref:
        src, sep, dst = spec.partition(":")
        if src.startswith("refs/"):
            local = src
        elif _ref_sha(self.repo, f"refs/heads/{src}") is not None:
            local = f"refs/heads/{src}"
        elif _ref_sha(self.repo, f"refs/tags/{src}") is not None:
            local = f"refs/tags/{src}"
        else:
            local = src  # not there (yet): a dry run before the tag exists
        remote = local
        if sep:
            prefix = local.rsplit("/", 1)[0] + "/" if local.startswith("refs/") else ""
            remote = dst if dst.startswith("refs/") else prefix + dst
        return _Ref(spec, local, remote)

    def describe(self) -> str:
        labels = ", ".join(self._resolve(spec).label for spec in self.refspecs)
        return f"push {labels} to {self.remote}" + (" (atomic)" if self.atomic else "")

    def is_done(self) -> bool:
        """True when the remote has every ref at the local sha (a tag: the tag object).

        Raises GitError when the remote cannot be reached in time.
        """
        refs = [self._resolve(spec) for spec in self.refspecs]
        local = {ref.remote: _ref_sha(self.repo, ref.local) for ref in refs}
        if any(sha is None for sha in local.values()):
            return False
        remote = _ls_remote(
            self.repo, self.remote, [ref.remote for ref in refs], self.timeout
        )
        return all(remote.get(name) == sha for name, sha in local.items())

    def apply(self) -> None:
        """Push. GitError naming each rejected ref and why, or the timeout."""
        _require_remote(self.repo, self.remote)
        refs = [self._resolve(spec) for spec in self.refspecs]
        missing = [ref.spec for ref in refs if _ref_sha(self.repo, ref.local) is None]
        if missing:
            raise GitError(
                f"Nothing to push for {', '.join(missing)}: no such branch or tag here.",
                hint="Run the earlier phases (commit and tag) first, then this one.",
            )
        # --porcelain gives one stable line per ref ("!<tab>src:dst<tab>[rejected] (fetch first)"),
        # the only reliable way to know which ref failed and why: GitPython's
        # Remote.push does not raise on a rejected ref.
        args = ["push", "--porcelain"] + (["--atomic"] if self.atomic else [])
        args += [self.remote, *(f"{ref.local}:{ref.remote}" for ref in refs)]
        result = _run_network(self.repo, args, remote=self.remote, timeout=self.timeout)
        rejected = self._rejected(result.stdout, refs)
        if rejected:
            raise GitError(
                f"{self.remote} rejected the push: "
                + "; ".join(rejected)
                + ". Nothing on "
                + self.remote
                + " was changed"
                + (" (atomic push)." if self.atomic else " for those refs."),
                hint="Merge their work with `git pull --no-rebase` (a rebase would rewrite the tagged BUMP "
                "commit), check the result, then resume the release.",
            )
        if result.returncode != 0:
            raise _network_failure("Pushing to", self.remote, result)

    def _rejected(self, porcelain: str, refs: list[_Ref]) -> list[str]:
        labels = {ref.remote: ref.label for ref in refs}
        problems = []
        for line in porcelain.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "!":
                continue
            dst = parts[1].rsplit(":", 1)[-1]
            summary = parts[2].strip()
            # "[rejected] (fetch first)", "[remote rejected] (pre-receive hook declined)"
            kind = (
                summary[summary.find("[") + 1 : summary.find("]")]
                if "[" in summary
                else "rejected"
            )
            reason = (
                summary[summary.find("(") + 1 : summary.rfind(")")]
                if "(" in summary
                else summary
            )
            label = labels.get(dst, dst)
            explained = _REASONS.get(reason, "").format(
                remote=self.remote, name=label.removeprefix("tag ")
            )
            problems.append(
                f"{label} {kind}: {reason}" + (f" — {explained}" if explained else "")
            )
        return problems


__all__ = ["CommitAction", "PushAction", "TagAction"]
