"""publish: uploads to a real pypiserver on 127.0.0.1, and verification from it.

The files are the sample's (tag 1.0 of a sandbox), built once per module as a
pure wheel plus the sdist, so every test uploads real distributions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from releaselib.phases.build import (
    Artifact,
    _clean_env,
    _CurrentPython,
    build_sdist,
    build_wheel,
    checkout_release,
)
from releaselib.infra.config import load_config
from releaselib.engine.context import Release
from releaselib.core.errors import PublishError
from releaselib.core.plan import ALREADY_DONE, DONE
from releaselib.phases.publish import (
    UploadAction,
    check_credentials,
    plan_upload as gated_plan_upload,
    verify_from_index,
)
from releaselib.infra.index import index_files
from releaselib.local.sandbox import create_sandbox
from releaselib.local.servers import PackageIndex, free_port

USER_ENV = "RELEASELIB_TEST_INDEX_USER"
PASSWORD_ENV = "RELEASELIB_TEST_INDEX_PASSWORD"
PASSWORD = "canary-Zq81-password"


@dataclasses.dataclass
class Built:
    repo: Path
    artifacts: list[Artifact]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("publish")
    sandbox = create_sandbox(root / "sandbox")
    export = checkout_release(sandbox.repo, "1.0", root / "export")
    dist = root / "dist"
    env = _clean_env({"BSONLITE_NO_EXT": "1"})  # a pure wheel: fast, and installable on any Python
    sdist = build_sdist(export, dist, env=env)
    wheel = build_wheel(sdist.path, dist, _CurrentPython(), env=env)
    assert wheel.is_pure
    return Built(sandbox.repo, [sdist, wheel])


@pytest.fixture
def index(tmp_path: Path):
    with PackageIndex(tmp_path / "index", username="releaser", password=PASSWORD) as server:
        yield server


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, "releaser")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def release_for(built: Built, index: PackageIndex, record_dir: Path) -> Release:
    config = load_config(built.repo)
    publish = dataclasses.replace(
        config.publish,
        repository_url=index.upload_url,
        index_url=index.simple_url,
        username_env=USER_ENV,
        password_env=PASSWORD_ENV,
    )
    config = dataclasses.replace(config, publish=publish)
    return Release(version="1.0", repo=built.repo, config=config, dry_run=False, record_dir=record_dir)


def plan_upload(release: Release, artifacts: list[Artifact]):
    """The upload plan without its record gate (the gate is tested in test_gates.py)."""
    return gated_plan_upload(release, artifacts, gate=False)


def uploaded(index: PackageIndex, artifacts: list[Artifact]) -> bool:
    return index.files() == {a.filename: a.sha256 for a in artifacts}


def test_upload_puts_every_file_on_the_index_with_its_hash(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan = plan_upload(release, built.artifacts)

    assert [a.filename.endswith(".whl") for a in plan.actions] == [True, False]  # wheels before the sdist
    plan.execute(dry_run=False)

    assert plan.outcomes == [DONE, DONE]
    assert uploaded(index, built.artifacts)
    assert index_files(index.simple_url, "BsonLite") == {a.filename: a.sha256 for a in built.artifacts}


def test_the_files_of_a_release_go_up_in_one_twine_process(built, index, credentials, tmp_path):
    """twine starts in about half a second: one process for every file not yet on the index, not one each."""
    release = release_for(built, index, tmp_path / "record")
    wheel, sdist = sorted(built.artifacts, key=lambda a: not a.filename.endswith(".whl"))

    plan_upload(release, built.artifacts).execute(dry_run=False)

    log = (tmp_path / "record" / "logs" / "upload.log").read_text()
    [command] = [line for line in log.splitlines() if line.startswith("$ ") and " twine " in line]
    assert command.index(wheel.filename) < command.index(sdist.filename)  # wheels first, as planned
    assert uploaded(index, built.artifacts)


def test_a_file_refused_midway_is_named_and_a_rerun_uploads_only_the_rest(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    wheel, sdist = sorted(built.artifacts, key=lambda a: not a.filename.endswith(".whl"))
    # The index cannot store the sdist (a folder holds its name): it answers 500 after taking the wheel.
    (index.packages_dir / sdist.filename).mkdir()

    with pytest.raises(PublishError) as caught:
        plan_upload(release, built.artifacts).execute(dry_run=False)

    assert sdist.filename in caught.value.message and "500" in caught.value.message
    assert index.files() == {wheel.filename: wheel.sha256}
    (index.packages_dir / sdist.filename).rmdir()
    assert plan_upload(release, built.artifacts).execute(dry_run=False).outcomes == [ALREADY_DONE, DONE]
    assert uploaded(index, built.artifacts)


def test_dry_run_uploads_nothing(built, index, credentials, tmp_path):
    plan = plan_upload(release_for(built, index, tmp_path / "record"), built.artifacts)
    plan.execute(dry_run=True)
    assert plan.outcomes == ["would do", "would do"]
    assert index.files() == {}


def test_a_second_run_finds_everything_already_done(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan_upload(release, built.artifacts).execute(dry_run=False)
    log = tmp_path / "record" / "logs" / "upload.log"
    log_before = log.read_text()

    again = plan_upload(release, built.artifacts).execute(dry_run=False)

    assert again.outcomes == [ALREADY_DONE, ALREADY_DONE]
    assert log.read_text() == log_before  # twine was not run again
    assert uploaded(index, built.artifacts)


def test_same_name_with_other_content_stops_the_release(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan_upload(release, built.artifacts).execute(dry_run=False)
    sdist = built.artifacts[0]
    other = tmp_path / "other" / sdist.filename
    other.parent.mkdir()
    other.write_bytes(sdist.path.read_bytes() + b"\0")  # same name, different bytes
    changed = Artifact.from_path(other)

    with pytest.raises(PublishError) as caught:
        plan_upload(release, [changed]).execute(dry_run=False)

    assert sdist.filename in caught.value.message
    assert "different content" in caught.value.message
    assert "post-release" in caught.value.hint
    assert uploaded(index, built.artifacts)


def test_wrong_password_is_a_403_naming_the_index_and_changes_nothing(
    built, index, credentials, tmp_path, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    release = release_for(built, index, tmp_path / "record")

    with pytest.raises(PublishError) as caught:
        plan_upload(release, built.artifacts).execute(dry_run=False)

    error = caught.value
    assert "403" in error.message and index.upload_url in error.message
    assert PASSWORD_ENV in error.hint and "--resume" in error.hint
    assert "not-the-password" not in str(error)
    assert index.files() == {}
    # ...and once the password is fixed, the same plan finishes the job.
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert plan_upload(release, built.artifacts).execute(dry_run=False).outcomes == [DONE, DONE]
    assert uploaded(index, built.artifacts)


def test_passwords_never_reach_the_upload_log(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan_upload(release, built.artifacts).execute(dry_run=False)
    for path in (tmp_path / "record").rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace")


def test_an_index_that_is_down_is_named(built, credentials, tmp_path):
    port = free_port()
    action = UploadAction(
        path=built.artifacts[0].path,
        sha256=built.artifacts[0].sha256,
        package="bsonlite",
        repository_url=f"http://127.0.0.1:{port}/",
        simple_url=f"http://127.0.0.1:{port}/simple/",
        username_env=USER_ENV,
        password_env=PASSWORD_ENV,
    )
    with pytest.raises(PublishError, match=f"127.0.0.1:{port}"):
        action.is_done()
    with pytest.raises(PublishError, match=f"Cannot reach the upload URL http://127.0.0.1:{port}/"):
        action.apply()


def test_unknown_project_has_no_files(index):
    assert index_files(index.simple_url, "never-uploaded") == {}


def test_check_credentials_names_missing_variables_without_values(built, monkeypatch):
    config = load_config(built.repo)
    config = dataclasses.replace(
        config, publish=dataclasses.replace(config.publish, username_env=USER_ENV, password_env=PASSWORD_ENV)
    )
    monkeypatch.setenv(USER_ENV, "releaser")
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(PublishError) as caught:
        check_credentials(config)
    assert PASSWORD_ENV in caught.value.message
    assert USER_ENV not in caught.value.message
    assert "releaser" not in str(caught.value)

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert check_credentials(config) is None


def test_verify_from_index_installs_the_uploaded_file(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan_upload(release, built.artifacts).execute(dry_run=False)

    result = verify_from_index(release, built.artifacts)

    wheel = built.artifacts[1]
    assert result.ok
    assert result.file == wheel.filename
    assert result.sha256 == wheel.sha256
    assert result.installed_version == result.imported_version == "1.0"
    assert result.as_record()["ok"] is True
    # The sha256 is that of the file pip installed (its report): no second download to hash.
    assert "pip download" not in result.log.read_text()


def test_verify_from_index_catches_a_file_that_is_not_the_one_built(built, index, credentials, tmp_path):
    release = release_for(built, index, tmp_path / "record")
    plan_upload(release, built.artifacts).execute(dry_run=False)
    # The build was re-run after the upload: the record now holds other bytes under the same name.
    sdist, wheel = built.artifacts
    rebuilt = dataclasses.replace(wheel, sha256="0" * 64)

    with pytest.raises(PublishError) as caught:
        verify_from_index(release, [sdist, rebuilt])

    assert wheel.filename in caught.value.message
    assert "not the file that was built" in caught.value.message


def test_verify_from_index_ignores_the_machines_pip_configuration(built, index, credentials, tmp_path, monkeypatch):
    # Nothing uploaded: another index or find-links folder holding the file must not make this pass.
    links = tmp_path / "links"
    links.mkdir()
    for artifact in built.artifacts:
        shutil.copy(artifact.path, links)
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", links.as_uri())
    release = release_for(built, index, tmp_path / "record")

    with pytest.raises(PublishError, match="pip install"):
        verify_from_index(release, built.artifacts)
    assert os.environ["PIP_FIND_LINKS"] == str(links)


@pytest.mark.parametrize(("archive_info", "expected"), [
    ({"hashes": {"sha256": "ab" * 32}, "hash": "sha256=" + "ab" * 32}, "ab" * 32),  # pip >= 23
    ({"hash": "sha256=" + "cd" * 32}, "cd" * 32),  # the older field alone
    ({"hash": "md5=" + "ef" * 16}, None),  # not a sha256: downloaded and hashed here
    ({}, None),  # an old pip's report without a hash
])
def test_the_installed_files_sha256_is_read_from_pips_report(tmp_path, archive_info, expected):
    from releaselib.phases.verify_index import _installed_file

    report = tmp_path / "report.json"
    report.write_text(json.dumps({"install": [
        {"metadata": {"name": "six"}, "download_info": {"url": "http://x/six-1.0-py3-none-any.whl"}},
        {"metadata": {"name": "Demo_Pkg"}, "download_info": {
            "url": "http://127.0.0.1:1/packages/demo_pkg-1.0-py3-none-any.whl#sha256=" + "12" * 32,
            "archive_info": archive_info}},
    ]}))
    assert _installed_file(report, "demo-pkg") == ("demo_pkg-1.0-py3-none-any.whl", expected)


@pytest.mark.parametrize(("ours", "used"), [("26.3", True), ("22.3", True), ("22.2.2", False), (None, False)])
def test_verify_uses_our_pip_only_where_it_can_install_into_another_environment(monkeypatch, ours, used):
    """``pip --python`` came with pip 22.3: an older pip (or none) leaves the fresh environment a pip of its own."""
    import importlib.metadata

    from releaselib.phases import verify_index
    from releaselib.phases.build import _CurrentPython

    def version(name):
        if ours is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return ours

    monkeypatch.setattr(verify_index.importlib.metadata, "version", version)
    command = verify_index._pip_command(_CurrentPython())
    assert (command is not None) == used
    if used:
        assert command[1:] == ["-m", "pip"]
