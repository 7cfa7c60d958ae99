"""releaselib.infra.git against real repositories, a real bare remote and real hanging servers."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from releaselib.core.errors import GitError, ReleaseError, RepoStateError
from releaselib.core.plan import Plan
from releaselib.infra import git as rgit

from .helpers import git as shared_git

IDENTITY = ("Rel Ease", "rel@example.com")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config, no identity from the environment."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    """The shared helper, with commits by the identity each repository configures (set_identity)."""
    return shared_git(cwd, *args, identity=False)


def set_identity(repo: Path) -> None:
    git(repo, "config", "user.name", IDENTITY[0])
    git(repo, "config", "user.email", IDENTITY[1])


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def clone(remote: Path, dest: Path) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(dest))
    set_identity(dest)
    return dest


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return bare


@pytest.fixture
def work(tmp_path: Path, remote: Path) -> Path:
    repo = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    set_identity(repo)
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    commit_file(repo, "version.txt", "2.1+\n", "start")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def remote_ref(remote: Path, ref: str) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref],
        cwd=remote,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def pids_with(marker: str) -> list[int]:
    """Processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, deadline_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        left = pids_with(marker)
        if not left:
            return []
        time.sleep(0.05)
    return pids_with(marker)


# -- open and small reads ---------------------------------------------------


def test_open_repo_refuses_a_plain_folder(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError) as info:
        rgit.open_repo(tmp_path)
    assert "not a git repository" in info.value.message
    assert "git init" in (info.value.hint or "")


def test_small_reads(work: Path, remote: Path) -> None:
    head = git(work, "rev-parse", "HEAD")
    assert rgit.head_commit(work) == head
    assert rgit.commit_of(work, "main") == head
    assert rgit.remote_url(work, "origin") == str(remote)
    assert rgit.remote_url(work, "upstream") is None
    assert rgit.user_identity(work) == IDENTITY
    with pytest.raises(GitError, match="does not name a commit"):
        rgit.commit_of(work, "no-such-ref")


# -- check_clean ------------------------------------------------------------


def test_check_clean_passes_and_ignores_ignored_files(work: Path) -> None:
    (work / "build.log").write_text("ignored\n")
    rgit.check_clean(work)


@pytest.mark.parametrize(
    ("make_dirty", "phrase"),
    [
        (
            lambda repo: (repo / "version.txt").write_text("changed\n"),
            "version.txt (modified)",
        ),
        (lambda repo: (repo / "new.txt").write_text("new\n"), "new.txt (untracked)"),
        (
            lambda repo: (
                (repo / "version.txt").write_text("staged\n"),
                git(repo, "add", "version.txt"),
            ),
            "version.txt (staged)",
        ),
    ],
    ids=["modified", "untracked", "staged"],
)
def test_check_clean_names_each_kind_of_change(
    work: Path, make_dirty, phrase: str
) -> None:
    make_dirty(work)
    with pytest.raises(RepoStateError) as info:
        rgit.check_clean(work)
    assert "not clean" in info.value.message
    assert phrase in info.value.message
    assert "stash" in (info.value.hint or "")


def test_check_clean_lists_at_most_ten_paths(work: Path) -> None:
    for i in range(13):
        (work / f"f{i:02d}.txt").write_text("x")
    with pytest.raises(RepoStateError) as info:
        rgit.check_clean(work)
    assert "f09.txt" in info.value.message
    assert "f10.txt" not in info.value.message
    assert "and 3 more" in info.value.message


# -- check_branch -----------------------------------------------------------


def test_check_branch(work: Path) -> None:
    rgit.check_branch(work, "main")
    git(work, "switch", "-q", "-c", "feature")
    with pytest.raises(RepoStateError) as info:
        rgit.check_branch(work, "main")
    assert "feature" in info.value.message and "main" in info.value.message
    assert info.value.hint and "git switch main" in info.value.hint


def test_check_branch_detached(work: Path) -> None:
    git(work, "switch", "-q", "--detach", "HEAD")
    with pytest.raises(RepoStateError) as info:
        rgit.check_branch(work, "main")
    assert "detached" in info.value.message
    assert rgit.short(rgit.head_commit(work)) in info.value.message
    assert "git switch main" in (info.value.hint or "")


# -- check_in_sync ----------------------------------------------------------


def test_check_in_sync_and_ahead(work: Path) -> None:
    assert "in sync with origin/main" in rgit.check_in_sync(
        work, "origin", "main", timeout=30
    )
    commit_file(work, "a.txt", "a", "local work")
    status = rgit.check_in_sync(work, "origin", "main", timeout=30)
    assert "1 commit ahead of origin/main" in status


def test_check_in_sync_behind(work: Path, remote: Path, tmp_path: Path) -> None:
    other = clone(remote, tmp_path / "other")
    commit_file(other, "b.txt", "b", "theirs 1")
    commit_file(other, "c.txt", "c", "theirs 2")
    git(other, "push", "-q", "origin", "main")
    with pytest.raises(RepoStateError) as info:
        rgit.check_in_sync(work, "origin", "main", timeout=30)
    assert info.value.message == "main is 2 commits behind origin/main."
    assert "git pull --ff-only" in (info.value.hint or "")


def test_check_in_sync_diverged(work: Path, remote: Path, tmp_path: Path) -> None:
    other = clone(remote, tmp_path / "other")
    commit_file(other, "b.txt", "b", "theirs")
    git(other, "push", "-q", "origin", "main")
    commit_file(work, "a.txt", "a", "mine")
    with pytest.raises(RepoStateError) as info:
        rgit.check_in_sync(work, "origin", "main", timeout=30)
    assert "diverged" in info.value.message
    assert "1 commit ahead and 1 commit behind" in info.value.message
    assert "rebase" in (info.value.hint or "")


def test_check_in_sync_without_remote_branch(work: Path) -> None:
    git(work, "switch", "-q", "-c", "release")
    with pytest.raises(RepoStateError, match="origin has no branch release"):
        rgit.check_in_sync(work, "origin", "release", timeout=30)


def test_check_in_sync_without_remote(work: Path) -> None:
    with pytest.raises(RepoStateError, match="no remote named upstream"):
        rgit.check_in_sync(work, "upstream", "main", timeout=30)


# -- tags on the remote -----------------------------------------------------


def test_check_tag_free_local(work: Path) -> None:
    rgit.check_tag_free(work, "2.2", "origin", timeout=30)
    git(work, "tag", "-a", "2.2", "-m", "Release 2.2")
    with pytest.raises(RepoStateError) as info:
        rgit.check_tag_free(work, "2.2", "origin", timeout=30)
    assert (
        info.value.message
        == f"Tag 2.2 already exists locally (at {rgit.short(rgit.head_commit(work))})."
    )
    assert "releaselib run 2.2 --resume" in (info.value.hint or "")


def test_check_tag_free_remote_only(work: Path, remote: Path, tmp_path: Path) -> None:
    other = clone(remote, tmp_path / "other")
    tagged = commit_file(other, "b.txt", "b", "BUMP 2.2")
    git(other, "tag", "-a", "v2.2", "-m", "Release 2.2")
    git(other, "push", "-q", "origin", "main", "v2.2")
    with pytest.raises(RepoStateError) as info:
        rgit.check_tag_free(work, "v2.2", "origin", timeout=30, version="2.2")
    assert str(info.value) == (
        f"Tag v2.2 already exists on origin (at {tagged[:7]}).\n"
        "TIP: Choose another version, or resume the release with `releaselib run 2.2 --resume`."
    )
    # Annotated: peeled to the commit, while the raw ref is the tag object.
    assert rgit.remote_tag_commit(work, "origin", "v2.2", timeout=30) == tagged
    assert rgit.remote_tag_object(work, "origin", "v2.2", timeout=30) == remote_ref(
        remote, "refs/tags/v2.2"
    )
    assert rgit.remote_tag_object(work, "origin", "v2.2", timeout=30) != tagged
    assert rgit.remote_tag_commit(work, "origin", "v2", timeout=30) is None
    assert rgit.remote_branch_commit(work, "origin", "main", timeout=30) == tagged
    assert rgit.remote_branch_commit(work, "origin", "nope", timeout=30) is None


# -- CommitAction -----------------------------------------------------------


def test_commit_action_commits_exactly_its_paths_then_reports_done(work: Path) -> None:
    (work / "version.txt").write_text("2.2\n")
    (work / "CHANGES.txt").write_text("2.2: things\n")
    (work / "unrelated.txt").write_text("not part of the release\n")
    action = rgit.CommitAction(work, ["version.txt", "CHANGES.txt"], "BUMP 2.2")
    assert not action.is_done()
    plan = Plan("commit", [action]).execute(dry_run=False)
    assert plan.outcomes == ["done"]
    assert git(work, "log", "-1", "--format=%s") == "BUMP 2.2"
    assert git(work, "log", "-1", "--format=%an <%ae>") == "Rel Ease <rel@example.com>"
    assert sorted(git(work, "show", "--name-only", "--format=", "HEAD").split()) == [
        "CHANGES.txt",
        "version.txt",
    ]
    assert git(work, "status", "--porcelain") == "?? unrelated.txt"
    # A re-run after the commit does nothing.
    assert rgit.CommitAction(work, ["version.txt", "CHANGES.txt"], "BUMP 2.2").is_done()


def test_commit_action_not_done_when_paths_changed_after_the_commit(work: Path) -> None:
    (work / "version.txt").write_text("2.2\n")
    rgit.CommitAction(work, ["version.txt"], "BUMP 2.2").apply()
    (work / "version.txt").write_text("2.2 edited\n")
    assert not rgit.CommitAction(work, ["version.txt"], "BUMP 2.2").is_done()


def test_commit_action_refuses_an_empty_commit(work: Path) -> None:
    action = rgit.CommitAction(work, ["version.txt"], "BUMP 2.2")
    assert not action.is_done()
    before = rgit.head_commit(work)
    with pytest.raises(GitError, match="Nothing to commit"):
        action.apply()
    assert rgit.head_commit(work) == before


def test_commit_action_needs_an_identity(work: Path) -> None:
    git(work, "config", "--unset", "user.name")
    git(work, "config", "--unset", "user.email")
    (work / "version.txt").write_text("2.2\n")
    with pytest.raises(GitError) as info:
        rgit.CommitAction(work, ["version.txt"], "BUMP 2.2").apply()
    assert "git config user.email" in (info.value.hint or "")
    assert git(work, "log", "-1", "--format=%s") == "start"


# -- TagAction --------------------------------------------------------------


def test_tag_action_creates_an_annotated_tag_then_reports_done(work: Path) -> None:
    action = rgit.TagAction(work, "2.2", "Release 2.2")
    assert not action.is_done()
    action.apply()
    assert action.is_done()
    assert git(work, "cat-file", "-t", "refs/tags/2.2") == "tag"
    assert rgit.commit_of(work, "2.2") == rgit.head_commit(work)
    assert rgit.tag_message(work, "2.2") == "Release 2.2"


def test_tag_action_at_another_commit_raises(work: Path) -> None:
    git(work, "tag", "-a", "2.2", "-m", "Release 2.2")
    old = rgit.head_commit(work)
    bump = commit_file(work, "version.txt", "2.2\n", "BUMP 2.2")
    action = rgit.TagAction(work, "2.2", "Release 2.2", what="the BUMP commit")
    with pytest.raises(GitError) as info:
        action.is_done()
    assert (
        info.value.message
        == f"Resume found tag 2.2 at {old[:7]}, but the BUMP commit is {bump[:7]}."
    )
    assert "git tag -d 2.2" in (info.value.hint or "")


# -- PushAction -------------------------------------------------------------


def test_push_action_pushes_branch_and_tag_then_reports_done(
    work: Path, remote: Path
) -> None:
    commit_file(work, "version.txt", "2.2\n", "BUMP 2.2")
    git(work, "tag", "-a", "2.2", "-m", "Release 2.2")
    action = rgit.PushAction(work, "origin", ["main", "2.2"], timeout=30)
    assert action.describe() == "push main, tag 2.2 to origin (atomic)"
    assert not action.is_done()
    action.apply()
    assert remote_ref(remote, "refs/heads/main") == rgit.head_commit(work)
    assert remote_ref(remote, "refs/tags/2.2") == git(
        work, "rev-parse", "refs/tags/2.2"
    )
    assert action.is_done()


def test_push_action_not_done_before_the_tag_exists(work: Path) -> None:
    # A dry run plans the push before the tag is made.
    action = rgit.PushAction(work, "origin", ["main", "refs/tags/2.2"], timeout=30)
    assert action.describe() == "push main, tag 2.2 to origin (atomic)"
    assert not action.is_done()
    with pytest.raises(GitError, match="Nothing to push for refs/tags/2.2"):
        action.apply()


def test_rejected_push_names_the_ref_and_changes_nothing(
    work: Path, remote: Path, tmp_path: Path
) -> None:
    other = clone(remote, tmp_path / "other")
    theirs = commit_file(other, "b.txt", "b", "pushed meanwhile")
    git(other, "push", "-q", "origin", "main")
    commit_file(work, "version.txt", "2.2\n", "BUMP 2.2")
    git(work, "tag", "-a", "2.2", "-m", "Release 2.2")
    action = rgit.PushAction(work, "origin", ["main", "2.2"], timeout=30)
    with pytest.raises(GitError) as info:
        action.apply()
    assert (
        "main rejected: fetch first — someone pushed to origin/main meanwhile"
        in info.value.message
    )
    assert "git pull --no-rebase" in (info.value.hint or "")
    assert remote_ref(remote, "refs/heads/main") == theirs
    assert remote_ref(remote, "refs/tags/2.2") is None
    assert not action.is_done()


# -- remotes that never answer, or want a password --------------------------


def test_push_to_a_silent_http_remote_times_out_and_leaves_no_process(
    work: Path, silent_server: int
) -> None:
    marker = f"silent-{uuid.uuid4().hex}"
    git(
        work,
        "remote",
        "add",
        "silent",
        f"http://127.0.0.1:{silent_server}/{marker}.git",
    )
    action = rgit.PushAction(work, "silent", ["main"], timeout=2)
    started = time.monotonic()
    with pytest.raises(GitError) as info:
        action.apply()
    assert time.monotonic() - started < 10
    assert info.value.message.startswith("silent did not answer within 2 s")
    assert "network" in (info.value.hint or "")
    assert wait_until_gone(marker) == []


def test_transport_helper_children_are_killed_on_timeout(work: Path) -> None:
    # ext:: runs a command as the transport; its grandchild `sleep` is what
    # GitPython's kill_after_timeout would leave behind.
    marker = f"{uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6:06d}"
    git(work, "config", "protocol.ext.allow", "always")
    git(work, "remote", "add", "hang", f"ext::sh -c sleep% {marker}")
    started = time.monotonic()
    with pytest.raises(GitError, match="hang did not answer within 1 s"):
        rgit.remote_branch_commit(work, "hang", "main", timeout=1)
    assert time.monotonic() - started < 10
    assert wait_until_gone(f"sleep {marker}") == []


class _AskForPassword(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="releases"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_remote_asking_for_a_password_fails_fast_instead_of_prompting(
    work: Path,
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AskForPassword)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        git(
            work,
            "remote",
            "add",
            "private",
            f"http://127.0.0.1:{server.server_address[1]}/repo.git",
        )
        started = time.monotonic()
        with pytest.raises(GitError) as info:
            rgit.remote_branch_commit(work, "private", "main", timeout=20)
        assert time.monotonic() - started < 10
        assert "terminal prompts disabled" in info.value.message
        assert "credential helper" in (info.value.hint or "")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_network_env_never_prompts() -> None:
    env = rgit.network_env(
        {"GIT_ASKPASS": "/usr/bin/ksshaskpass", "SSH_ASKPASS": "x", "PATH": "/bin"}
    )
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GCM_INTERACTIVE"] == "never"
    assert env["GIT_SSH_COMMAND"] == "ssh -oBatchMode=yes"
    assert "GIT_ASKPASS" not in env and "SSH_ASKPASS" not in env
    assert (
        rgit.network_env({"GIT_SSH_COMMAND": "ssh -i deploy_key"})["GIT_SSH_COMMAND"]
        == "ssh -i deploy_key"
    )


def test_push_refused_by_a_server_hook_names_the_reason(
    work: Path, remote: Path
) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'releases are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = remote_ref(remote, "refs/heads/main")
    commit_file(work, "version.txt", "2.2\n", "BUMP 2.2")
    git(work, "tag", "-a", "2.2", "-m", "Release 2.2")
    with pytest.raises(GitError) as info:
        rgit.PushAction(work, "origin", ["main", "2.2"], timeout=30).apply()
    assert "main remote rejected: pre-receive hook declined" in info.value.message
    assert "tag 2.2 remote rejected" in info.value.message
    assert remote_ref(remote, "refs/heads/main") == before
    assert remote_ref(remote, "refs/tags/2.2") is None
