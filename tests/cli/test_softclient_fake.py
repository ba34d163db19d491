"""Softclient commands against an in-process fake PBX on loopback (no Asterisk needed)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.cli import (EXIT_AUTH, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT,
                           Env, main)
from sipclient.cli._common import EXIT_TERMINATED
from sipclient.lab.probe import free_udp_port

try:
    from tests.cli.uas import PbxThread, black_hole
except ImportError:  # pragma: no cover - run from inside tests/cli
    from uas import PbxThread, black_hole

PASSWORD = "Pa55-w0rd-xyzzy"
USERS = {"1001": PASSWORD, "1002": "other-pw-1002"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pbx():
    with PbxThread(USERS, transport="udp", host="127.0.0.1", bye_after=0.3) as p:
        yield p


@pytest.fixture(scope="module")
def tcp_pbx():
    with PbxThread(USERS, transport="tcp", host="127.0.0.1", bye_after=0.3) as p:
        yield p


def run(argv, environ=None):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def in_order(flow, expected):
    """``expected`` appears in ``flow`` in this order (other messages may come between)."""
    it = iter(flow)
    return all(any(name == got for got in it) for name in expected)


def account(pbx, user="1001", password=PASSWORD):
    return ["--server", pbx.server, "--user", user, "--password", password]


# ------------------------------------------------------------------------------ register

def test_register_json_flow_is_challenge_then_200(pbx):
    code, out, err = run(["register", *account(pbx), "--json"])
    assert code == EXIT_OK, err
    obj = json.loads(out)
    assert obj["flow"] == ["REGISTER", "401", "REGISTER", "200"]
    assert obj["ok"] is True and obj["status"] == 200 and obj["reason"] == "OK"
    assert obj["call_id"] and obj["expires"] == 3600 and "error" not in obj
    assert isinstance(obj["duration_ms"], int) and err == ""
    assert pbx.pbx.bindings.get("1001")  # left in place: no --hold/--stay


def test_register_text_then_unregister(pbx):
    code, out, err = run(["register", *account(pbx, "1002", USERS["1002"]), "--expires", "120"])
    assert code == EXIT_OK and err == ""
    assert out == f"registered 1002 at {pbx.server}: 200 OK, expires 120 s\n"
    assert "1002" in pbx.pbx.bindings
    code, out, _ = run(["register", *account(pbx, "1002", USERS["1002"]), "--unregister"])
    assert code == EXIT_OK and out.startswith("unregistered 1002")
    assert "1002" not in pbx.pbx.bindings


def test_register_hold_refreshes_nothing_and_unregisters(pbx):
    code, out, _ = run(["register", *account(pbx), "--hold", "0.2", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK and obj["flow"][-4:] == ["REGISTER", "401", "REGISTER", "200"]
    assert obj["flow"].count("REGISTER") == 4 and "1001" not in pbx.pbx.bindings


def test_register_over_tcp_and_transport_override(tcp_pbx):
    host_port = tcp_pbx.server.split(":", 1)[1]
    code, out, err = run(["register", "--server", host_port, "--transport", "tcp",
                          "--user", "1001", "--password", PASSWORD, "--json"])
    assert code == EXIT_OK, err
    obj = json.loads(out)
    assert obj["transport"] == "tcp" and obj["flow"] == ["REGISTER", "401", "REGISTER", "200"]


def test_user_taken_from_the_target_and_password_from_env(pbx):
    host_port = pbx.server.split(":", 1)[1]
    code, out, err = run(["register", "--server", f"sip:1001@{host_port}", "--json"],
                         environ={"SIPCLIENT_PASSWORD": PASSWORD})
    assert code == EXIT_OK, err
    assert json.loads(out)["user"] == "1001"


def test_wrong_password_is_auth_failure_exit_3(pbx, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("wrong-" + PASSWORD + "\n")
    code, out, err = run(["register", "--server", pbx.server, "-u", "1001",
                          "--password-file", str(pw)])
    assert code == EXIT_AUTH and out == ""
    assert err.startswith("sipclient register: authentication failed for 1001")
    assert "401 Unauthorized after credentials were sent" in err
    assert PASSWORD not in err and err.count("\n") == 1


# ------------------------------------------------------------------------------ timeouts

def test_unreachable_server_times_out_exit_4():
    with black_hole() as target:
        started = time.monotonic()
        code, out, err = run(["register", "--server", target, "-u", "1001", "--password",
                              PASSWORD, "--t1", "0.01", "--json"])
    assert code == EXIT_TIMEOUT
    obj = json.loads(out)
    assert obj["ok"] is False and obj["status"] is None and "timeout" in obj["error"]
    assert set(obj["flow"]) == {"REGISTER"} and len(obj["flow"]) > 3  # retransmitted
    assert time.monotonic() - started < 10


def test_timeout_option_bounds_the_wait():
    with black_hole() as target:
        code, out, err = run(["options", target, "--timeout", "0.3"])
    assert code == EXIT_TIMEOUT and out == ""
    assert "no answer within 0.3 s" in err


# ------------------------------------------------------------------------------ trace

def test_trace_prints_every_message_in_full(pbx):
    code, out, err = run(["register", *account(pbx), "--trace"])
    assert code == EXIT_OK
    heads = re.findall(r"^(-->|<--) \d\d:\d\d:\d\d\.\d{3} UDP (\S+) -> (\S+) \(\d+ bytes\)$",
                       out, re.M)
    assert [h[0] for h in heads] == ["-->", "<--", "-->", "<--"]
    assert heads[0][2] == pbx.server.split(":", 1)[1]  # sent to the PBX
    assert out.count("REGISTER sip:") == 2 and "SIP/2.0 401 Unauthorized" in out
    assert "WWW-Authenticate: Digest" in out and "Authorization: Digest" in out
    assert "Call-ID: " in out and "CSeq: " in out
    assert "\x1b[" not in out  # not a terminal: no colour
    assert out.rstrip().endswith("expires 3600 s")


def test_trace_colour_only_when_asked_or_on_a_tty(pbx):
    _, out, _ = run(["register", *account(pbx), "--trace", "--color", "always"])
    assert "\x1b[36m-->" in out and "\x1b[0m" in out

    class Tty(io.StringIO):
        def isatty(self):
            return True

    env = Env(stdout=Tty(), stderr=io.StringIO(), environ={})
    assert main(["register", *account(pbx), "--trace"], env) == EXIT_OK
    assert "\x1b[" in env.stdout.getvalue()
    env = Env(stdout=Tty(), stderr=io.StringIO(), environ={"NO_COLOR": "1"})
    assert main(["register", *account(pbx), "--trace"], env) == EXIT_OK
    assert "\x1b[" not in env.stdout.getvalue()


def test_trace_with_json_goes_to_stderr(pbx):
    code, out, err = run(["register", *account(pbx), "--trace", "--json"])
    assert code == EXIT_OK
    assert json.loads(out)["ok"] is True  # stdout is exactly one JSON object
    assert err.count("REGISTER sip:") == 2


# ------------------------------------------------------------------------------ calls

def test_call_600_whole_flow_including_bye(pbx):
    code, out, err = run(["call", "600", *account(pbx), "--duration", "0.2", "--json"])
    assert code == EXIT_OK, err
    obj = json.loads(out)
    assert obj["flow"] == ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK",
                           "BYE", "401", "BYE", "200"]
    assert obj["status"] == 200 and obj["ended_by"] == "local" and obj["call_id"]


def test_call_text_output(pbx):
    code, out, err = run(["call", "600", *account(pbx), "--duration", "0.1", "--codec",
                          "pcma,pcmu"])
    assert code == EXIT_OK and err == ""
    assert out.splitlines() == ["answered 600: 200 OK", "we hung up after 0.1 s"]


def test_call_busy_exit_1(pbx):
    code, out, err = run(["call", "603", *account(pbx), "--json"])
    obj = json.loads(out)
    assert code == EXIT_FAILURE and obj["status"] == 486 and obj["ok"] is False
    assert obj["flow"][-2:] == ["486", "ACK"] and obj["error"] == "603: 486 Busy Here"


def test_call_cancel_after(pbx):
    code, out, err = run(["call", "604", *account(pbx), "--cancel-after", "0.3", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["status"] == 487
    flow = obj["flow"]
    assert flow.index("180") < flow.index("CANCEL") < flow.index("487")


def test_call_remote_bye_is_answered_and_exit_0(pbx):
    code, out, err = run(["call", "607", *account(pbx), "--duration", "5", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK and obj["ended_by"] == "remote"
    assert obj["flow"][-2:] == ["BYE", "200"]
    assert obj["duration_ms"] < 4000


def test_call_with_register_first(pbx):
    code, out, err = run(["call", "600", *account(pbx), "--register", "--duration", "0",
                          "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["flow"][:4] == ["REGISTER", "401", "REGISTER", "200"]
    assert obj["flow"][-4:] == ["REGISTER", "401", "REGISTER", "200"]  # unregistered at exit


# ------------------------------------------------------------------------------ options

def test_options_prints_status_and_rtt(pbx):
    code, out, err = run(["options", pbx.server])
    assert code == EXIT_OK and err == ""
    assert re.fullmatch(rf"200 OK from {re.escape(pbx.server)} in [0-9.]+ ms\n", out)
    code, out, _ = run(["options", pbx.server, "--json"])
    obj = json.loads(out)
    assert obj["flow"] == ["OPTIONS", "200"] and obj["rtt_ms"] > 0 and obj["user"] == "sipclient"


# ------------------------------------------------------------------------------ answer

async def wait_until_listening(agent):
    """OPTIONS until the answering side (another thread) is up."""
    from sipclient.agent import SipTimeout

    for _ in range(50):
        try:
            await agent.options(timeout=0.2)
            return
        except SipTimeout:
            pass
    raise AssertionError("the answering side never came up")


def test_answer_one_call_then_exit(pbx):
    port = free_udp_port()

    async def caller():
        from sipclient.agent import Agent, AgentConfig

        async with Agent(AgentConfig(user="1001", server=f"udp:127.0.0.1:{port}")) as agent:
            await wait_until_listening(agent)
            call = await agent.call(f"sip:1002@127.0.0.1:{port}")
            final = await call.wait_final(timeout=5)
            await asyncio.sleep(0.2)
            await call.hangup()
            return final.status, agent.flow()

    future = pbx.submit(caller())
    code, out, err = run(["answer", "--server", f"udp:127.0.0.1:{port}", "--user", "1002",
                          "--no-register", "--local-address", "127.0.0.1", "--local-port",
                          str(port), "--count", "1", "--answer-after", "0.1", "--json"])
    status, caller_flow = future.result(10)
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert status == 200 and in_order(caller_flow, ["INVITE", "180", "200", "ACK", "BYE"])
    assert obj["calls"] == [{"call_id": obj["calls"][0]["call_id"], "from": "1001",
                             "result": "answered", "status": 200, "ended_by": "remote"}]
    assert in_order(obj["flow"], ["INVITE", "180", "200", "ACK", "BYE", "200"]), obj["flow"]


def test_answer_busy(pbx):
    port = free_udp_port()

    async def caller():
        from sipclient.agent import Agent, AgentConfig

        async with Agent(AgentConfig(user="1001", server=f"udp:127.0.0.1:{port}")) as agent:
            await wait_until_listening(agent)
            call = await agent.call("1002")
            return (await call.wait_final(timeout=5)).status

    future = pbx.submit(caller())
    code, out, err = run(["answer", "--server", f"udp:127.0.0.1:{port}", "--user", "1002",
                          "--no-register", "--local-address", "127.0.0.1", "--local-port",
                          str(port), "--count", "1", "--busy"])
    assert future.result(10) == 486
    assert code == EXIT_OK and "call from 1001: rejected 486 Busy Here" in out


def test_answer_report_lists_the_newest_calls_and_counts_them_all(pbx, monkeypatch):
    """A long-running answer keeps a bounded report (answer_calls_reported, answer_trace_
    entries): the newest calls one by one, every call counted (before: a record, a media
    object and a task per call for the process's whole life)."""
    port = free_udp_port()
    monkeypatch.setenv("SIPCLIENT_LIMIT_ANSWER_CALLS_REPORTED", "2")  # the limits table
    monkeypatch.setenv("SIPCLIENT_LIMIT_ANSWER_TRACE_ENTRIES", "10")  # reads the process's

    async def caller():
        from sipclient.agent import Agent, AgentConfig

        ids = []
        async with Agent(AgentConfig(user="1001", server=f"udp:127.0.0.1:{port}",
                                     media_level="none")) as agent:
            await wait_until_listening(agent)
            for _ in range(5):
                call = await agent.call(f"sip:1002@127.0.0.1:{port}")
                assert (await call.wait_final(timeout=5)).status == 200
                await call.hangup()
                ids.append(call.call_id)
        return ids

    future = pbx.submit(caller())
    code, out, err = run(["answer", "--server", f"udp:127.0.0.1:{port}", "--user", "1002",
                          "--no-register", "--local-address", "127.0.0.1", "--local-port",
                          str(port), "--count", "5", "--json"])
    ids = future.result(20)
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert [c["call_id"] for c in obj["calls"]] == ids[-2:]
    assert {m["call_id"] for m in obj["media"]} == set(ids[-2:])
    assert obj["calls_total"] == {"answered": 5} and obj["calls_not_listed"] == 3
    assert len(obj["flow"]) == 10 and obj["flow_dropped"] > 20


def test_answer_registers_and_stops_on_signal(pbx):
    """A real process: SIGINT/SIGTERM -> cleanup (un-REGISTER) -> 130/143."""
    for signum, expected in ((signal.SIGINT, EXIT_INTERRUPTED),
                             (signal.SIGTERM, EXIT_TERMINATED)):
        pbx.pbx.bindings.pop("1002", None)
        env = dict(os.environ, SIPCLIENT_PASSWORD=USERS["1002"], PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [sys.executable, "-m", "sipclient", "answer", "--server", pbx.server,
             "--user", "1002", "--trace"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while "1002" not in pbx.pbx.bindings and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "1002" in pbx.pbx.bindings
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == expected, err
        assert "1002" not in pbx.pbx.bindings  # unregistered before exiting
        assert f"{signal.Signals(signum).name}: hanging up and unregistering" in err
        assert "Traceback" not in err and USERS["1002"] not in out + err
        assert out.count("REGISTER sip:") == 4  # register (401, 200) + unregister (401, 200)


# ------------------------------------------------------------------------------ impairment

def test_dropped_first_register_is_retransmitted(pbx):
    code, out, err = run(["register", *account(pbx), "--drop-nth", "1", "--impair", "out",
                          "--t1", "0.05", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["flow"][:2] == ["REGISTER", "REGISTER"] and obj["flow"][-1] == "200"


def test_drop_share_seeded_registration_completes(pbx):
    code, out, err = run(["register", *account(pbx), "--drop", "0.3", "--seed", "7",
                          "--t1", "0.05", "--json"])
    assert code == EXIT_OK, out
    assert json.loads(out)["flow"][-1] == "200"


# ------------------------------------------------------------------------------ secrets

COMMANDS = {
    "register": ["register"],
    "register-hold": ["register", "--hold", "0.1"],
    "call": ["call", "600", "--duration", "0.1"],
    "call-busy": ["call", "603"],
    "options": ["options"],
}


@pytest.mark.parametrize("mode", [[], ["--trace"], ["--json"], ["--trace", "--json"]],
                         ids=["text", "trace", "json", "trace+json"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_password_never_printed(pbx, command, mode):
    code, out, err = run([*COMMANDS[command], *account(pbx), *mode])
    assert code in (EXIT_OK, EXIT_FAILURE)
    assert PASSWORD not in out + err
    code, out, err = run([*COMMANDS[command], *account(pbx, password="bad-" + PASSWORD),
                          *mode])
    assert code == (EXIT_OK if command == "options" else EXIT_AUTH)  # OPTIONS: no challenge
    assert PASSWORD not in out + err and "bad-" not in out + err


def test_password_never_printed_by_answer_on_auth_failure(pbx):
    code, out, err = run(["answer", *account(pbx, password="nope-" + PASSWORD), "--json"])
    assert code == EXIT_AUTH and PASSWORD not in out + err
    assert json.loads(out)["error"].startswith("authentication failed")


def test_options_challenged_without_password_says_so():
    with PbxThread(USERS, host="127.0.0.1", challenge=("OPTIONS",)) as p:
        code, out, err = run(["options", p.server])
        assert code == EXIT_AUTH
        assert out.startswith(f"401 Unauthorized from {p.server} in ")
        assert "wants credentials" in err
        code, out, err = run(["options", *account(p), "--json"])
        obj = json.loads(out)
        assert code == EXIT_OK and obj["flow"] == ["OPTIONS", "401", "OPTIONS", "200"]
