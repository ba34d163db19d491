"""`make demo` runs `sipclient demo`: it starts its own lab, runs the checks, shows a results
table, says where the report and the capture went, and stops the lab."""

from __future__ import annotations

import io
import json
import subprocess

import pytest

from sipclient.cli import Env, main
from sipclient.lab.runner import processes_mentioning


@pytest.mark.lab
def test_demo_runs_the_checks_against_its_own_lab_and_cleans_up(tmp_path, monkeypatch, lab):
    # beside the session lab: its own ports, its own run directory
    monkeypatch.setenv("SIPCLIENT_LAB_PORT_OFFSET", str(lab.config.sip_port - 7048 + 400))
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    status = main(["demo", "--report-dir", str(tmp_path / "rep")], Env(stdout=out, stderr=err))
    text = out.getvalue()
    assert status == 0, text + err.getvalue()
    assert "6 passed, 0 failed" in text
    assert "INVITE 401 ACK INVITE 100 200 ACK BYE 200" in text
    report = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert [c["passed"] for c in report["checks"]] == [True] * 6
    pcap = tmp_path / "rep" / "demo.pcap"
    shown = subprocess.run(["tshark", "-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "sip.CSeq.method"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown.count("REGISTER") >= 12 and "INVITE" in shown and "BYE" in shown
    for account in report["checks"]:
        assert account["flow"], account
    assert "lab stopped" in text
    assert processes_mentioning(str(tmp_path / "run" / "demo")) == []
    # no password of the lab reaches the terminal, the report or the capture
    secrets = [a.password for a in lab.accounts()]
    blob = text + err.getvalue() + (tmp_path / "rep" / "results.json").read_text()
    blob_bytes = pcap.read_bytes()
    assert not [s for s in secrets if s in blob or s.encode() in blob_bytes]
