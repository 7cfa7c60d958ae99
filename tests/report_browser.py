"""The report as a reviewer sees it: headless Chromium (Debian's) driven by Playwright.

``check_report_in_browser`` is shared by the report's own tests (a synthetic
record) and the end-to-end release (the demo's real record).
"""

from __future__ import annotations

import json
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDE, PHONE = 1400, 390
MAX_HEIGHT = 5000
MAX_JSON = 200

# Every text node of the page (script and style excluded).
_TEXT_NODES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent && !['SCRIPT', 'STYLE'].includes(parent.tagName)) out.push(walker.currentNode.nodeValue);
  }
  return out;
}"""

# Elements whose right edge passes the viewport, unless a box that scrolls sideways holds them.
_OVERFLOWING = """(width) => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5 || !el.checkVisibility()) continue;
    let held = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (['auto', 'scroll', 'hidden'].includes(style.overflowX)) { held = true; break; }
    }
    if (!held) bad.push(el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className + ' right=' + Math.round(box.right));
  }
  return bad;
}"""


def long_json_objects(text: str) -> list[str]:
    """JSON objects longer than MAX_JSON characters inside ``text``."""
    decoder = json.JSONDecoder()
    found = []
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            end = start + 1
        else:
            if isinstance(value, dict) and end - start > MAX_JSON:
                found.append(text[start:start + 80] + "…")
        start = text.find("{", max(end, start + 1))
    return found


def check_report_in_browser(page_path: Path, shots: Path, phases: list[str]) -> dict[str, int]:
    """Open ``page_path`` at 1400 px and 390 px and assert what issue 15 asks of it;
    write screenshots into ``shots``; return the measured heights and size."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    measured = {"bytes": page_path.stat().st_size}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in (WIDE, PHONE):
                page = browser.new_page(viewport={"width": width, "height": 900 if width == WIDE else 844})
                page.on("request", lambda request: requests.append(request.url))
                page.goto(page_path.as_uri())
                # The summary, the timeline and the matrix grid come before any phase's notebook.
                phases_top = page.locator("#phases").bounding_box()["y"]
                for selector in ("#summary", "#timeline svg.track", "#matrix svg.matrix-grid"):
                    element = page.locator(selector).first
                    assert element.is_visible(), f"{selector} is not visible at {width}px"
                    assert element.bounding_box()["y"] < phases_top, f"{selector} comes after the phases at {width}px"
                assert page.locator("details.phase[open]").count() == 0, "a phase is unfolded by default"
                assert page.locator(".notebook").count() == 0, "a notebook is inline in the report"
                rows = page.locator("#phases-table tbody tr")
                assert [rows.nth(i).get_attribute("data-phase") for i in range(rows.count())] == phases
                texts = page.evaluate(_TEXT_NODES)
                assert not [t for t in texts if "\x1b" in t], "a text node holds a terminal escape code"
                assert [j for t in texts for j in long_json_objects(t)] == [], "raw JSON on the page"
                height = page.evaluate("document.documentElement.scrollHeight")
                measured[f"height_{width}"] = height
                if width == WIDE:
                    assert height < MAX_HEIGHT, f"the page is {height}px high at {width}px"
                else:
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    assert page.evaluate(_OVERFLOWING, width) == []
                    # Nor when a reviewer opens every phase.
                    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
                    assert page.evaluate(_OVERFLOWING, width) == []
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    page.screenshot(path=str(shots / f"report-{width}-open.png"), full_page=True)
                    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = false; })")
                page.screenshot(path=str(shots / f"report-{width}.png"), full_page=True)

                # A phase is one click away from the table, and not hidden under the sticky bar.
                target = phases[1]
                page.click(f'#phases-table a[href="#phase-{target}"]')
                section = page.locator(f"#phase-{target}")
                page.wait_for_function(f"document.getElementById('phase-{target}').open")
                bar_bottom = page.locator("nav.toolbar").bounding_box()
                top = section.bounding_box()["y"]
                assert top >= bar_bottom["y"] + bar_bottom["height"] - 1, "the phase opened under the sticky bar"
                # Its notebook is the next click: a page of its own.
                section.locator("a.button").first.click()
                page.wait_for_load_state()
                assert page.locator(".notebook .cell").count() > 0
                texts = page.evaluate(_TEXT_NODES)
                assert not [t for t in texts if "\x1b" in t], "a notebook page holds a terminal escape code"
                page.screenshot(path=str(shots / f"notebook-{width}.png"), full_page=False)
                page.close()
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file://")] == [], "the page loaded from the network"
    return measured
