"""A fault in the peer is a failure, never a success (issue 18: a PBX killed mid-call left
``sipclient call`` at exit 0, ``"ok": true``, although media stopped and its BYE got 481)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from sipclient.agent import Agent, AgentConfig
from sipclient.cli import EXIT_FAILURE, EXIT_OK, Env, main
from sipclient.lab.probe import free_udp_port
from tests.agent.fake_pbx import FakePbx
from tests.cli import uas

PASSWORD = "pw-1001-faults"


def run(argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


class ByeRefused(FakePbx):
    """Answers calls, then answers our BYE 481 (it lost the call: restarted, failed over)."""

    def _on_bye(self, ev) -> None:
        self._respond(ev, 481)


def test_a_bye_refused_481_is_a_failure(monkeypatch):
    monkeypatch.setattr(uas, "FakePbx", ByeRefused)
    with uas.PbxThread({"1001": PASSWORD}, host="127.0.0.1") as pbx:
        code, out, err = run(["call", "600", "--server", pbx.server, "-u", "1001",
                              "--password", PASSWORD, "--duration", "0.5", "--json"])
    obj = json.loads(out)
    assert code == EXIT_FAILURE and obj["ok"] is False, obj
    assert obj["flow"][-2:] == ["BYE", "481"]
    assert "our BYE was answered 481" in obj["error"]


class Callee:
    """An agent of ours that answers calls with a 1000 Hz tone; ``stop_media_after`` cuts
    its RTP that long into the call, without a BYE (a PBX that died)."""

    def __init__(self, stop_media_after: float | None) -> None:
        self.port = free_udp_port()
        self.stop_after = stop_media_after

    async def serve(self) -> None:
        cfg = AgentConfig(user="1002", server="udp:127.0.0.1:9", local_address="127.0.0.1",
                          local_port=self.port, play="tone:1000", cleanup_timeout=1.0)
        async with Agent(cfg) as agent:
            agent.auto_answer = 0.0
            call = await agent.next_incoming(timeout=20)
            if self.stop_after is not None:
                await asyncio.sleep(self.stop_after)
                await call.media.close()
            await call.wait_ended(20)


@pytest.mark.parametrize("stop_after, code", [(None, EXIT_OK), (1.0, EXIT_FAILURE)])
def test_media_that_stops_mid_call_is_a_failure(stop_after, code):
    callee = Callee(stop_after)
    loop = asyncio.new_event_loop()
    import threading
    thread = threading.Thread(target=loop.run_until_complete, args=(callee.serve(),))
    thread.start()
    try:
        target = f"udp:127.0.0.1:{callee.port}"
        got, out, err = run(["call", f"sip:1002@127.0.0.1:{callee.port}", "-s", target,
                             "-u", "1001", "--duration", "4", "--json"])
    finally:
        thread.join(30)
        loop.close()
    obj = json.loads(out)
    assert got == code, obj
    if code == EXIT_OK:
        assert obj["ok"] is True and obj["media"][0]["packets_received"] > 100
    else:
        assert obj["ok"] is False and "media stopped: no RTP received for the last" in \
            obj["error"]
        assert obj["media"][0]["packets_received"] > 20  # it had flowed


class Vanished(FakePbx):
    """Answers calls, then is gone: our BYE is never answered."""

    def _on_bye(self, ev) -> None:
        pass


def test_a_pbx_that_vanished_mid_call_is_a_failure(monkeypatch):
    monkeypatch.setattr(uas, "FakePbx", Vanished)
    with uas.PbxThread({"1001": PASSWORD}, host="127.0.0.1") as pbx:
        code, out, err = run(["call", "600", "--server", pbx.server, "-u", "1001",
                              "--password", PASSWORD, "--duration", "0.5", "--t1", "0.05",
                              "--json"])
    obj = json.loads(out)
    assert code != EXIT_OK and obj["ok"] is False, obj
    assert "BYE" in obj["error"] and "timeout" in obj["error"], obj["error"]
