"""Ctrl-C and SIGTERM stop ``sipclient run`` cleanly: the running scenarios hang up and
unregister (no contact left on the lab), their reports and the run's JUnit are written, and
the exit status says which signal it was (130, 143) - in one process and with workers.

The real command runs in a subprocess; the signal comes once the agents registered."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SIPCLIENT = shutil.which("sipclient", path=str(Path(sys.executable).parent))


def _wait_registered(lab, extensions, proc, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sipclient run ended early ({proc.returncode}):\n{out}\n{err}")
        if all(lab.contacts(e) for e in extensions):
            return
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{extensions} did not register within {limit} s")


def _start(argv, cwd, env):
    assert SIPCLIENT, "the sipclient command is not installed in this environment"
    return subprocess.Popen([SIPCLIENT, "run", *argv], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.lab
def test_ctrl_c_unregisters_writes_reports_and_exits_130(lab, tmp_path):
    shutil.copy(DATA / "long-wait-1007.sip.yaml", tmp_path)
    env = dict(os.environ, SIPCLIENT_LAB_RUN_DIR=str(lab.run_dir))
    proc = _start([".", "--report-dir", "rep", "--junit", "junit.xml"], tmp_path, env)
    _wait_registered(lab, ["1007"], proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert lab.contacts("1007") == []
    result = json.loads((tmp_path / "rep" / "long-wait-1007" / "result.json").read_text())
    assert result["status"] == "interrupted"
    assert [s["status"] for s in result["steps"]] == ["passed", "interrupted"]
    assert result["flows"]["alice"][-4:] == ["REGISTER", "401", "REGISTER", "200"]  # unregister
    case = ET.parse(tmp_path / "junit.xml").getroot().find("testcase")
    assert case.find("error").get("type") == "interrupted"
    run = json.loads((tmp_path / "rep" / "run.json").read_text())
    assert run["interrupted"] == "SIGINT" and run["exit_code"] == 130
    page = (tmp_path / "rep" / "report.html").read_text()   # the page too (issue 21)
    assert 'data-status="interrupted"' in page and "report.html not written" not in err
    assert "(interrupted by SIGINT)" in out
    assert lab.is_running()  # not ours: left running


@pytest.mark.lab
def test_sigterm_reaches_every_worker_on_a_shared_target_and_exits_143(lab, tmp_path):
    for n in ("1007", "1008"):
        shutil.copy(DATA / f"long-wait-{n}.sip.yaml", tmp_path)
    c = lab.config
    (tmp_path / "lab.yaml").write_text(
        f"target: udp:{c.probe_host}:{c.sip_port}\ndomain: {c.host}\naccounts:\n"
        "  '1007': {password_env: PW_1007}\n  '1008': {password_env: PW_1008}\n")
    env = dict(os.environ, PW_1007=lab.account(1007).password,
               PW_1008=lab.account(1008).password)
    proc = _start([".", "-n", "2", "--profile", "lab.yaml", "--report-dir", "rep",
                   "--json", "run-copy.json"], tmp_path, env)
    _wait_registered(lab, ["1007", "1008"], proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, out + err
    assert lab.contacts("1007") == [] and lab.contacts("1008") == []
    run = json.loads((tmp_path / "run-copy.json").read_text())
    assert run["interrupted"] == "SIGTERM" and run["workers"] == 2
    assert sorted(s["status"] for s in run["scenarios"]) == ["interrupted", "interrupted"]
    for n in ("1007", "1008"):
        assert (tmp_path / "rep" / f"long-wait-{n}" / "ladder.txt").is_file()
    assert "[w0]" in out and "[w1]" in out
