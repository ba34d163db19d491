"""``sipclient register|call|answer --webrtc`` against the lab, in the agents' namespace."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from sipclient.cli import EXIT_OK, EXIT_USAGE, Env, main

from .util import near, run, udp_cfg

pytestmark = pytest.mark.lab


def cli(argv: list[str], password: str | None = None) -> tuple[int, dict | None, str]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(),
              environ={"PW": password} if password else {})
    code = main(argv, env)
    out = env.stdout.getvalue().strip()
    return code, (json.loads(out.splitlines()[-1]) if out.startswith("{") else None), \
        env.stderr.getvalue()


def common(lab, ext: str) -> list[str]:
    acc = lab.account(ext)
    return ["-s", acc.transports["wss"], "-u", ext, "--password-env", "PW", "-k",
            "--local-address", lab.net.ue_ip, "--webrtc", "--json"]


def test_register_webrtc_json(wlab) -> None:
    ext = "2010"
    code, report, err = wlab.net.run(
        lambda: cli(["register", *common(wlab, ext)], wlab.account(ext).password))
    assert code == EXIT_OK, err
    assert report["ok"] and report["webrtc"] is True and report["transport"] == "wss"
    assert report["flow"][:4] == ["REGISTER", "401", "REGISTER", "200"]
    assert wlab.account(ext).password not in json.dumps(report)


def test_call_webrtc_reports_media_and_timings(wlab) -> None:
    ext = "2010"
    code, report, err = wlab.net.run(lambda: cli(
        ["call", "600", *common(wlab, ext), "--play", "tone:700", "--duration", "1.5"],
        wlab.account(ext).password))
    assert code == EXIT_OK, err
    media = report["media"][0]
    assert media["codec"] == "PCMU"
    assert near(media["dominant_hz"], 700), media
    assert media["packets_received"] > 40 and media["lost"] == 0
    assert media["ice_ms"] > 0 and media["dtls_ms"] > 0
    assert media["local_rtp"].startswith(wlab.net.ue_ip)


def test_answer_webrtc_takes_a_call_from_udp(wlab) -> None:
    ext = "2009"
    box: dict = {}

    def answer() -> None:
        box["result"] = cli(["answer", *common(wlab, ext), "--play", "tone:700",
                             "--count", "1", "--duration", "1.5"], wlab.account(ext).password)

    thread = threading.Thread(target=lambda: wlab.net.run(answer), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not wlab.contacts(ext) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert wlab.contacts(ext), "the CLI did not register"

    async def caller() -> dict:
        from sipclient.agent import Agent

        async with Agent(udp_cfg(wlab, "1010", play="tone:1300")) as u:
            call = await u.call(ext)
            assert (await call.wait_final(timeout=10)).status == 200
            await call.wait_ended(timeout=10)  # the CLI hangs up after --duration
            return call.media.stats()[0]
    udp_side = run(wlab, caller)
    thread.join(20)
    code, report, err = box["result"]
    assert code == EXIT_OK, err
    media = report["media"][0]
    assert near(media["dominant_hz"], 1300), media
    assert near(udp_side["dominant_hz"], 700), udp_side
    assert media["dtls_role"] == "client" and media["ice_ms"] > 0


@pytest.mark.parametrize("argv, message", [
    (["call", "600", "-s", "udp:10.0.0.1:7048", "-u", "2001", "--webrtc"], "WebSocket"),
    (["call", "600", "-s", "wss://10.0.0.1:8089/ws", "-u", "2001", "--stun", "stun:x:3478"],
     "--stun needs --webrtc"),
    (["call", "600", "-s", "wss://10.0.0.1:8089/ws", "-u", "2001", "--webrtc",
      "--stun", "x:3478"], "stun:host:port"),
])
def test_webrtc_usage_errors(argv, message) -> None:
    code, _, err = cli(argv)
    assert code == EXIT_USAGE and message in err, err
    assert "Traceback" not in err
