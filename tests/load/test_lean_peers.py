"""The lean engine of `sipclient load call` against real sipp UASes: every message counted on
the UAS side, busy and silent peers give the right by_status / by_reason, and --engine."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.load.sipp import SippUas

HERE = Path(__file__).parent


def load(argv: list[str]) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["load", "call", *argv, "--json", "-q"], Env(stdout=out, stderr=err,
                                                               environ={}))
    return status, (json.loads(out.getvalue()) if out.getvalue() else {}), err.getvalue()


def received(log: Path, first_line: str) -> int:
    """How many messages starting with ``first_line`` sipp logged as received."""
    return log.read_text().count(f"bytes :\n\n{first_line}")


def test_200_calls_every_message_once(tmp_path):
    log = tmp_path / "sipp_messages.log"
    with SippUas(extra=("-trace_msg", "-message_file", str(log))) as uas:
        status, r, err = load([uas.target, "600", "--rate", "max", "--concurrency", "20",
                               "--calls", "200", "--engine", "lean"])
        time.sleep(0.3)  # sipp flushes its log
    assert status == 0, err
    assert (r["attempted"], r["completed"], r["failed"]) == (200, 200, 0)
    assert r["by_status"] == {"200": 200} and r["retransmissions"] == 0
    assert r["setup_ms"]["count"] == 200 and r["pdd_ms"]["count"] == 200
    # sipp received each call's INVITE, ACK and BYE exactly once (no retransmission, no loss)
    assert received(log, "INVITE sip:600@") == 200
    assert received(log, "ACK sip:") == 200
    assert received(log, "BYE sip:") == 200


def test_busy_uas_gives_486_and_reason_4xx():
    with SippUas(scenario=HERE / "uas_486.xml") as uas:
        status, r, _ = load([uas.target, "600", "--rate", "100", "--calls", "20"])
    assert status == 1  # --max-failed defaults to 0
    assert (r["attempted"], r["completed"], r["failed"]) == (20, 0, 20)
    assert r["by_status"] == {"486": 20} and r["by_reason"] == {"4xx": 20}
    assert r["errors"] == {"INVITE answered 486": 20}


def test_silent_uas_times_out_with_retransmissions():
    with SippUas(scenario=HERE / "uas_silent.xml") as uas:
        t0 = time.monotonic()
        status, r, _ = load([uas.target, "600", "--rate", "50", "--calls", "5", "--timeout",
                             "2", "--max-failed", "100%"])
    assert time.monotonic() - t0 < 10
    assert status == 0
    assert r["failed"] == 5 and r["by_reason"] == {"timeout": 5} and r["by_status"] == {}
    assert r["retransmissions"] == 5 * 2  # at T1 and 3 T1 (0.5 s, 1.5 s) before 2 s


def test_engine_choice():
    status, _, err = load(["udp:127.0.0.1:5060", "600", "--calls", "1", "--engine", "lean",
                           "--media", "full"])
    assert status == 2 and "--engine lean" in err and "--media none and packets" in err
    with SippUas() as uas:
        status, r, err = load([uas.target, "600", "--rate", "50", "--calls", "10",
                               "--engine", "core"])
    assert status == 0 and r["completed"] == 10, err


@pytest.mark.lab
def test_lean_engine_answers_the_asterisk_lab_challenge(lab):
    acc = lab.account("1001")
    hostport = acc.transports["udp"].split(":", 1)[1].split(";")[0]
    out, err = io.StringIO(), io.StringIO()
    status = main(["load", "call", f"udp:{hostport}", "600", "--rate", "20", "--calls", "10",
                   "--hold", "0.2", "--user", "1001", "--password-env", "PW", "--engine",
                   "lean", "--json", "-q"],
                  Env(stdout=out, stderr=err, environ={"PW": acc.password}))
    r = json.loads(out.getvalue())
    assert status == 0, err.getvalue() + out.getvalue()
    # every INVITE drew a 401 (Asterisk challenges), was sent again with the digest, answered
    assert (r["attempted"], r["completed"], r["failed"]) == (10, 10, 0)
    assert r["by_status"] == {"200": 10}
    assert acc.password not in out.getvalue() + err.getvalue()
    # without the password the same calls end at the challenge
    out = io.StringIO()
    status = main(["load", "call", f"udp:{hostport}", "600", "--rate", "20", "--calls", "2",
                   "--user", "1001", "--engine", "lean", "--json", "-q"],
                  Env(stdout=out, stderr=io.StringIO(), environ={}))
    r = json.loads(out.getvalue())
    assert status == 1 and r["by_status"] == {"401": 2} and r["by_reason"] == {"4xx": 2}
