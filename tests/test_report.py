"""The static HTML report: written from a real record, opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.record.report import write_report

pytest.register_assert_rewrite("tests.fixtures_record")  # its asserts, before it is imported

from .fixtures_record import PACKAGE, VERSION, add_later_phases

pytest_plugins = ["tests.fixtures_record"]  # the `released` and `record` fixtures

CHROMIUM = Path("/usr/bin/chromium")
PHASES = ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"]
_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=[\"']?(?:https?:)?//", re.IGNORECASE)


def test_report_has_the_summary_first_then_every_notebook(record):
    add_later_phases(record)

    page = write_report(record.outputs, PACKAGE, VERSION)

    assert page == record.directory / "report.html"
    text = page.read_text()
    assert text.index('id="summary"') < text.index('id="phase-00_preflight"')
    for phase in [*PHASES, "01_test", "05_build", "07_docs", "09_announce"]:
        assert f'data-phase="{phase}"' in text and f'id="phase-{phase}"' in text
    assert "a" * 64 in text and 'id="files"' in text and 'id="matrix"' in text
    assert "&lt;release-1.1@example.org&gt;" in text
    assert "Earlier attempt 1" in text  # the failed 01_test attempt is kept, folded
    assert '<details class="code" open' in text  # code collapsible
    # A cell output from the archived notebook is on the page.
    assert "BUMP 1.1" in text
    assert not _EXTERNAL.search(text), "the page would load something from the network"
    index = (record.outputs / "index.html").read_text()
    assert f'href="{PACKAGE}/{VERSION}/report.html"' in index


def test_report_of_everything_and_of_a_damaged_record(record, capsys):
    (record.directory / "03_bump.ipynb").unlink()
    second = record.outputs / PACKAGE / "1.2"
    shutil.copytree(record.directory, second)

    assert main(["report", "--outputs", str(record.outputs)]) == 0

    assert capsys.readouterr().out.strip() == str(record.outputs / "index.html")
    for folder in (record.directory, second):
        assert "The notebook 03_bump.ipynb is missing from the record." in (folder / "report.html").read_text()
    index = (record.outputs / "index.html").read_text()
    assert index.count("/report.html") == 2


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)")
def test_report_opens_in_headless_chromium_with_the_summary_table(record, tmp_path):
    from playwright.sync_api import sync_playwright

    page_path = write_report(record.outputs, PACKAGE, VERSION)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            summary = page.locator("#summary")
            assert summary.is_visible()
            rows = summary.locator("tbody tr")
            assert rows.count() == len(PHASES)
            assert [rows.nth(i).get_attribute("data-phase") for i in range(rows.count())] == PHASES
            assert all("succeeded" in rows.nth(i).inner_text() for i in range(rows.count()))
            # Code folds away and comes back.
            first_code = page.locator("details.code").first
            assert first_code.is_visible()
            page.click("#toggle-code")
            assert not first_code.is_visible()
            page.click("#toggle-code")
            assert first_code.is_visible()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
            assert (tmp_path / "report.png").stat().st_size > 10_000
            page.goto((record.outputs / "index.html").as_uri())
            assert page.locator("#releases tbody tr").count() == 1
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file://")] == []
