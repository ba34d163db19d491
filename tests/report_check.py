"""The checks any report.html must pass in a browser (issue 21), for the tests and by hand on
a whole run's page:

    .venv/bin/python -m tests.report_check reports/run-.../report.html --screenshot shot.png

Opened from its folder in Debian's headless Chromium (Playwright): no console error or
warning, no page error, no request that is not a local file; every status button shows
exactly the rows of that status and the search narrows them; a chart with a line is drawn;
an ``<audio>`` element loads its file (a duration); the first ladder shows a message when
its first arrow is clicked; a screenshot is taken. Returns what it saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def open_report(browser: Any, report: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"request: {r.url}")
            if not r.url.startswith(("file://", "about:", "data:")) else None)
    page.goto(Path(report).absolute().as_uri())
    page.wait_for_load_state("load")
    return page, problems


def visible_rows(page: Any) -> list[str]:
    return page.locator("#results tbody tr:visible").all_text_contents()


def check_report(page: Any, problems: list[str], screenshot: Path) -> dict[str, Any]:
    rows = page.locator("#results tbody tr")
    n = rows.count()
    assert n >= 1 and len(visible_rows(page)) == n
    statuses = rows.evaluate_all("rs => rs.map(r => r.dataset.status)")
    for button in page.locator("#filters button").all():
        status = button.get_attribute("data-status")
        button.click()
        want = n if status == "all" else statuses.count(status)
        assert len(visible_rows(page)) == want, status
        assert page.locator("details.scenario:visible").count() == want, status
    page.locator('#filters button[data-status="all"]').click()
    first = rows.first.locator("a").text_content()
    page.locator("#search").fill(first.lower())
    shown = visible_rows(page)
    assert shown and all(first.lower() in r.lower() for r in shown)
    page.locator("#search").fill("")
    assert len(visible_rows(page)) == n

    chart = page.locator("svg.chart:has(polyline)").first
    chart.evaluate("c => c.closest('details').open = true")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    audio = page.locator("audio").first
    audio.evaluate("a => a.closest('details').open = true")
    duration = audio.evaluate("""a => new Promise((ok, bad) => {
        a.addEventListener('loadedmetadata', () => ok(a.duration));
        a.addEventListener('error', () => bad('audio error ' + (a.error && a.error.code)));
        a.preload = 'metadata'; a.load(); })""")
    assert duration > 0
    ladder = page.locator("iframe.ladder").first
    ladder.evaluate("f => f.closest('details').open = true")
    ladder.scroll_into_view_if_needed()
    inner = ladder.content_frame
    inner.locator("g.arrow").first.click()
    text = inner.locator("#detail-text").text_content()
    assert text.split(" ", 1)[0].isupper() or text.startswith("SIP/2.0")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot))
    assert Path(screenshot).stat().st_size > 10_000
    assert problems == [], problems
    return {"scenarios": n, "statuses": {s: statuses.count(s) for s in set(statuses)},
            "charts": page.locator("svg.chart").count(),
            "audio": page.locator("audio").count(),
            "ladders": page.locator("iframe.ladder").count(),
            "first_audio_s": round(duration, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--screenshot", type=Path, default=Path("report.png"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page, problems = open_report(browser, args.report)
            seen = check_report(page, problems, args.screenshot)
        finally:
            browser.close()
    seen["bytes"] = args.report.stat().st_size
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
