"""sipp as a UAC with Record-Route headers (tests/interop/sipp/uac_record_route.xml)
against ``sipclient answer``, straight (``--no-register``, UDP and TCP listeners) and
through Kamailio (registered there; Kamailio record-routes and must see the ACK and the BYE
go through it). sipp checks that our 180/200 carry the Record-Route (RFC 3261 12.1.1) and
must end by itself with exit 0."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sipclient.cli import EXIT_OK, Env, main
from sipclient.lab.kamailio import KamailioLab, lab_accounts
from sipclient.lab.probe import free_udp_port, port_in_use, tcp_accepts

from .test_sipp_auth import sipp_binary

TEMPLATE = Path(__file__).with_name("sipp") / "uac_record_route.xml"
HOST = "127.0.0.1"
ACCOUNTS = lab_accounts()


def sipp_version() -> str:
    out = subprocess.run([sipp_binary(), "-v"], capture_output=True, text=True).stdout
    found = re.search(r"SIPp v[^ ,]*", out)
    return found.group(0).rstrip(".") if found else "sipp"


def render_scenario(tmp_path: Path, *, record_route: bool) -> Path:
    text = TEMPLATE.read_text()
    rr = ("      Record-Route: <sip:[local_ip]:[local_port];lr;rr=one>\n"
          "      Record-Route: <sip:127.0.0.1:9;lr;rr=two>") if record_route else ""
    text = text.replace("@RECORD_ROUTE@\n", rr + "\n" if rr else "")
    text = text.replace("@LAST_RR@", "rr=two" if record_route else "Record-Route:")
    out = tmp_path / "uac_record_route.xml"
    out.write_text(text)
    return out


class Answerer:
    """``sipclient answer ... --count 1 --json`` in a thread, its stdout readable live."""

    def __init__(self, argv: list[str]) -> None:
        self.env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, args=(argv,), daemon=True)
        self.thread.start()

    def _run(self, argv: list[str]) -> None:
        self.code = main([*argv, "--count", "1", "--json"], self.env)

    def result(self, timeout: float = 20) -> dict:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "sipclient answer did not end"
        out = self.env.stdout.getvalue()
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            raise AssertionError(f"exit {self.code}:\n{out}\n{self.env.stderr.getvalue()}"
                                 ) from None


def run_sipp(tmp_path: Path, scenario: Path, target: str, transport: str) -> tuple[int, str]:
    errors = tmp_path / "sipp_errors.log"
    argv = [sipp_binary(), "-sf", str(scenario), target, "-s", "1002", "-i", HOST,
            "-p", str(free_udp_port()), "-mi", HOST, "-mp", str(free_udp_port(also=(2,))),
            "-t", "u1" if transport == "udp" else "t1", "-m", "1", "-nostdin",
            "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file", str(errors)]
    proc = subprocess.run(argv, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=40)
    log = errors.read_text(errors="replace") if errors.exists() else ""
    return proc.returncode, proc.stdout.decode(errors="replace")[-2000:] + log


def wait_listening(port: int, transport: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (tcp_accepts(HOST, port, 0.2) if transport == "tcp"
                else port_in_use(HOST, port, socket.SOCK_DGRAM)):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {transport} {HOST}:{port}")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_uac_with_record_route_against_answer(tmp_path: Path, transport: str,
                                                   matrix) -> None:
    matrix.cell("sipp", "peer -> us", transport, "PCMU", version=sipp_version(),
                via="-; INVITE with 2 Record-Route").checked(
        note="sipp checks Record-Route in our 180/200; signalling only")
    port = free_udp_port()
    answer = Answerer(["answer", "--no-register", "-s", f"{transport}:{HOST}:{port}",
                       "--user", "1002"])
    wait_listening(port, transport)
    time.sleep(0.2)
    rc, out = run_sipp(tmp_path, render_scenario(tmp_path, record_route=True),
                       f"{HOST}:{port}", transport)
    obj = answer.result()
    assert rc == 0, f"sipp exit {rc}:\n{out}"
    assert answer.code == EXIT_OK, obj
    assert obj["calls"][0]["result"] == "answered" and obj["calls"][0]["ended_by"] == "remote"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_uac_through_kamailio_to_answer(tmp_path: Path, kamailio_open: KamailioLab,
                                             transport: str, matrix) -> None:
    kamailio = kamailio_open
    matrix.cell("sipp", "peer -> us", transport, "PCMU", version=sipp_version(),
                via="Kamailio (record-route)").checked(
        note="ACK and BYE routed by Kamailio; signalling only")
    answer = Answerer(["answer", "-s", kamailio.server(transport), "--user", "1002",
                       "--password", ACCOUNTS["1002"]])
    kamailio.wait_registered("1002", count=len(kamailio.registrations("1002")) + 1)
    rc, out = run_sipp(tmp_path, render_scenario(tmp_path, record_route=False),
                       kamailio.hostport, transport)
    obj = answer.result()
    assert rc == 0, f"sipp exit {rc}:\n{out}\n{kamailio.log_tail()}"
    assert answer.code == EXIT_OK, obj
    call_id = obj["calls"][0]["call_id"]
    routed = kamailio.routed(call_id)
    assert "ACK" in routed and "BYE" in routed, (routed, kamailio.log_tail())
