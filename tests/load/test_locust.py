"""sipclient.locust: a Locust master with 2 workers (headless, 20 s) against a sipp UAS.
The CSV stats list INVITE and BYE with requests and no failures; a worker killed midway
does not hang the master. Importing sipclient does not import gevent."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sipclient.lab.probe import free_udp_port

HERE = Path(__file__).parent


def locust_binary() -> str:
    path = shutil.which("locust", path=str(Path(sys.executable).parent)) or \
        shutil.which("locust")
    if path is None:
        pytest.fail("locust is missing: pip install -e '.[dev]'")
    return path


def test_master_and_two_workers_report_invite_and_bye(sipp_uas, tmp_path):
    port = free_udp_port()  # the master's port (TCP; a free UDP one is free enough here)
    common = ["-f", str(HERE / "locustfile_calls.py")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    master = subprocess.Popen(
        [locust_binary(), *common, "--master", "--headless", "--expect-workers", "2",
         "--expect-workers-max-wait", "60", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "-u", "10", "-r", "10", "-t", "20s",
         "--host", sipp_uas.target, "--csv", str(tmp_path / "run"), "--loglevel", "INFO"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, text=True)
    workers = [subprocess.Popen(
        [locust_binary(), *common, "--worker", "--master-host", "127.0.0.1",
         "--master-port", str(port), "--loglevel", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
        for _ in range(2)]
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(master.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while not any("Sending spawn jobs" in line for line in lines):
            assert time.monotonic() < deadline and master.poll() is None, "".join(lines)[-3000:]
            time.sleep(0.2)
        time.sleep(5)  # both workers are calling
        workers[1].send_signal(signal.SIGKILL)  # a worker dies mid-run
        started = time.monotonic()
        master.wait(timeout=60)  # the master still ends on time
        assert time.monotonic() - started < 40, "".join(lines)[-3000:]
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
                p.wait()
    reader.join(5)
    rows = {(row["Type"], row["Name"]): row
            for row in csv.DictReader((tmp_path / "run_stats.csv").open())}
    for method in ("INVITE", "BYE"):
        row = rows[(method, sipp_uas.target)]
        assert int(row["Request Count"]) > 0, row
        assert int(row["Failure Count"]) == 0, row
    assert float(rows[("INVITE", sipp_uas.target)]["Median Response Time"]) > 0


def test_importing_sipclient_does_not_import_gevent():
    code = ("import sys, sipclient, sipclient.cli, sipclient.load.runner, sipclient.cli.load; "
            "print('gevent' in sys.modules, 'locust' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def test_registrations_are_locust_requests_and_unregistered_at_the_end(tmp_path):
    from sipclient.lab.config import LabConfig
    from sipclient.lab.kamailio import KamailioLab

    cfg = LabConfig()
    accounts = {str(u): cfg.password(str(u)) for u in range(1001, 1005)}
    with KamailioLab(tmp_path / "kam", free_udp_port(), accounts) as lab:
        done = subprocess.run(
            [locust_binary(), "-f", str(HERE / "locustfile_register.py"), "--headless",
             "-u", "2", "-r", "2", "-t", "4s", "--host", lab.server("udp"),
             "--csv", str(tmp_path / "reg"), "--loglevel", "WARNING"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rows = {(r["Type"], r["Name"]): r
                for r in csv.DictReader((tmp_path / "reg_stats.csv").open())}
        row = rows[("REGISTER", lab.server("udp"))]
        assert int(row["Request Count"]) > 0 and int(row["Failure Count"]) == 0
        # when Locust quit, the engine removed the bindings it had made
        assert any("expires 0 " in line for line in lab.registrations())
