"""``init`` then ``plan`` as a new user runs them: a complete table, and every problem of every phase at once.

Each test starts from a corpus project (tests/projects/layout_*) made a real
git repository with a bare origin, runs the real CLI, and reads what the
user reads: the file ``init`` wrote, and ``plan``'s output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.infra.config.load import CONFIG_FILE_ENV
from releaselib.local.servers.index import PackageIndex

from .helpers import git
from .test_layouts import make_repo
from .test_preflight_layouts import shallow_clone

SECRETS = ("TWINE_USERNAME", "TWINE_PASSWORD", "RELEASELIB_SMTP_PASSWORD")


@pytest.fixture(autouse=True)
def config_file_env_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--config`` reaches the kernels through the environment; no test's file may leak into the next."""
    monkeypatch.setenv(CONFIG_FILE_ENV, "")
    monkeypatch.delenv(CONFIG_FILE_ENV)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)


def init_outside(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """``releaselib init --config FILE``: the configuration lives outside the repository, nothing to commit."""
    target = tmp_path / "conf" / f"{repo.name}.toml"
    target.parent.mkdir()
    assert main(["init", "--repo", str(repo), "--config", str(target)]) == 0
    said = capsys.readouterr().out
    assert f"`releaselib plan VERSION --config {target}`" in said, said  # the next command, whole, as it is typed
    return target


def plan(repo: Path, conf: Path, version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
         phases: str | None = None) -> tuple[int, str, str]:
    args = ["plan", version, "--repo", str(repo), "--outputs", str(tmp_path / "out"), "--config", str(conf)]
    code = main(args + (["--phases", phases] if phases else []))
    out = capsys.readouterr()
    return code, out.out, out.err


def problems(err: str) -> list[str]:
    """The problems plan lists at the end, one string each (its TIP included)."""
    return re.findall(r"^  - (.*(?:\n    TIP: .*)?)", err, flags=re.MULTILINE)


def uncomment_placeholders(conf: Path) -> None:
    """What a hurried user does: uncomment init's placeholder tables as written, FILL-IN values and all."""
    head, marker, tail = conf.read_text().partition("# Fill these in")
    assert marker, "init wrote no placeholder tables"
    lines = [re.sub(r"^# ?", "", line) if line.startswith("# ") and not line.startswith("# Fill") else line
             for line in (marker + tail).splitlines()]
    conf.write_text(head + "\n".join(line for line in lines if not line.startswith("# Fill")) + "\n")


def test_init_writes_every_table_and_its_placeholders_never_pass_plan(tmp_path: Path, capsys, no_credentials) -> None:
    repo = make_repo("layout_tuple_only", tmp_path)  # no classifiers, no requires-python: no Pythons to detect
    conf = init_outside(repo, tmp_path, capsys)
    text = conf.read_text()
    for table in ("# [matrix]", "# [docs-check]", "# [announce]"):
        assert table in text, f"init left out {table}:\n{text}"
    code, out, err = plan(repo, conf, "1.3.0", tmp_path, capsys)
    assert code != 0 and f"configuration: {conf}" in out
    found = problems(err)
    assert any("python is not set in [matrix]" in p for p in found), err
    assert any("url is not set in [docs-check]" in p for p in found), err
    assert any("smtp-host, sender, to are not set in [announce]" in p for p in found), err

    # Uncommented as written, the placeholders must not pass plan only to fail in 07_docs or 09_announce.
    uncomment_placeholders(conf)
    code, out, err = plan(repo, conf, "1.3.0", tmp_path, capsys)
    assert code != 0, out
    found = problems(err)
    assert any("[docs-check]" in p and "FILL-IN" in p for p in found), err
    assert any("[announce]" in p and "FILL-IN" in p for p in found), err
    assert all(str(conf) in p for p in found if "FILL-IN" in p), err  # the file to edit, by name
    assert git(repo, "status", "--porcelain") == ""


def test_plan_shows_every_phase_and_every_problem_at_once(tmp_path: Path, capsys, no_credentials) -> None:
    repo = make_repo("layout_setuppy_plus", tmp_path)
    conf = init_outside(repo, tmp_path, capsys)
    with PackageIndex(tmp_path / "index", password="not-used-here") as index:
        # The index already holds 2.2 (an earlier, half-finished attempt uploaded it).
        (index.packages_dir / "quill-2.2.tar.gz").write_bytes(b"an sdist")
        conf.write_text(conf.read_text().split("# Fill these in")[0] + (
            '[docs-check]\nurl = "http://127.0.0.1:9/quill/"\n\n'
            '[announce]\nsmtp-host = "127.0.0.1"\nuser = "releaser"\nsender = "quill@example.org"\n'
            'to = ["users@example.org", "dev@example.org"]\n\n'
            f'[publish]\nrepository-url = "{index.upload_url}"\nindex-url = "{index.simple_url}"\n'
        ))
        code, out, err = plan(repo, conf, "2.2", tmp_path, capsys)
    assert code != 0
    # What every phase would do, not only the git side.
    for line in (
        "01_test       `python -m pytest -q` on Python 3.10, 3.12, and each again with QUILL_NO_EXT=1",
        "02_changelog  the 2.2 section of doc/changelog.rst",
        "03_bump       set 2.2 in quill/__init__.py, setup.py",
        "04_commit_tag commit 'BUMP 2.2', tag 2.2",
        "05_build      sdist and one wheel per Python (3.10, 3.12) from 2.2",
        f"06_publish    push main and 2.2 to origin; upload to {index.upload_url}; install back from {index.simple_url}",
        "07_docs       wait for http://127.0.0.1:9/quill/ to show 2.2",
        "08_post_release set 2.2+, commit 'BUMP 2.2+', push",
        "09_announce   mail '[ANN] quill 2.2 released' to users@example.org, dev@example.org",
    ):
        assert line in out, f"{line!r} not in plan:\n{out}"
    found = problems(err)
    assert any("already has 2.2 of quill: quill-2.2.tar.gz" in p for p in found), err
    # Each missing credential once, and nothing else wrong.
    assert len([p for p in found if "TWINE_PASSWORD" in p]) == 1, err
    assert len([p for p in found if "RELEASELIB_SMTP_PASSWORD" in p]) == 1, err
    assert len(found) == 3, err

    # Credentials are asked only for the phases of the run.
    code, out, err = plan(repo, conf, "2.2", tmp_path, capsys, phases="preflight,changelog,bump,commit_tag")
    assert code == 0, err
    assert not any(name in out + err for name in SECRETS)
    assert git(repo, "status", "--porcelain") == ""


def test_plan_in_a_shallow_clone_compares_with_the_last_release_on_the_remote(tmp_path: Path, capsys) -> None:
    clone = shallow_clone(make_repo("layout_vtags", tmp_path), tmp_path)
    assert git(clone, "tag", "--list") == ""
    args = ["--repo", str(clone), "--outputs", str(tmp_path / "out"), "--phases", "preflight,bump"]
    assert main(["plan", "0.2.1", *args]) != 0
    err = capsys.readouterr().err
    assert "'0.2.1' is older than the last release '0.3'" in err and "first release" not in err
    assert main(["plan", "0.4", *args]) == 0
    out = capsys.readouterr().out
    assert "detected tag format: v{version} (from the existing tags)" in out and "0.4 > 0.3" in out


@pytest.mark.parametrize("command", ["init", "plan", "run"])
def test_a_failed_detection_tip_never_points_back_at_the_failed_command(tmp_path: Path, capsys, command: str) -> None:
    (tmp_path / "setup.py").write_text('from setuptools import setup\nsetup(name="kite", version=get_version())\n')
    args = {"init": ["init"], "plan": ["plan", "1.0"], "run": ["run", "1.0", "--phases", "bump"]}[command]
    if command != "init":
        args += ["--outputs", str(tmp_path / "out")]
    assert main([*args, "--repo", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "Looked for:" in err and "setup.py" in err
    tip = err.partition("TIP:")[2]
    assert "[[version-files]]" in tip and "pattern" in tip and "releaselib.toml" in tip
    assert 'path = "setup.py"' in tip  # the exact keys for this project, not a generic pkg/__init__.py
    assert f"releaselib {command}" not in tip and "releaselib init" not in tip


@pytest.mark.parametrize(
    ("template", "message"),
    [("Back to development", "Back to development"), ("Development of {version} begins", "Development of 3.1.1.dev begins")],
)
def test_the_post_release_message_may_omit_the_version_and_shows_what_the_files_will_hold(
    tmp_path: Path, capsys, monkeypatch, template: str, message: str
) -> None:
    from releaselib.engine.context import start
    from releaselib.infra.git import CommitAction
    from releaselib.phases import bump, commit

    repo = make_repo("layout_hatch", tmp_path)
    conf = init_outside(repo, tmp_path, capsys)
    conf.write_text(f"post-release-message = {template!r}\n" + conf.read_text())
    code, out, err = plan(repo, conf, "3.1.0", tmp_path, capsys, phases="preflight,post_release")
    assert code == 0, err
    assert f"08_post_release set 3.1.1.dev, commit {message!r}, push" in out
    monkeypatch.setenv(CONFIG_FILE_ENV, str(conf))  # what --config sets for the kernels
    release = start("plan", "3.1.0", repo=repo, outputs=tmp_path / "out")
    following = bump.next_version(release)
    commits = [a for a in commit.plan_post_release_commit(release, following).actions if isinstance(a, CommitAction)]
    assert following == "3.1.1.dev" and [a.message for a in commits] == [message]
    # An explicit -p next_version=... is what the files get and what the message shows.
    chosen = bump.next_version(release, "3.2.0.dev")
    planned = [a.new_value for a in bump.plan_next_dev(release, chosen).actions]
    commits = [a for a in commit.plan_post_release_commit(release, chosen).actions if isinstance(a, CommitAction)]
    assert planned == ["3.2.0.dev"] and [a.message for a in commits] == [message.replace("3.1.1.dev", "3.2.0.dev")]


def test_plan_names_a_matrix_python_this_machine_lacks_before_the_test_phase(tmp_path: Path, capsys) -> None:
    repo = make_repo("layout_tuple_only", tmp_path)
    conf = init_outside(repo, tmp_path, capsys)
    conf.write_text(conf.read_text().split("# Fill these in")[0] + '[matrix]\npython = ["3.12", "3.99"]\n')
    code, out, err = plan(repo, conf, "1.3.0", tmp_path, capsys, phases="preflight,test,changelog,bump")
    assert code != 0
    found = problems(err)
    assert len(found) == 1 and "3.99" in found[0], err
    assert "01_test       `python -m pytest -q` on Python 3.12, 3.99" in out


def test_plan_names_an_index_it_cannot_read(tmp_path: Path, capsys, no_credentials, silent_server: int) -> None:
    repo = make_repo("layout_tuple_only", tmp_path)
    conf = init_outside(repo, tmp_path, capsys)
    url = f"http://127.0.0.1:{silent_server}/simple/"  # accepts the connection, never answers
    head = conf.read_text().split("# Fill these in")[0]
    conf.write_text("push-timeout = 3.0  # network waits, the index's included\n" + head + f'[publish]\nindex-url = "{url}"\n')
    code, out, err = plan(repo, conf, "1.3.0", tmp_path, capsys, phases="preflight,changelog,bump,commit_tag,publish")
    assert code != 0
    found = problems(err)
    assert any(url in p for p in found), err
    assert len([p for p in found if "TWINE_PASSWORD" in p]) == 1, err
