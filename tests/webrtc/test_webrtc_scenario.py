"""scenarios/webrtc/webrtc-to-udp.sip.yaml under ``sipclient run`` and under pytest, in the
agents' namespace, against the namespace lab (adopted through SIPCLIENT_LAB_RUN_DIR)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sipclient.cli import EXIT_OK, Env, main

from .util import near

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "webrtc" / "webrtc-to-udp.sip.yaml"


def test_scenario_passes_under_sipclient_run(wlab, tmp_path) -> None:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(),
              environ={**os.environ, "SIPCLIENT_LAB_RUN_DIR": str(wlab.run_dir)})
    out = tmp_path / "run.json"
    code = wlab.net.run(lambda: main(["run", str(SCENARIO), "--json", str(out),
                                      "--report-dir", str(tmp_path / "reports")], env))
    assert code == EXIT_OK, env.stdout.getvalue() + env.stderr.getvalue()
    result = json.loads(out.read_text())["scenarios"][0]
    assert result["status"] == "passed" or result["status"].lower() == "pass", result["status"]
    media = result["media"]
    assert media["c1"]["profile"] == "UDP/TLS/RTP/SAVPF" and near(media["c1"]["dominant_hz"],
                                                                    1300)
    assert near(media["b2"]["dominant_hz"], 1300) and media["b2"]["dtls_role"] == "client"


def test_scenario_passes_under_pytest(wlab) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", wlab.net.ue_ns, sys.executable, "-m", "pytest", str(SCENARIO),
         "-q", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
        env={**os.environ, "SIPCLIENT_LAB_RUN_DIR": str(wlab.run_dir)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
