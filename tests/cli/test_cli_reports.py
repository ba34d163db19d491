"""What the JSON reports say in the corners found by the interop work (issue #13): the
Call-ID of a failed REGISTER, MOS null when nothing was received, the jitter and SSRC keys
docs/cli.md promises, and ``answer`` interrupted during a call."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.agent import Agent, AgentConfig
from sipclient.cli import EXIT_AUTH, EXIT_INTERRUPTED, EXIT_OK, Env, main
from sipclient.lab.probe import free_udp_port

try:
    from tests.cli.uas import PbxThread
except ImportError:  # pragma: no cover - run from inside tests/cli
    from uas import PbxThread



def run(argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()

USERS = {"1001": "Pa55-w0rd-reports"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pbx():
    with PbxThread(USERS, transport="udp", host="127.0.0.1", bye_after=0.3) as p:
        yield p


def test_failed_register_reports_its_call_id(pbx) -> None:
    code, out, _ = run(["register", "-s", pbx.server, "-u", "1001", "--password", "nope",
                        "--json"])
    obj = json.loads(out)
    assert code == EXIT_AUTH and obj["status"] == 401
    sent = {r.call_id for r in pbx.pbx.received if r.method == "REGISTER"}
    assert obj["call_id"] and obj["call_id"] in sent, obj


def test_media_report_keys_and_mos_null_without_packets(pbx) -> None:
    # the fake PBX answers with SDP but sends no RTP: nothing received, nothing to rate
    code, out, _ = run(["call", "600", "-s", pbx.server, "-u", "1001", "--password",
                        USERS["1001"], "--duration", "0.5", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    [stream] = obj["media"]
    assert stream["packets_received"] == 0 and stream["packets_sent"] > 0
    assert stream["mos"] is None, stream
    for key in ("jitter_ms", "mean_jitter_ms", "max_jitter_ms", "remote_ssrc"):
        assert key in stream, (key, stream)


def test_answer_interrupted_during_a_call_reports_its_media() -> None:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sipclient", "answer", "--no-register", "-s",
         f"udp:127.0.0.1:{port}", "-u", "1002", "--json"],
        env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)

    async def caller() -> str:
        cfg = AgentConfig(user="1001", server=f"udp:127.0.0.1:{port}", play="tone:1000")
        async with Agent(cfg) as agent:
            deadline = time.monotonic() + 10
            while True:
                try:
                    call = await agent.call(f"sip:1002@127.0.0.1:{port}")
                    assert (await call.wait_final(timeout=2)).status == 200
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)  # not listening yet
            await asyncio.sleep(0.6)  # RTP flows both ways
            proc.send_signal(signal.SIGINT)
            assert await call.wait_ended(10) == "remote BYE"  # the cleanup hung up
            return call.call_id

    try:
        call_id = asyncio.run(asyncio.wait_for(caller(), 30))
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    obj = json.loads(out)
    [record] = [c for c in obj["calls"] if c["call_id"] == call_id]
    assert record["result"] == "answered" and record["ended_by"] == "local", record
    [stream] = [m for m in obj["media"] if m["call_id"] == call_id]
    assert stream["packets_received"] > 10 and stream["mos"] is not None, stream
