"""The maintainer at the keyboard: `releaselib open` starts a real JupyterLab, a real
browser (Debian's Chromium, driven by Playwright) steps through the phase with
the keyboard, `releaselib archive` puts it into the record.

04_commit_tag is run by hand, first as a dry run, then for real (one edit of the
one parameters cell); then 08_post_release by hand, which the gate refuses: no
test or build succeeded in the record, so the release tag stays on this machine.
Screenshots of each notebook go to the test's folder (``screenshots/``).
Everything started here (Lab, its kernels, Chromium) is stopped here, and the
test fails if any of it is left running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from releaselib.cli import main
from releaselib.local.sandbox import create_sandbox
from releaselib.record import audit
from releaselib.record import verify as verifying

from .helpers import git

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PACKAGE, VERSION = "bsonlite", "1.1"
WAIT_MS = 240_000  # a loaded machine starts kernels slowly

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(`make test` installs it as root: apt-get install -y chromium)"),
]


# -- processes this test starts, and proof that none is left ----------------------
def processes_mentioning(marker: str) -> dict[int, str]:
    """PID -> command line of every process whose command line contains ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found[int(entry.name)] = cmdline
    return found


class Lab:
    """`releaselib open PHASE VERSION -- --no-browser [--allow-root]`, its URL, and its stop."""

    def __init__(self, root: Path, repo: Path, outputs: Path, phase: str) -> None:
        self.log = root / f"open-{phase}.log"
        # Kernels' connection files under this test's folder (so its processes are recognisable as
        # ours), and Lab's settings, workspaces and signing key there too, not in the user's home.
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_DATA_DIR=str(root / "data"),
                   JUPYTERLAB_SETTINGS_DIR=str(root / "lab-settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(root / "lab-workspaces"))
        extra = ["--no-browser", *(["--allow-root"] if os.geteuid() == 0 else [])]
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "releaselib.cli", "open", phase, VERSION, "--repo", str(repo),
                 "--outputs", str(outputs), "--", *extra],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
            )
        self.url = self._url()
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        """The URL is printed before Lab starts; wait until its API answers."""
        import urllib.request

        api = re.sub(r"/lab/tree/[^?]+", "/api/status", self.url)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(api, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not start:\n{self.log.read_text()}")

    def _url(self) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            match = re.search(r"^\s*(http://127\.0\.0\.1:\d+/lab/tree/\S+)$", self.log.read_text(), re.MULTILINE)
            if match:
                return match.group(1)
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"releaselib open printed no URL:\n{self.log.read_text()}")

    def url_of(self, notebook: Path) -> str:
        return re.sub(r"/lab/tree/[^?]+", f"/lab/tree/{notebook.name}", self.url)

    def stop(self) -> None:
        """SIGTERM to `releaselib open`, which hands it to Lab, which shuts its kernels down."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


# -- JupyterLab, at the keyboard -----------------------------------------------------
class Notebook:
    """One notebook open in Lab; cells run one by one with Shift+Enter."""

    def __init__(self, page, path: Path) -> None:
        self.page, self.path = page, path
        self.nb = nbformat.read(path, as_version=4)
        self.executed = 0  # the kernel's execution counter
        self.cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
        page.get_by_text(re.compile(r"\| Idle")).first.wait_for(timeout=WAIT_MS)  # kernel started
        assert self.cells.count() == len(self.nb.cells)

    def select(self, index: int) -> None:
        self.page.keyboard.press("Escape")
        self.cells.nth(index).locator(".jp-InputPrompt").first.click()

    def run(self, stop_after: int | None = None) -> None:
        """From the first cell: Shift+Enter on each (Ctrl+Enter on the last), waiting for
        every code cell's execution count, as a person reading each result would."""
        self.select(0)
        last = len(self.nb.cells) - 1 if stop_after is None else stop_after
        for index in range(last + 1):
            self.page.keyboard.press("Control+Enter" if index == len(self.nb.cells) - 1 else "Shift+Enter")
            if self.nb.cells[index].cell_type == "code":
                self.executed += 1
                prompt = self.cells.nth(index).locator(".jp-InputPrompt").first
                prompt.filter(has_text=f"[{self.executed}]").wait_for(timeout=WAIT_MS)

    def set_parameter(self, old: str, new: str) -> None:
        """Edit the one parameters cell: select all of it and type it anew with ``old`` made ``new``."""
        index = next(i for i, c in enumerate(self.nb.cells) if "parameters" in c.metadata.get("tags", []))
        source = self.nb.cells[index].source
        lines = [line.replace(old, new) if line.startswith(old) else line for line in source.splitlines()]
        assert lines != source.splitlines(), f"no line starts with {old!r}"
        self.cells.nth(index).locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text("\n".join(lines))
        self.page.keyboard.press("Escape")

    def save(self, *, expect: str) -> None:
        """Ctrl+S, then wait until the file on disk holds the edit and the executed cells."""
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                saved = nbformat.read(self.path, as_version=4)
            except Exception:  # noqa: BLE001 - caught mid-write
                saved = None
            if saved is not None and expect in json.dumps(saved) and any(
                c.get("execution_count") == self.executed for c in saved.cells
            ):
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.path.name} was not saved with {expect!r}")

    def screenshot(self, folder: Path, name: str) -> Path:
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def output_text(self) -> str:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea").all_inner_texts().__str__()

    def close(self) -> None:
        self.page.get_by_role("menuitem", name="File").click()
        self.page.get_by_role("menuitem", name=re.compile(r"^Close Tab")).click()


def release_cli(*args: str, repo: Path, outputs: Path) -> int:
    return main([*args, "--repo", str(repo), "--outputs", str(outputs)])


def test_a_phase_stepped_through_in_jupyterlab_in_a_real_browser(tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    sandbox = create_sandbox(tmp_path / "sandbox")
    repo, outputs, shots = sandbox.repo, tmp_path / "outputs", tmp_path / "screenshots"
    assert release_cli("run", VERSION, "--phases", "changelog,bump", "-p", "accept_draft=true",
                       repo=repo, outputs=outputs) == 0
    origin_refs = git(sandbox.origin, "for-each-ref")
    marker = str(tmp_path)

    lab = Lab(tmp_path, repo, outputs, "commit_tag")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                page = browser.pages[0] if browser.pages else browser.new_page()
                opened = lab.log.read_text()  # what `open` told the maintainer
                assert f"releaselib archive commit_tag {VERSION} --repo {repo} --outputs {outputs}" in opened
                assert "read-only" in opened
                page.goto(lab.url)
                working = repo / f"04_commit_tag-{VERSION}.manual.ipynb"
                notebook = Notebook(page, working)
                # The file browser shows the project (and the notebook), not the record.
                listing = page.locator(".jp-DirListing-content").inner_text()
                assert "pyproject.toml" in listing and working.name[:12] in listing and "record.json" not in listing

                notebook.run()  # first a dry run: the parameters as `open` wrote them
                notebook.screenshot(shots, "04_commit_tag-dry-run")
                assert "1.1" not in git(repo, "tag", "--list").split()
                notebook.set_parameter("dry_run = True", "dry_run = False")
                notebook.run()
                notebook.save(expect="dry_run = False")
                notebook.screenshot(shots, "04_commit_tag")
                assert (repo / ".ipynb_checkpoints" / f"{working.stem}-checkpoint.ipynb").exists()
                notebook.close()

                assert release_cli("archive", "commit_tag", VERSION, repo=repo, outputs=outputs) == 0
                assert "1.1" in git(repo, "tag", "--list").split()  # the phase's real effect
                assert git(repo, "log", "-1", "--format=%s") == "BUMP 1.1"
                assert git(sandbox.origin, "for-each-ref") == origin_refs  # nothing pushed

                # 08 by hand, in the same Lab: the gate refuses to push an untested tag.
                capsys.readouterr()
                assert main(["open", "post_release", VERSION, "--repo", str(repo), "--outputs", str(outputs),
                             "--no-launch"]) == 0
                post = Path(capsys.readouterr().out.strip())
                page.goto(lab.url_of(post))
                notebook = Notebook(page, post)
                notebook.set_parameter("dry_run = True", "dry_run = False")
                gate = next(i for i, c in enumerate(notebook.nb.cells) if "gates.plan_tested" in c.source)
                notebook.run(stop_after=gate)
                refusal = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type"
                                       "='application/vnd.jupyter.stderr']")
                refusal.first.wait_for(timeout=WAIT_MS)
                assert "Refusing to push the tag of bsonlite 1.1" in refusal.first.inner_text()
                refusal.first.scroll_into_view_if_needed()
                notebook.save(expect="UntestedRelease")
                notebook.screenshot(shots, "08_post_release-refused")
                notebook.close()
            finally:
                browser.close()
    finally:
        lab.stop()

    # Nothing started here is left running: Lab, its kernels, Chromium.
    deadline = time.monotonic() + 30
    while processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = processes_mentioning(marker)
    for pid in left:  # ours (their command lines name this test's folder): end them, then fail
        os.kill(pid, signal.SIGKILL)
    assert left == {}, f"left running: {left}"

    assert release_cli("archive", "post_release", VERSION, repo=repo, outputs=outputs) == 1
    assert git(sandbox.origin, "for-each-ref") == origin_refs  # the tag never left the machine
    assert git(repo, "log", "-1", "--format=%s") == "BUMP 1.1"  # refused before any change
    assert git(repo, "status", "--porcelain") == ""

    record_dir = outputs / PACKAGE / VERSION
    record = json.loads((record_dir / "record.json").read_text())
    by_hand = [e for e in record["entries"] if e.get("mode") == "manual"]
    assert [(e["phase"], e["result"], e["dry_run"]) for e in by_hand] == [
        ("04_commit_tag", "succeeded", False), ("08_post_release", "failed", False)]
    commit_tag = by_hand[0]
    assert commit_tag["run_by"]["git_name"] == "Release Manager"
    assert commit_tag["started"] and commit_tag["duration"] and commit_tag["duration"] > 0  # Lab's cell timing
    assert commit_tag["started"] < commit_tag["ended"]
    assert commit_tag["values"]["tag"] == VERSION and commit_tag["values"]["bump_commit"] == git(repo, "rev-parse", "HEAD")
    assert "UntestedRelease" in by_hand[1]["reason"]

    review = audit.review_text(outputs, PACKAGE, VERSION)
    assert "04_commit_tag attempt 1 was run by hand by Release Manager <release@example.org>" in review
    assert verifying.verify_release(outputs, PACKAGE, VERSION) == []
    assert not list(tmp_path.rglob(".ipynb_checkpoints/*"))  # archive removed Lab's checkpoints
    assert not list(repo.glob("*.manual.ipynb"))
    for name in ("04_commit_tag-dry-run", "04_commit_tag", "08_post_release-refused"):
        assert (shots / f"{name}.png").stat().st_size > 20_000
