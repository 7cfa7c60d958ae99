"""The static HTML report: written from a real record, read as a reviewer would, in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from releaselib.cli import main
from releaselib.core.registry import phase_names
from releaselib.record import notebook_pages
from releaselib.record.charts import timeline_html
from releaselib.record.diff import diff_text
from releaselib.record.notebooks import VALUE_MIME
from releaselib.record.readable import strip_ansi, value_html, value_text
from releaselib.record.report import write_report
from releaselib.record.review import review_text
from releaselib.record.summary import PhaseSummary

from .fixtures_record import PACKAGE, VERSION, RecordCopy, add_later_phases, append_entry
from .report_browser import CHROMIUM, check_report_in_browser, long_json_objects

pytest_plugins = ["tests.fixtures_record"]  # the `released` and `record` fixtures

ALL_PHASES = phase_names()  # the bundled phases, as this installation configures them
GIT_PHASES = ["00_preflight", "02_changelog", "03_bump", "04_commit_tag", "08_post_release"]
NOT_RUN = ", ".join(p for p in ALL_PHASES if p not in GIT_PHASES)
_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=[\"']?(?:https?:)?//", re.IGNORECASE)
ESC = "\x1b"
LONG_JSON = json.dumps({f"key{n}": "word " * 8 for n in range(40)})  # ~2,000 characters on one line
MAIL = (
    "From: Release Manager <release@example.org>\nTo: announce@example.org, dev@example.org\n"
    "Subject: [ANN] bsonlite 1.1 released\nMessage-ID: <release-1.1@example.org>\n"
    "Content-Type: text/plain; charset=\"utf-8\"\n\nbsonlite 1.1 is out.\n\nChanges:\n- faster decode\n"
)


class _Text(HTMLParser):
    """Every text node of a page, outside script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def texts(path: Path) -> list[str]:
    parser = _Text()
    parser.feed(path.read_text())
    return parser.texts


def add_the_rest(copy: RecordCopy) -> None:
    """The later phases (a failed then a passing matrix, build, docs, announce), the
    announcement as sent, and the things a reviewer must never see raw: a value with
    terminal colour codes, a value that is a long line of JSON, a notebook output in colour."""
    add_later_phases(copy)
    for phase in ALL_PHASES:
        if phase.endswith("_api"):
            append_entry(copy, phase, {"api": {"summary": "1 addition, 0 removals: allowed for a minor release",
                                               "against": "1.0"}})
    (copy.directory / "announcement.eml").write_text(MAIL)
    (copy.directory / "logs").mkdir(exist_ok=True)
    for name in ("test-py3.11-ext.log", "test-py3.11-noext.log"):
        (copy.directory / "logs" / name).write_text(f"{ESC}[32m12 passed{ESC}[0m in 0.1s\n 50%\r100%\n")
    entry = append_entry(copy, "06_publish", {"uploaded": f"{ESC}[1mbsonlite-1.1.tar.gz{ESC}[0m",
                                              "index_said": LONG_JSON, "notes": "a long line " * 200})
    nb = nbformat.read(copy.directory / entry["notebook"], as_version=4)
    nb.cells[1].outputs += [
        nbformat.v4.new_output("stream", name="stdout", text=f"{ESC}[31mred{ESC}[0m and plain\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": f"recorded index_said = {LONG_JSON}",
                                                     VALUE_MIME: {"key": "index_said", "value": json.loads(LONG_JSON)}}),
    ]
    nbformat.write(nb, copy.directory / entry["notebook"])
    data = copy.data()
    data["entries"][-1]["notebook_sha256"] = notebook_pages.sha256_file(copy.directory / entry["notebook"])
    from .fixtures_record import rechain

    copy.write(rechain(data))


# --------------------------------------------------------------------------- the page


def test_report_is_the_summary_with_pictures_and_each_phase_folded(record):
    add_the_rest(record)

    page = write_report(record.outputs, PACKAGE, VERSION)

    assert page == record.directory / "report.html"
    text = page.read_text()
    order = [text.index(f'id="{name}"') for name in ("summary", "timeline", "matrix", "files", "announcement", "phases")]
    assert order == sorted(order)
    for phase in ALL_PHASES:
        assert f'data-phase="{phase}"' in text and f'<details class="phase" id="phase-{phase}">' in text
    assert f"complete ({len(ALL_PHASES)} of {len(ALL_PHASES)} phases)" in text
    # The timeline: a bar per attempt (two for 01_test, the first one red), each linking to its phase.
    timeline = text[text.index('id="timeline"'):text.index('id="matrix"')]
    assert timeline.count('<a href="#phase-01_test"><rect') == 2 and 'fill="#cf222e"' in timeline
    # The matrix grid: a cell per Python and extension state, with its counts, linking to a clean copy of its log.
    grid = text[text.index('id="matrix"'):text.index('id="files"')]
    assert "<svg" in grid and "✔ passed · 12 tests" in grid
    assert 'href="report_files/logs/test-py3.11-ext.log.html"' in grid
    log_page = record.directory / "report_files/logs/test-py3.11-ext.log.html"
    assert ESC not in log_page.read_text() and "12 passed in 0.1s" in log_page.read_text()
    assert "a" * 64 in text  # the file hashes, whole
    # The announcement: subject, recipients, Message-ID and the text as sent.
    for fact in ("[ANN] bsonlite 1.1 released", "announce@example.org, dev@example.org", "&lt;release-1.1@example.org&gt;",
                 "- faster decode"):
        assert fact in text
    # Each notebook is a page of its own, one click away; none is inline.
    assert '<div class="notebook">' not in text
    tag_page = record.directory / "report_files" / "04_commit_tag.html"
    assert 'href="report_files/04_commit_tag.html"' in text and "BUMP 1.1" in tag_page.read_text()
    assert "Earlier attempt 1" in text  # the failed 01_test attempt is kept, folded
    assert not _EXTERNAL.search(text), "the page would load something from the network"
    assert page.stat().st_size < 150_000
    index = (record.outputs / "index.html").read_text()
    assert f'href="{PACKAGE}/{VERSION}/report.html"' in index


def test_recorded_values_read_as_tables_with_no_terminal_codes_and_no_raw_json(record):
    add_the_rest(record)

    page = write_report(record.outputs, PACKAGE, VERSION)

    publish_page = record.directory / "report_files" / "06_publish.html"
    for path in (page, publish_page):
        raw = path.read_text()
        assert ESC not in raw, f"{path.name} holds a terminal escape code"
        found = [j for t in texts(path) for j in long_json_objects(t)]
        assert found == [], f"{path.name} shows raw JSON: {found}"
    text = page.read_text()
    # The matrix as a table with a column per field; the uploaded name without its colour codes.
    assert "<th>python</th>" in text and "bsonlite-1.1.tar.gz" in text
    # A tool's JSON answer is shown as the structure it is, every key of it.
    assert "<dt>key39</dt>" in text
    # A long text is shown whole, folded behind its first words and saying so: never cut.
    assert "(shortened: 2,400 characters; open for the full text)" in text
    assert "a long line " * 199 + "a long line" in text
    assert "red and plain" in publish_page.read_text() or "red</span> and plain" in publish_page.read_text()


def test_a_notebook_is_rendered_once_and_kept(record, monkeypatch):
    add_the_rest(record)
    write_report(record.outputs, PACKAGE, VERSION)
    pages = sorted((record.directory / "report_files").glob("*.html"))
    assert len(pages) == len(ALL_PHASES) + 1  # one per attempt: 01_test has two
    before = {p: p.stat().st_mtime_ns for p in pages}

    def refuse(path: Path) -> str:
        raise AssertionError(f"{path.name} rendered again")

    monkeypatch.setattr(notebook_pages, "render_notebook", refuse)
    write_report(record.outputs, PACKAGE, VERSION)
    assert {p: p.stat().st_mtime_ns for p in pages} == before

    # A page whose notebook changed is rendered again, and only that one.
    monkeypatch.undo()
    changed = record.directory / "03_bump.ipynb"
    nb = nbformat.read(changed, as_version=4)
    nb.cells[0].source += "\n\nEdited after archiving."
    nbformat.write(nb, changed)
    write_report(record.outputs, PACKAGE, VERSION)
    page = record.directory / "report_files" / "03_bump.html"
    assert "Edited after archiving." in page.read_text()
    assert [p for p in pages if p.stat().st_mtime_ns != before[p]] == [page]
    # A newer renderer renders every page again.
    monkeypatch.setattr(notebook_pages, "RENDERER", "next")
    write_report(record.outputs, PACKAGE, VERSION)
    assert all("renderer=next" in p.read_text() for p in pages)


def test_pages_rendered_during_a_release_are_the_reports_own(record, monkeypatch):
    """render_pages (the demo calls it after each phase) renders what the report would, so the
    report renders nothing more and links to the very pages."""
    from releaselib.record.report import render_pages

    add_the_rest(record)
    assert render_pages(record.directory) == len(ALL_PHASES) + 1
    assert render_pages(record.directory) == 0  # current: nothing again
    pages = sorted((record.directory / "report_files").glob("*.html"))
    before = {p: p.read_bytes() for p in pages}

    def refuse(path: Path) -> str:
        raise AssertionError(f"{path.name} rendered again")

    monkeypatch.setattr(notebook_pages, "render_notebook", refuse)
    report = write_report(record.outputs, PACKAGE, VERSION).read_text()
    assert {p: p.read_bytes() for p in pages} == before
    assert all(f'href="report_files/{p.name}"' in report for p in pages)


def test_report_of_everything_and_of_a_damaged_record(record, capsys):
    (record.directory / "03_bump.ipynb").unlink()
    second = record.outputs / PACKAGE / "1.2"
    shutil.copytree(record.directory, second)

    assert main(["report", "--outputs", str(record.outputs)]) == 0

    assert capsys.readouterr().out.strip() == str(record.outputs / "index.html")
    for folder in (record.directory, second):
        assert "The notebook 03_bump.ipynb is missing from the record." in (folder / "report.html").read_text()
    index = (record.outputs / "index.html").read_text()
    assert index.count(">report</a>") == 2
    # The history across versions, as pictures.
    assert 'id="history-bsonlite"' in index and index.count('<svg class="track"') >= 4


# --------------------------------------------------------------------------- a partial release


def test_a_partial_release_is_in_progress_in_review_report_index_and_diff(record):
    not_run, counts = NOT_RUN, f"5 of {len(ALL_PHASES)} phases"

    review = review_text(record.outputs, PACKAGE, VERSION)
    write_report(record.outputs, PACKAGE, VERSION)

    assert review.startswith(f"{PACKAGE} {VERSION}: in progress ({counts}; not run: {not_run})\n")
    assert "succeeded\n" not in review.splitlines()[0]
    assert f"- not run: {not_run}" in review.split("Unusual\n", 1)[1]
    assert re.search(r"^  05_build +· not run$", review, re.MULTILINE)
    report = (record.directory / "report.html").read_text()
    assert f"in progress ({counts}; not run: {not_run})" in report
    assert '<tr class="phase-row not-run" data-phase="05_build">' in report
    assert "not run: " + not_run in report.split('id="unusual-things"', 1)[1]
    index = (record.outputs / "index.html").read_text()
    assert f"in progress ({counts}" in index and "complete" not in index.split("<tbody>", 1)[1]

    complete = record.outputs / PACKAGE / "1.2"
    shutil.copytree(record.directory, complete)
    data = json.loads((complete / "record.json").read_text())
    data["version"] = "1.2"
    (complete / "record.json").write_text(json.dumps(data))
    _complete(complete)
    assert review_text(record.outputs, PACKAGE, "1.2").startswith(f"{PACKAGE} 1.2: complete ({len(ALL_PHASES)} of {len(ALL_PHASES)} phases)\n")
    diff = diff_text(record.outputs, PACKAGE, VERSION, "1.2")
    assert f"  {VERSION}: in progress ({counts}; not run: {not_run})" in diff
    assert f"  1.2: complete ({len(ALL_PHASES)} of {len(ALL_PHASES)} phases)" in diff
    row = next(line for line in diff.splitlines() if line[2:].startswith("05_build "))
    assert row.startswith("*") and "not run" in row
    tests = next(line for line in diff.splitlines() if "tests, all cells" in line)
    assert tests.rstrip().endswith("24 passed / 0 failed")


def _complete(folder: Path) -> None:
    from releaselib.record.store import Record

    from .fixtures_record import FILES, MATRIX, rechain

    record = Record.load(folder)
    for phase, values in (("01_test", {"matrix": MATRIX}), ("05_build", {"files": FILES}), ("06_publish", {"files": FILES}),
                          ("07_docs", {}), ("09_announce", {"message_id": "<m@x>"}),
                          *((p, {}) for p in ALL_PHASES if p.endswith("_api"))):
        record.append({"phase": phase, "attempt": 1, "result": "succeeded", "mode": "headless", "dry_run": False,
                       "started": "2026-01-01T00:00:00+00:00", "ended": "2026-01-01T00:00:01+00:00", "duration": 1.0,
                       "notebook": None, "values": values})
    record.data = rechain(record.data)
    record.save()


def test_the_record_names_the_phases_it_is_configured_to_run(record):
    assert record.data()["phases"] == ALL_PHASES and "09_announce" in ALL_PHASES


# --------------------------------------------------------------------------- the pieces


def test_values_read_as_text_where_only_text_plain_renders():
    value = {"files": [{"filename": "pkg-1.0.tar.gz", "sha256": "a" * 64}], "notes": "word " * 40, "ok": True}

    text = value_text("build", value, width=60)

    assert text.splitlines()[:4] == ["recorded build:", "  files:", "    - filename: pkg-1.0.tar.gz",
                                     "      sha256: " + "a" * 64]
    assert "  ok: yes" in text
    notes = [line for line in text.splitlines() if "word" in line]
    assert len(notes) > 1 and all(line.rstrip().endswith("word") for line in notes)  # wrapped, never cut
    assert "".join(notes).count("word") == 40
    assert "{" not in text


def test_value_html_escapes_and_links_logs():
    html = value_html({"log": "logs/test.log", "cmd": "<b>&", "colour": f"{ESC}[31mred{ESC}[0m"}, link_prefix="../")
    assert '<a class="mono" href="../logs/test.log">' in html and "&lt;b&gt;&amp;" in html and ESC not in html
    assert strip_ansi(f"{ESC}]0;title\x07done 10%\r done 100%\r\n") == " done 100%\n"


def test_timeline_cuts_out_a_night_and_marks_the_failure():
    def entry(attempt: int, result: str, start: str, seconds: float) -> dict:
        return {"phase": "01_test", "attempt": attempt, "result": result, "started": start, "duration": seconds,
                "ended": None, "mode": "headless"}

    summaries = [PhaseSummary("01_test", (entry(1, "failed", "2026-01-01T10:00:00+00:00", 60),
                                          entry(2, "succeeded", "2026-01-02T09:00:00+00:00", 120)))]

    html = timeline_html(summaries, ["05_build"])

    assert "⋯ 22h59m idle ⋯" in html
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)%"', html)]
    assert len(xs) == 2 and xs[1] < 50  # the night is cut out: the second day does not sit at the far right
    assert 'fill="#cf222e"' in html and "05_build" in html and "not run" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)")
def test_report_reads_well_in_chromium_at_1400_and_390_px(record, tmp_path):
    add_the_rest(record)
    page = write_report(record.outputs, PACKAGE, VERSION)

    measured = check_report_in_browser(page, tmp_path / "shots", ALL_PHASES)

    assert measured["bytes"] < 150_000
