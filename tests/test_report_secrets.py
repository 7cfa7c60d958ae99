"""The HTML report is scanned before it is written: a secret that reached the record never reaches the pages."""

from __future__ import annotations

from releaselib.record.report import write_report

from .fixtures_record import PACKAGE, VERSION, rechain

pytest_plugins = ["tests.fixtures_record"]

CANARY = 'canary"pass\\word-7f3a91'


def test_a_secret_in_the_record_never_reaches_the_report(record, monkeypatch) -> None:
    data = record.data()
    entry = next(e for e in data["entries"] if e["phase"] == "02_changelog")
    entry["values"]["changelog_section"] = f"Fixed the upload (token was {CANARY})"
    record.write(rechain(data))
    monkeypatch.setenv("TWINE_PASSWORD", CANARY)

    write_report(record.outputs, PACKAGE, VERSION)

    written = [p for p in record.outputs.rglob("*") if p.is_file() and p.suffix in {".html", ".json", ".log", ".txt"}
               and p.name != "record.json"]
    assert any(p.name == "report.html" for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "canary" not in text, f"{path} holds the secret"
    assert "Fixed the upload" in (record.directory / "report.html").read_text()
