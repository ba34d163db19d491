"""Two labs side by side; stopping one leaves no Asterisk behind; the CLI's lab survives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.lab import Lab, probe
from sipclient.lab.errors import LabError
from sipclient.lab.runner import processes_mentioning
from sipclient.lab.testing import claim_test_lab, test_lab_config

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def _all_processes_mentioning(text: str) -> list[int]:
    return processes_mentioning(text, asterisk_only=False)


def test_second_lab_runs_beside_the_first_and_stops_cleanly(lab):
    config, claim = claim_test_lab("second", extra_offset=300)
    assert config.run_dir != lab.run_dir and config.sip_port != lab.config.sip_port
    second = Lab(config)
    with second:
        assert second.status().healthy
        assert lab.status().healthy  # the session lab is untouched
        assert second.pid != lab.pid
        answer = probe.sip_options_udp(config.probe_host, config.sip_port, timeout=2.0)
        assert answer and answer.startswith("SIP/2.0")
    assert _all_processes_mentioning(str(config.run_dir)) == []
    assert not second.is_running()
    assert probe.sip_options_udp(config.probe_host, config.sip_port, timeout=0.5) is None
    assert lab.status().healthy
    claim.release()


def test_up_refuses_ports_taken_by_another_lab(lab):
    clash = test_lab_config("clash").replace(run_dir=lab.run_dir.parent / "lab-clash-unused",
        sip_port=lab.config.sip_port, wss_port=lab.config.wss_port)
    from sipclient.lab import LabError

    with pytest.raises(LabError, match=f"{lab.config.sip_port}/udp"):
        Lab(clash).up()
    assert _all_processes_mentioning(str(clash.run_dir)) == []


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPCLIENT_LAB_")}
    return subprocess.run([sys.executable, "-m", "sipclient", *argv], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=env)


def test_cli_lab_up_returns_and_asterisk_outlives_the_command(tmp_path):
    config, claim = claim_test_lab("cli", extra_offset=400)
    ports = [f"--sip-port={config.sip_port}", f"--tls-port={config.tls_port}",
             f"--wss-port={config.wss_port}", f"--http-port={config.http_port}",
             f"--ami-port={config.ami_port}"]
    run_dir = f"--run-dir={config.run_dir}"
    try:
        up = _cli("lab", "up", run_dir, *ports)
        assert up.returncode == 0, up.stderr
        assert f"sip:127.0.0.1:{config.sip_port};transport=udp" in up.stdout
        assert f"wss://127.0.0.1:{config.wss_port}/ws" in up.stdout
        # the CLI process has exited; Asterisk is still there and answering
        status = _cli("lab", "status", "--json", run_dir)
        assert status.returncode == 0, status.stdout + status.stderr
        data = json.loads(status.stdout)
        assert data["healthy"] and data["pid"]
    finally:
        down = _cli("lab", "down", run_dir)
    assert down.returncode == 0, down.stderr
    assert "lab stopped" in down.stdout
    assert _all_processes_mentioning(str(config.run_dir)) == []
    claim.release()


def test_an_asterisk_that_dies_while_starting_fails_up_at_once_with_its_status(tmp_path):
    """`lab up` waits on Asterisk's own events (its "Asterisk Ready." line, its exit): one
    that exits while booting is reported at once, with its status, not at the boot timeout."""
    config, claim = claim_test_lab("dies", extra_offset=400)
    fake = tmp_path / "asterisk"
    fake.write_text("#!/bin/sh\necho 'loading modules'\nsleep 0.3\nexit 7\n")
    fake.chmod(0o755)
    lab = Lab(config.replace(boot_timeout=60))
    lab._asterisk = str(fake)  # noqa: SLF001 - the binary that starts and dies
    started = time.monotonic()
    try:
        with pytest.raises(LabError) as err:
            lab.up()
        assert "asterisk exited with status 7 while starting" in str(err.value)
        assert time.monotonic() - started < 20
    finally:
        claim.release()
