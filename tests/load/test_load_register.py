"""`sipclient load register` against the Kamailio lab registrar (sipclient.lab.kamailio):
each user's digest, every binding saved, and removed again at the end."""

from __future__ import annotations

import io
import json
import time

import pytest

from sipclient.cli import Env, main
from sipclient.lab.config import LabConfig
from sipclient.lab.kamailio import KamailioLab
from sipclient.lab.probe import free_udp_port


@pytest.fixture
def kamailio(tmp_path):
    cfg = LabConfig()
    accounts = {str(u): cfg.password(str(u)) for u in range(1001, 1201)}
    with KamailioLab(tmp_path / "kam", free_udp_port(), accounts) as lab:
        yield lab


def load(argv: list[str]) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["load", *argv], Env(stdout=out, stderr=err, environ={}))
    assert out.getvalue(), err.getvalue()
    return status, json.loads(out.getvalue())


def test_forty_users_register_with_their_own_digest_and_unregister(kamailio):
    status, r = load(["register", kamailio.server("udp"), "--users", "1001-1040",
                      "--lab-accounts", "--calls", "40", "--rate", "max",
                      "--concurrency", "10", "--processes", "2", "--json", "-q"])
    assert status == 0
    assert (r["attempted"], r["completed"], r["failed"]) == (40, 40, 0)
    assert r["by_status"] == {"200": 40}
    assert r["register_ms"]["count"] == 40 and r["register_ms"]["p99"] > 0
    everyone = {str(u) for u in range(1001, 1041)}

    def users_logged(expires: str) -> set[str]:
        return {line.split()[1] for line in kamailio.registrations()
                if f"expires {expires} " in line}

    deadline = time.monotonic() + 5  # Kamailio's log lines may trail its last answers
    while users_logged("0") != everyone and time.monotonic() < deadline:
        time.sleep(0.1)
    assert users_logged("3600") == everyone
    # at the end each binding was removed (Expires: 0), so the registrar is as before
    assert users_logged("0") == everyone


def test_two_hundred_users_on_the_lean_engine_all_answered_200(kamailio):
    status, r = load(["register", kamailio.server("udp"), "--users", "1001-1200",
                      "--lab-accounts", "--calls", "200", "--rate", "max",
                      "--concurrency", "50", "--processes", "auto", "--json", "-q"])
    assert status == 0
    for key in ("attempted", "completed", "failed", "calls_per_second", "by_status",
                "by_reason", "setup_ms", "register_ms", "retransmissions", "elapsed_s",
                "processes", "thresholds"):
        assert key in r, key
    assert (r["attempted"], r["completed"], r["failed"]) == (200, 200, 0)
    assert r["by_status"] == {"200": 200} and r["by_reason"] == {}
    assert r["register_ms"]["count"] == 200 and r["calls_per_second"] > 0
    assert r["thresholds"] == {"passed": True, "broken": []}
    log = kamailio.registrations()
    everyone = {str(u) for u in range(1001, 1201)}
    assert {line.split()[1] for line in log if "expires 3600 " in line} == everyone
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and {
            line.split()[1] for line in kamailio.registrations()
            if "expires 0 " in line} != everyone:
        time.sleep(0.1)
    assert {line.split()[1] for line in kamailio.registrations()
            if "expires 0 " in line} == everyone


def test_the_core_engine_is_still_there(kamailio):
    status, r = load(["register", kamailio.server("udp"), "--users", "1001-1010",
                      "--lab-accounts", "--calls", "10", "--rate", "max", "--engine", "core",
                      "--json", "-q"])
    assert status == 0 and r["by_status"] == {"200": 10}
    assert r["register_ms"]["count"] == 10


def test_register_over_tcp_on_the_core_engine(kamailio):
    status, r = load(["register", kamailio.server("tcp"), "--users", "1001-1010",
                      "--lab-accounts", "--calls", "10", "--rate", "max", "--json", "-q"])
    assert status == 0 and r["by_status"] == {"200": 10}
    over_tcp = {line.split()[1] for line in kamailio.registrations()
                if "expires 3600 from tcp:" in line}
    assert over_tcp == {str(u) for u in range(1001, 1011)}


def test_a_wrong_password_is_a_4xx_failure_by_status(kamailio):
    status, r = load(["register", kamailio.server("udp"), "--users", "1001-1003",
                      "--password", "wrong", "--calls", "3", "--rate", "max", "--json", "-q"])
    assert status == 1
    assert r["failed"] == 3 and r["by_reason"] == {"4xx": 3}
    assert set(r["by_status"]) <= {"401", "403"}


def foreground_registrar(argv: list[str], users: str, count: int) -> str:
    """Run ``sipclient ARGV`` (a registrar in the foreground), register ``users`` through
    the target it prints, SIGTERM it (exit 143); its first line."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sipclient", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " on udp:" in line, line + proc.stderr.read()
        target = line.split(" on ")[1].split()[0]
        status, r = load(["register", target, "--users", users, "--lab-accounts",
                          "--calls", str(count), "--rate", "max", "--json", "-q"])
        assert status == 0 and r["by_status"] == {"200": count}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 143
    return line


def test_load_registrar_command_serves_the_lab_accounts_until_sigterm(tmp_path):
    foreground_registrar(["load", "registrar", "--users", "1001-1003", "--run-dir",
                          str(tmp_path / "kam")], "1001-1003", 3)
    assert "registered 1003 expires 3600" in (tmp_path / "kam" / "kamailio.log").read_text()


def test_lab_up_registrar_kamailio_is_load_registrar(tmp_path):
    line = foreground_registrar(["lab", "up", "--registrar", "kamailio", "--sip-extensions",
                                 "1001-1002", "--run-dir", str(tmp_path / "kam")],
                                "1001-1002", 2)
    assert "kamailio registrar on udp:" in line and "2 accounts 1001-1002" in line


def test_refresh_keeps_each_binding_until_the_end(tmp_path):
    cfg = LabConfig()
    accounts = {u: cfg.password(u) for u in ("1001", "1002")}
    with KamailioLab(tmp_path / "kam", free_udp_port(), accounts, min_expires=2) as lab:
        status, r = load(["register", lab.server("udp"), "--users", "1001-1002",
                          "--lab-accounts", "--calls", "2", "--rate", "max", "--expires", "2",
                          "--refresh", "--timeout", "3.5", "--json", "-q"])
        assert status == 0 and r["completed"] == 2
        # registered, refreshed every second (half the expiry) while the run lasted
        assert r["register_ms"]["count"] >= 6
        for user in accounts:
            assert len([x for x in lab.registrations(user) if "expires 2 " in x]) >= 3


def test_a_registrar_with_2500_accounts_starts_and_knows_the_last_one(tmp_path):
    # the accounts are statements of Kamailio's config: its private memory grows with them
    cfg = LabConfig()
    accounts = {str(u): cfg.password(str(u)) for u in range(1001, 3501)}
    with KamailioLab(tmp_path / "kam", free_udp_port(), accounts) as lab:
        status, r = load(["register", lab.server("udp"), "--users", "3500", "--lab-accounts",
                          "--calls", "1", "--rate", "max", "--json", "-q"])
    assert status == 0 and r["by_status"] == {"200": 1}


def test_sigterm_removes_every_binding_and_exits_143(kamailio, tmp_path):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "sipclient", "load", "register", kamailio.server("udp"),
         "--users", "1001-1020", "--lab-accounts", "--calls", "20", "--rate", "max",
         "--refresh", "--expires", "60", "--processes", "2", "--report", str(tmp_path / "r"),
         "--json", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    everyone = {str(u) for u in range(1001, 1021)}

    def logged(expires: str) -> set[str]:
        return {line.split()[1] for line in kamailio.registrations()
                if f"expires {expires} " in line}

    deadline = time.monotonic() + 20
    while logged("60") != everyone and time.monotonic() < deadline:
        time.sleep(0.1)
    assert logged("60") == everyone and not logged("0")  # held, refreshing
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    r = json.loads(out)
    assert r["interrupted"] == "SIGTERM" and r["completed"] == 20 and r["failed"] == 0
    assert (tmp_path / "r" / "summary.json").exists()
    deadline = time.monotonic() + 5
    while logged("0") != everyone and time.monotonic() < deadline:
        time.sleep(0.1)
    assert logged("0") == everyone


def test_the_registrar_ends_when_kamailio_dies(tmp_path):
    """The foreground registrar sleeps on a signal or Kamailio's exit: Kamailio killed, it
    says so with the log's last lines and exits 1 at once (no signal needed)."""
    import os
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "kam"
    proc = subprocess.Popen([sys.executable, "-m", "sipclient", "load", "registrar", "--users",
                             "1001-1002", "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " on udp:" in line, line + proc.stderr.read()
        os.killpg(int((run_dir / "kamailio.pid").read_text()), signal.SIGKILL)
        assert proc.wait(20) == 1
        assert "kamailio exited:" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
