"""Softclient commands: bad usage is one clear line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import io
import json

import pytest

from sipclient.cli import EXIT_USAGE, Env, main
from sipclient.cli._common import exit_for_status

SERVER = ["--server", "udp:127.0.0.1:7048"]


def run(argv, environ=None):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.mark.parametrize("argv, message", [
    (["register", "--server", "udp:127.0.0.1:99999", "--user", "1001"], "port 99999 is out of"),
    (["register", "--server", "bogus:host:1:2", "--user", "1001"], "bad target"),
    (["register", "--server", "ftp://127.0.0.1/x", "--user", "1001"], "unsupported URL scheme"),
    (["register", *SERVER], "--user is required"),
    (["register", "--user", "1001"], "--server TARGET is required"),
    (["call", "600", *SERVER], "--user is required"),
    (["answer", *SERVER], "--user is required"),
    (["options"], "give a TARGET or --server"),
    (["options", "tcp:127.0.0.1:notaport"], "bad target"),
    (["register", *SERVER, "-u", "1001", "--password-file", "/nonexistent/pw"],
     "cannot read --password-file /nonexistent/pw"),
    (["register", *SERVER, "-u", "1001", "--password-env", "NOPE"],
     "environment variable NOPE is not set"),
    (["register", *SERVER, "-u", "1001", "--ca-file", "/nonexistent/ca.pem"],
     "cannot read --ca-file"),
    (["call", "600", *SERVER, "-u", "1001", "--codec", ","], "--codec needs at least one"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message):
    code, out, err = run(argv)
    assert code == EXIT_USAGE, err
    assert out == ""
    assert err.startswith(f"sipclient {argv[0]}: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["register", *SERVER, "-u", "1001", "--drop", "1.5"], "not a share within 0..1"),
    (["register", *SERVER, "-u", "1001", "--transport", "sctp"], "invalid choice"),
    (["call", "600", *SERVER, "-u", "1001", "--duration", "soon"], "not a number of seconds"),
    (["answer", *SERVER, "-u", "1001", "--count", "0"], "not a positive whole number"),
    (["register", *SERVER, "-u", "1001", "--password", "x", "--password-env", "PW"],
     "not allowed with argument"),
])
def test_bad_option_values_exit_2(argv, message):
    code, out, err = run(argv)
    assert code == EXIT_USAGE and message in err and "Traceback" not in err


def test_usage_error_with_json_still_prints_one_object():
    code, out, err = run(["register", "--server", "udp:127.0.0.1:0", "-u", "1", "--json"])
    assert code == EXIT_USAGE
    obj = json.loads(out)
    assert obj["ok"] is False and obj["status"] is None and "port 0" in obj["error"]
    assert obj["exit_code"] == EXIT_USAGE


def test_every_command_has_help():
    for command in ("register", "call", "answer", "options"):
        code, out, _ = run([command, "--help"])
        assert code == 0 and "--server" in out and "--json" in out and "--t1" not in out


@pytest.mark.parametrize("status, code", [
    (200, 0), (202, 0), (401, 3), (403, 3), (407, 3), (408, 4), (404, 1), (486, 1),
    (487, 1), (503, 1), (603, 1), (None, 4)])
def test_status_to_exit_code(status, code):
    assert exit_for_status(status) == code
