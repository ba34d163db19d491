"""`--report DIR` of a real run: summary.json, seconds.csv, and report.html opened in Debian's
headless Chromium (Playwright; never `playwright install`): its three charts are drawn, it
fetches nothing, and its numbers are the run's."""

from __future__ import annotations

import csv
import io
import json
import threading

from sipclient.cli import Env, main

# the same Debian-Chromium fixture as the HTML ladder's test (one copy of it)
from tests.pcap.test_ladder_browser import browser  # noqa: E402,F401


def test_report_dir_has_json_csv_and_an_html_page_with_three_charts(sipp_uas_ringing, tmp_path,
                                                                     browser):
    report = tmp_path / "report"
    out = io.StringIO()
    argv = ["load", "call", sipp_uas_ringing.target, "600", "--rate", "20", "--duration", "3.5",
            "--report", str(report), "--json", "-q"]
    done: list[int] = []
    # Playwright's sync API holds an event loop in this thread: run the command in another
    worker = threading.Thread(target=lambda: done.append(
        main(argv, Env(stdout=out, stderr=io.StringIO(), environ={}))))
    worker.start()
    worker.join(60)
    assert done == [0]
    r = json.loads(out.getvalue())
    assert json.loads((report / "summary.json").read_text())["completed"] == r["completed"]
    rows = list(csv.DictReader((report / "seconds.csv").open()))
    assert len(rows) >= 3
    assert sum(int(row["started"]) for row in rows) == r["attempted"]
    assert sum(int(row["completed"]) for row in rows) == r["completed"]
    assert all(float(row["setup_p50_ms"]) >= 30 for row in rows if row["setup_p50_ms"])

    page = browser.new_page()
    fetched: list[str] = []
    page.on("request", lambda req: fetched.append(req.url))
    page.goto((report / "report.html").as_uri())
    assert fetched == [(report / "report.html").as_uri()]  # self-contained: nothing else
    for chart, series in (("rate", ["started", "completed", "asked"]),
                          ("latency", ["setup_p50_ms", "setup_p99_ms"]),
                          ("failures", ["failed"])):
        svg = page.locator(f"svg.chart[data-chart={chart}]")
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, chart
        for name in series:
            line = svg.locator(f"[data-series={name}]")
            assert line.count() == 1, (chart, name)
            drawn = line.bounding_box()
            assert drawn and drawn["width"] > 50, (chart, name)  # spans the seconds
    assert "200" in page.locator("#by-status").text_content()
    assert f"attempted {r['attempted']}" in page.locator("body").text_content()
    page.close()
