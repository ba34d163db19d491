"""sipp, an independent SIP implementation, registers and calls through the lab."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.lab.sipp_runner import run_sipp, sipp_command

pytestmark = pytest.mark.lab


def test_sipp_registers_with_digest_over_udp_and_unregister_leaves_no_contact(lab, tmp_path):
    acc = lab.account(1001)
    cmd, messages = sipp_command(lab, "register", [acc.extension], acc.username,
                                 acc.password, tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        seen = []
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline and proc.poll() is None:
            seen = lab.contacts("1001")
            time.sleep(0.1)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    flow = [_request_line(line) for line in messages.read_text().splitlines()
            if line.startswith(("REGISTER ", "SIP/2.0 "))]
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert flow == ["REGISTER", "SIP/2.0 401 Unauthorized", "REGISTER", "SIP/2.0 200 OK"] * 2
    assert len(seen) == 1 and re.fullmatch(r"sip:1001@[^:]+:\d+;transport=UDP", seen[0].uri), seen
    assert lab.contacts("1001") == []


def test_sipp_calls_echo_600_with_digest(lab, tmp_path):
    acc = lab.account(1002)
    run = run_sipp(lab, "call", [f"{acc.extension};600"], acc.username, acc.password, tmp_path)
    assert run.returncode == 0, run.output[-2000:]
    lines = run.first_lines()
    kinds = [line.split()[0] if not line.startswith("SIP/2.0") else line.split(None, 2)[1]
             for line in lines]
    assert kinds == ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"], lines
    # the call is gone from Asterisk afterwards
    deadline = time.monotonic() + 5
    while lab.channels() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lab.channels() == []


def test_wrong_password_is_refused(lab, tmp_path):
    acc = lab.account(1003)
    run = run_sipp(lab, "register", [acc.extension], acc.username, "not-the-password",
                   tmp_path)
    assert run.returncode != 0
    assert [_request_line(line) for line in run.first_lines()[:4]] == [
        "REGISTER", "SIP/2.0 401 Unauthorized", "REGISTER", "SIP/2.0 401 Unauthorized"]


def _request_line(line: str) -> str:
    """``REGISTER sip:host:port SIP/2.0`` -> ``REGISTER``; a status line stays whole."""
    return line if line.startswith("SIP/2.0 ") else line.split()[0]


@pytest.mark.parametrize("callee, status", [
    ("603", "486 Busy Here"),
    ("605", "503 Service Unavailable"),
    ("1019", "480 Temporarily Unavailable"),  # a lab extension nobody registered
])
def test_refusing_extensions_answer_like_a_pbx(lab, tmp_path, callee, status):
    acc = lab.account(1004)
    run = run_sipp(lab, "refused", [f"{acc.extension};{callee}"], acc.username, acc.password,
                   tmp_path)
    assert run.returncode == 0, run.output[-2000:]
    finals = [line for line in run.first_lines() if re.match(r"SIP/2.0 [2-6]\d\d ", line)]
    assert finals == ["SIP/2.0 401 Unauthorized", f"SIP/2.0 {status}"], run.first_lines()
