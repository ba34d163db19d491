"""``sipclient answer --no-register`` listens where callers send (issue #13): on UDP, TCP,
TLS, WS and WSS at the --server address, and the requests of the dialog (BYE) go to the caller, not
to the listening address itself."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import pytest

from sipclient.agent import Agent, AgentConfig
from sipclient.agent.agent import stub_media
from sipclient.cli import EXIT_OK, Env, main
from sipclient.lab.config import LabConfig
from sipclient.lab.probe import free_udp_port, tcp_accepts
from sipclient.lab.render import ensure_certificate


def run(argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def _answer_in_thread(argv: list[str], port: int, transport: str, host: str = "127.0.0.1"
                      ) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target() -> None:
        result["code"], result["out"], result["err"] = run(argv)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and thread.is_alive():
        if transport == "udp" or tcp_accepts(host, port, 0.2):
            break
        time.sleep(0.05)
    time.sleep(0.3 if transport == "udp" else 0)
    return thread, result


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls", "ws", "wss"])
@pytest.mark.parametrize("hangup_by", ["caller", "callee"])
def test_answer_no_register_listens_on_the_server_address(transport: str, hangup_by: str,
                                                          tmp_path) -> None:
    port = free_udp_port()
    where = (f"{transport}://127.0.0.1:{port}/ws" if transport.startswith("ws")
             else f"{transport}:127.0.0.1:{port}")
    argv = ["answer", "--no-register", "-s", where, "--user", "1002", "--count", "1", "--json"]
    if transport in ("tls", "wss"):
        config = LabConfig(run_dir=tmp_path)
        ensure_certificate(config)
        argv += ["--tls-cert", str(config.cert_file), "--tls-key", str(config.key_file)]
    if hangup_by == "callee":
        argv += ["--duration", "0.5"]
    thread, answered = _answer_in_thread(argv, port, transport)

    async def caller() -> list[str]:
        cfg = AgentConfig(user="1001", server=where, insecure=transport in ("tls", "wss"))
        async with Agent(cfg, media_factory=stub_media) as agent:
            call = await agent.call(f"sip:1002@127.0.0.1:{port};transport={transport}")
            assert (await call.wait_final(timeout=5)).status == 200
            if hangup_by == "caller":
                await asyncio.sleep(0.3)
                await call.hangup()
            assert await call.wait_ended(5) == ("local BYE" if hangup_by == "caller"
                                                else "remote BYE")
            return agent.flow(call.call_id)

    flow = asyncio.run(asyncio.wait_for(caller(), 20))
    thread.join(15)
    assert not thread.is_alive()
    obj = json.loads(answered["out"])
    assert answered["code"] == EXIT_OK, obj
    [record] = obj["calls"]
    assert record["result"] == "answered"
    assert record["ended_by"] == ("remote" if hangup_by == "caller" else "local")
    assert flow[-2:] == ["BYE", "200"] and "ACK" in flow, flow


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls", "ws"])
def test_answer_no_register_on_ipv6(transport: str, tmp_path) -> None:
    """The same on [::1]: bracketed Via and Contact, the call answered and ended."""
    port = free_udp_port("::1")
    where = (f"{transport}://[::1]:{port}/ws" if transport.startswith("ws")
             else f"{transport}:[::1]:{port}")
    argv = ["answer", "--no-register", "-s", where, "--user", "1002", "--count", "1", "--json"]
    if transport == "tls":
        config = LabConfig(run_dir=tmp_path)
        ensure_certificate(config)
        argv += ["--tls-cert", str(config.cert_file), "--tls-key", str(config.key_file)]
    thread, answered = _answer_in_thread(argv, port, transport, host="::1")

    async def caller() -> list[str]:
        cfg = AgentConfig(user="1001", server=where, insecure=transport == "tls",
                          local_address="::1")
        async with Agent(cfg, media_factory=stub_media) as agent:
            call = await agent.call(f"sip:1002@[::1]:{port};transport={transport}")
            assert (await call.wait_final(timeout=5)).status == 200
            await asyncio.sleep(0.3)
            await call.hangup()
            text = "".join(e.data.decode(errors="replace") for e in agent.trace)
            assert "Contact: <sip:1002@[::1]:" in text, text[:2000]
            if transport != "ws":  # a WebSocket client's Via host is <token>.invalid
                assert f"Via: SIP/2.0/{transport.upper()} [::1]:" in text, text[:2000]
            return agent.flow(call.call_id)

    flow = asyncio.run(asyncio.wait_for(caller(), 20))
    thread.join(15)
    obj = json.loads(answered["out"])
    assert answered["code"] == EXIT_OK, obj
    assert obj["calls"][0]["result"] == "answered", obj
    assert flow[-2:] == ["BYE", "200"], flow
