"""report.html (issue 21): the page of a run, in a real browser (Debian's headless Chromium
driven by Playwright), and its builder without one.

The lab test runs ``sipclient run scenarios/ -k ...`` (DTMF, GSM and busy scenarios of the
suite) plus one scenario made to fail, then opens report.html: the generic checks of
tests/report_check.py (no console error or warning, no request outside the report folder,
each status filter and the name search, a chart, an audio element that loads, a ladder that
shows a message on click, a screenshot), then this run's own: the failure open with expected
vs received, the DTMF received, the received WAV holding the echoed tone, the links.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from sipclient.scenario.html_report import Section, line_chart, render_report
from tests.browser import browser  # noqa: F401 - the fixture
from tests.report_check import check_report, open_report, visible_rows

REPO = Path(__file__).resolve().parents[2]

FAILING = """name: "busy 603 but we expect an answer (fails on purpose)"
tags: [busy]
agents:
  alice: {account: 1014}
steps:
  - call: {from: alice, to: "603", as: c1}
  - expect: {agent: alice, call: c1, status: 200, timeout: 5}
"""


def _doc(results):
    return {"target": "lab <x>", "paths": ["scenarios/"], "workers": 1, "duration": 3.2,
            "started": "2026-01-01T00:00:00.000Z", "version": "0.1.0",
            "counts": {"total": len(results), "passed": 1, "failed": 1, "deselected": 0},
            "scenarios": results}


def test_page_escapes_everything_and_takes_extra_sections():
    results = [{"name": "<script>alert(1)</script>", "status": "failed", "duration": 1.0,
                "path": "a.sip.yaml", "steps": [{"path": "1", "kind": "expect",
                                                 "title": "expect", "status": "failed",
                                                 "message": "got </pre><b>", "expected":
                                                 "200", "received": "SIP/2.0 486 Busy"}],
                "error": "step 1 failed"},
               {"name": "ok", "status": "passed", "duration": 0.5, "path": "b.sip.yaml",
                "steps": []}]
    chart = line_chart([("calls/s", [0, 1, 2], [3.0, 5.0, 4.0])], title="rate <load>")
    page = render_report(_doc(results), sections=[Section("Load: rate", chart, id="load")],
                         settings={"HEP": "udp:127.0.0.1:9060 (capture id 2001)"})
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "got &lt;/pre&gt;&lt;b&gt;" in page and "rate &lt;load&gt;" in page
    assert page.count('<tr data-status=') == 2
    assert '<section class="block extra" id="load"><h2>Load: rate</h2><svg class="chart"' in page
    assert "udp:127.0.0.1:9060 (capture id 2001)" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "no data" in line_chart([], title="empty")
    # an agent's own recording (record:) is played from its folder
    from sipclient.scenario.report_media import ScenarioView

    views = {"/r/ok": ScenarioView(files=["capture.pcap", "alice.wav", "received-1.wav"])}
    results[1]["report_dir"] = "/r/ok"
    page = render_report(_doc(results), views, root="/r")
    assert '<audio controls preload="none" src="ok/alice.wav">' in page
    assert 'href="ok/capture.pcap"' in page and 'href="ok/received-1.wav"' not in page
    # a load run's page: no scenario, its own charts (the load helper's use)
    load = render_report({"target": "pbx", "duration": 60.0, "scenarios": []},
                         title="sipclient load", sections=[Section("Latency", chart)])
    assert "<h2>Latency</h2><svg" in load and "0 scenarios" in load


@pytest.mark.lab
def test_run_report_in_a_browser(lab, browser, tmp_path):
    (tmp_path / "fail.sip.yaml").write_text(FAILING)
    # in a process of its own: Playwright's sync API holds this thread's event loop
    proc = subprocess.run(
        [sys.executable, "-m", "sipclient", "run", str(REPO / "scenarios"),
         str(tmp_path / "fail.sip.yaml"), "-k", "606 or gsm or busy",
         "--report-dir", str(tmp_path / "rep")], capture_output=True, text=True,
        env={**os.environ, "SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)}, cwd=REPO)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = tmp_path / "rep" / "report.html"
    assert f"html:  {report}" in proc.stdout
    doc = json.loads((tmp_path / "rep" / "run.json").read_text())
    n = doc["counts"]["total"]
    assert n >= 4 and doc["counts"]["failed"] == 1
    size = report.stat().st_size
    assert size < 150_000 * n, f"report.html is {size} bytes for {n} scenarios"
    for password in (a.password for a in lab.accounts()):
        assert password not in report.read_text()

    page, problems = open_report(browser, report)
    failed = page.locator("details.scenario[open]")             # failures open, only they
    assert failed.count() == 1
    assert "200" in failed.locator("pre.expected").text_content()
    assert "486" in failed.locator("pre.received").text_content()
    seen = check_report(page, problems, tmp_path / "report.png")   # the generic checks
    assert seen["scenarios"] == n and seen["statuses"]["failed"] == 1
    page.locator('#filters button[data-status="failed"]').click()
    shown = visible_rows(page)
    assert len(shown) == 1 and "fails on purpose" in shown[0]
    page.locator('#filters button[data-status="all"]').click()

    dtmf = page.locator("details.scenario", has_text="606: our RFC 4733")   # not a port number
    dtmf.evaluate("d => d.open = true")
    assert "4711" in dtmf.text_content()
    frame = dtmf.locator("iframe.ladder")
    frame.scroll_into_view_if_needed()
    inner = frame.content_frame
    inner.locator("g.arrow").first.click()
    assert inner.locator("#detail-text").text_content().startswith("REGISTER sip:")

    gsm = page.locator("details.scenario", has_text="codec GSM")
    gsm.evaluate("d => d.open = true")
    chart = gsm.locator("svg.chart", has_text="jitter over time").first
    chart.scroll_into_view_if_needed()
    assert chart.locator("polyline").count() == 1 and chart.is_visible()
    audio = gsm.locator("audio")
    assert audio.count() >= 1
    src = audio.first.get_attribute("src")
    assert (tmp_path / "rep" / src).is_file()
    with wave.open(str(tmp_path / "rep" / src)) as w:      # the echoed 1000 Hz tone, decoded
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum[1:]) * w.getframerate() / len(samples) - 1000) < 20
    for href in gsm.locator("p.files a").evaluate_all("as => as.map(a => a.getAttribute('href'))"):
        assert (tmp_path / "rep" / href).is_file(), href
    assert problems == []
    page.close()
