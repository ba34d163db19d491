"""`sipclient load call` against a real sipp UAS: counts, JSON keys, processes, thresholds,
SIGTERM (hang up, report, exit 143)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

from sipclient.cli import Env, main
from sipclient.lab.probe import free_udp_port


def load(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["load", *argv], Env(stdout=out, stderr=err, environ={}))
    return status, out.getvalue(), err.getvalue()


def test_calls_complete_and_json_has_the_documented_keys(sipp_uas_ringing):
    status, out, err = load(["call", sipp_uas_ringing.target, "600", "--rate", "50",
                             "--calls", "20", "--json", "-q"])
    assert status == 0, err + out
    r = json.loads(out)
    assert (r["attempted"], r["completed"], r["failed"]) == (20, 20, 0)
    assert r["by_status"] == {"200": 20}
    assert r["calls_per_second"] > 0
    assert set(r["setup_ms"]) >= {"p50", "p99", "max"}
    # the UAS rings 30 ms before answering: PDD (to the 180) is shorter than setup (to the 200)
    assert r["setup_ms"]["p50"] >= 30
    assert r["pdd_ms"]["p50"] < r["setup_ms"]["p50"]
    assert r["thresholds"]["passed"] is True


def test_same_run_fails_with_max_setup_p99_1ms(sipp_uas_ringing):
    status, out, _ = load(["call", sipp_uas_ringing.target, "600", "--rate", "50",
                           "--calls", "10", "--max-setup-p99", "1ms", "--json", "-q"])
    assert status == 1
    r = json.loads(out)
    assert r["failed"] == 0
    assert any("--max-setup-p99 1ms" in b for b in r["thresholds"]["broken"])


def test_two_processes_merge_their_counts(sipp_uas):
    status, out, err = load(["call", sipp_uas.target, "600", "--rate", "100", "--calls", "41",
                             "--processes", "2", "--json", "-q"])
    assert status == 0, err + out
    r = json.loads(out)
    assert r["processes"] == 2
    assert (r["attempted"], r["completed"], r["failed"]) == (41, 41, 0)
    assert r["setup_ms"]["count"] == 41


def test_unanswered_calls_fail_with_reason_timeout_and_never_hang():
    # nothing listens there: INVITEs time out (--timeout 1 caps the wait per response)
    from sipclient.lab.probe import free_udp_port

    port = free_udp_port()
    t0 = time.monotonic()
    status, out, _ = load(["call", f"udp:127.0.0.1:{port}", "600", "--calls", "3", "--rate",
                           "30", "--timeout", "1", "--json", "-q", "--max-failed", "100%"])
    assert time.monotonic() - t0 < 15
    r = json.loads(out)
    assert r["failed"] == 3 and r["by_reason"] == {"timeout": 3}
    assert r["retransmissions"] >= 3  # each INVITE was sent again at T1 (0.5 s)
    assert status == 0  # --max-failed 100% accepts it


def test_bad_usage_is_one_line_exit_2():
    status, _, err = load(["call", "udp:127.0.0.1:5060", "600", "--max-failed", "lots"])
    assert status == 2 and "--max-failed 'lots'" in err and "Traceback" not in err
    status, _, err = load(["call", "tls:127.0.0.1:5061", "600", "--calls", "1", "-q"])
    assert status == 2 and "UDP or TCP" in err and "TLS" in err
    port = free_udp_port()  # free on TCP too: nobody listens there
    status, _, err = load(["call", f"tcp:127.0.0.1:{port}", "600", "--calls", "1", "-q"])
    assert status == 2 and f"127.0.0.1:{port}" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_sigterm_hangs_up_writes_the_report_and_exits_143(sipp_uas, tmp_path):
    report = tmp_path / "rep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sipclient", "load", "call", sipp_uas.target, "600",
         "--rate", "20", "--duration", "60", "--hold", "30", "--report", str(report),
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    for line in proc.stderr:  # plain live lines (not a terminal)
        if "in flight" in line and int(line.split("in flight ")[1].split()[0]) >= 5:
            break
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert time.monotonic() - t0 < 15  # held calls hung up at once, not after --hold 30
    r = json.loads(out)
    assert r["interrupted"] == "SIGTERM"
    assert r["attempted"] >= 5 and r["completed"] == r["attempted"] and r["failed"] == 0
    assert json.loads((report / "summary.json").read_text())["attempted"] == r["attempted"]


def test_each_process_calls_from_its_own_local_address(sipp_uas, tmp_path):
    status, out, err = load(["call", sipp_uas.target, "600", "--rate", "50", "--calls", "10",
                             "--processes", "2", "--local-address", "127.0.0.2-127.0.0.3",
                             "--json", "-q"])
    assert status == 0, err + out
    assert json.loads(out)["completed"] == 10
    status, _, err = load(["call", sipp_uas.target, "600", "--calls", "1", "-q",
                           "--local-address", "192.0.2.1"])  # not an address of ours
    assert status == 2 and "192.0.2.1" in err and "Traceback" not in err


def test_media_full_hears_its_tone_back_from_sipp_rtp_echo(sipp_uas_echo):
    status, out, err = load(["call", sipp_uas_echo.target, "600", "--rate", "10", "--calls",
                             "5", "--hold", "2", "--media", "full", "--json", "-q",
                             "--max-loss", "5%"])
    assert status == 0, err + out
    m = json.loads(out)["media"]
    assert m["streams"] == 5 and m["tone_heard"] == 5
    assert m["packets_sent"] >= 5 * 80 and m["packets_received"] >= 5 * 80
    assert m["send_error_p99_ms_max"] is not None


def test_media_packets_on_the_lean_engine_every_echoed_packet_counted(sipp_uas_echo):
    status, out, err = load(["call", sipp_uas_echo.target, "600", "--rate", "20", "--calls",
                             "10", "--hold", "2", "--media", "packets", "--engine", "lean",
                             "--processes", "2", "--json", "-q", "--max-loss", "0%"])
    assert status == 0, err + out
    r = json.loads(out)
    assert (r["completed"], r["failed"]) == (10, 0)
    m = r["media"]
    assert m["streams"] == 10 and m["lost"] == 0 and m["loss"] == 0.0
    # 2 s of 50 packets a second each; the echo of the last few may miss the hang-up
    assert m["packets_sent"] >= 10 * 95
    assert m["packets_received"] >= m["packets_sent"] - 10 * 5
    assert m["jitter_ms_max"] is not None and m["send_error_p99_ms_max"] is not None
    assert m["tone_heard"] == 0  # packets level does not decode


def test_media_packets_on_the_core_engine_still(sipp_uas_echo):
    status, out, err = load(["call", sipp_uas_echo.target, "600", "--rate", "10", "--calls",
                             "2", "--hold", "1", "--media", "packets", "--engine", "core",
                             "--json", "-q", "--max-loss", "5%"])
    assert status == 0, err + out
    m = json.loads(out)["media"]
    assert m["streams"] == 2 and m["packets_received"] > 0


def test_media_packets_counts_without_decoding(sipp_uas_echo):
    status, out, err = load(["call", sipp_uas_echo.target, "600", "--rate", "10", "--calls",
                             "3", "--hold", "1", "--media", "packets", "--json", "-q",
                             "--max-loss", "5%"])
    assert status == 0, err + out
    m = json.loads(out)["media"]
    assert m["streams"] == 3 and m["packets_received"] > 0
    assert m["tone_heard"] == 0  # packets level does not decode


def test_calls_over_tcp_one_connection_per_process():
    from sipclient.load.sipp import SippUas

    with SippUas(transport="tcp") as uas:
        status, out, err = load(["call", uas.target, "600", "--rate", "max", "--calls", "40",
                                 "--concurrency", "10", "--processes", "2", "--json", "-q"])
        assert status == 0, err + out
        r = json.loads(out)
        assert (r["completed"], r["failed"]) == (40, 0) and r["by_status"] == {"200": 40}
        assert r["retransmissions"] == 0  # a reliable transport: nothing is sent again
        status, _, err = load(["call", uas.target, "600", "--calls", "1", "--engine", "lean",
                               "-q"])
        assert status == 2 and "the lean engine runs over UDP (asked: TCP)" in err
