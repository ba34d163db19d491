"""Softclient commands against the real Asterisk lab (UDP, TCP, WSS).

Extensions 1016-1020 and 2009-2010 are used here only, so other lab tests see no contacts
of ours.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.cli import EXIT_AUTH, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, Env, main
from sipclient.cli._common import EXIT_TERMINATED

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
#: transport -> (extension, extra flags)
TRANSPORTS = {"udp": ("1016", []), "tcp": ("1017", []), "wss": ("2009", ["--insecure"])}


def run(argv, environ=None):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def account(lab, transport, extension=None):
    ext, extra = TRANSPORTS[transport]
    acc = lab.account(extension or ext)
    return ["--server", acc.transports[transport], "--user", acc.extension,
            "--password", acc.password, *extra], acc


def in_order(flow, expected):
    """``expected`` appears in ``flow`` in this order (other messages may come between)."""
    it = iter(flow)
    return all(any(name == got for got in it) for name in expected)


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_register_json_flow(lab, transport):
    args, acc = account(lab, transport)
    code, out, err = run(["register", *args, "--json"])
    assert code == EXIT_OK, err + out
    obj = json.loads(out)
    assert obj["flow"] == ["REGISTER", "401", "REGISTER", "200"]
    assert obj["ok"] is True and obj["status"] == 200 and obj["transport"] == transport
    if transport == "udp":  # over TCP/WSS Asterisk drops it when the connection closes
        assert lab.contacts(acc.extension)
    code, out, err = run(["register", *args, "--unregister", "--json"])
    assert code == EXIT_OK, out
    assert not lab.contacts(acc.extension)
    assert acc.password not in out + err


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_call_600_flow(lab, transport):
    args, _ = account(lab, transport)
    code, out, err = run(["call", "600", *args, "--duration", "1", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert in_order(obj["flow"], ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK",
                                  "BYE", "200"]), obj["flow"]
    assert obj["flow"][-2:] == ["BYE", "200"] and obj["ended_by"] == "local"


def test_call_602_early_media_before_answer(lab):
    args, _ = account(lab, "udp")
    code, out, _ = run(["call", "602", *args, "--duration", "0.5", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert in_order(obj["flow"], ["INVITE", "183", "200", "ACK", "BYE", "200"]), obj["flow"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_call_603_busy_exit_1(lab, transport):
    args, _ = account(lab, transport)
    code, out, _ = run(["call", "603", *args, "--json"])
    obj = json.loads(out)
    assert code == EXIT_FAILURE and obj["status"] == 486 and obj["ok"] is False
    assert "486" in obj["error"]


def test_call_604_cancel_after(lab):
    args, _ = account(lab, "udp")
    code, out, _ = run(["call", "604", *args, "--cancel-after", "2", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["status"] == 487
    assert in_order(obj["flow"], ["INVITE", "180", "CANCEL", "200", "487", "ACK"]), obj["flow"]


@pytest.mark.parametrize("transport", ["udp", "wss"])
def test_call_607_pbx_hangs_up(lab, transport):
    args, _ = account(lab, transport)
    code, out, _ = run(["call", "607", *args, "--duration", "10", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["ended_by"] == "remote" and obj["flow"][-2:] == ["BYE", "200"]
    assert obj["duration_ms"] < 9000


@pytest.mark.parametrize("transport", ["udp", "wss"])
def test_wrong_password_auth_failure(lab, transport):
    args, acc = account(lab, transport)
    args[args.index("--password") + 1] = "not-" + acc.password
    for mode in ([], ["--json"], ["--trace"]):
        code, out, err = run(["register", *args, *mode])
        assert code == EXIT_AUTH, out + err
        assert acc.password not in out + err
        assert "authentication failed" in (out + err)


def test_drop_30_percent_registration_completes(lab):
    args, acc = account(lab, "udp", "1018")
    code, out, err = run(["register", *args, "--drop", "0.3", "--seed", "3", "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["flow"][-1] == "200"
    run(["register", *args, "--unregister"])


def test_options_ping(lab):
    args, _ = account(lab, "udp")
    code, out, err = run(["options", *args, "--json"])
    obj = json.loads(out)
    assert code == EXIT_OK, obj
    assert obj["status"] == 200 and obj["rtt_ms"] > 0


@pytest.mark.parametrize("signum, expected, transport, ext", [
    (signal.SIGINT, EXIT_INTERRUPTED, "udp", "1019"),
    (signal.SIGTERM, EXIT_TERMINATED, "tcp", "1020"),
    (signal.SIGINT, EXIT_INTERRUPTED, "wss", "2010"),
])
def test_answer_process_cleans_up_on_signal(lab, signum, expected, transport, ext):
    args, acc = account(lab, transport, ext)
    password_at = args.index("--password")
    del args[password_at:password_at + 2]  # the password comes from the environment
    env = dict(os.environ, SIPCLIENT_PASSWORD=acc.password, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "sipclient", "answer", *args, "--trace"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not lab.contacts(ext) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lab.contacts(ext), "the answer process did not register"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == expected, err
    assert not lab.contacts(ext)
    assert "Traceback" not in err and acc.password not in out + err
