"""Hostile command lines: every bad input is a usage error (exit 2, one line, no traceback)
found before anything is sent, and no input is read without a bound (issue 18)."""

from __future__ import annotations

import io
import json
import time

import pytest

from sipclient.cli import EXIT_DATAERR, EXIT_TIMEOUT, EXIT_USAGE, Env, main

try:
    from tests.cli.uas import black_hole
except ImportError:  # run from tests/hostile
    from cli.uas import black_hole  # type: ignore[no-redef]

SERVER = ["--server", "udp:127.0.0.1:9"]  # discard: nothing may be sent there anyway


def run(argv, environ=None):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def usage_error(argv, environ=None) -> str:
    started = time.monotonic()
    code, out, err = run(argv, environ)
    assert code == EXIT_USAGE, (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert time.monotonic() - started < 5, "a usage error must come before any dialling"
    return err


@pytest.mark.parametrize("argv, flag", [
    (["call", "600", *SERVER, "-u", "10\r\n01"], "--user"),
    (["register", *SERVER, "-u", "1001", "--domain", "lab\r\nX-Injected: 1"], "--domain"),
    (["call", "600", *SERVER, "-u", "1001", "--user-agent", "ua\nVia: evil"], "--user-agent"),
    (["call", "60\r\n0", *SERVER, "-u", "1001"], "NUMBER"),
    (["register", *SERVER, "-u", "1001", "--auth-user", "a\x00b"], "--auth-user"),
])
def test_control_characters_in_header_text_are_a_usage_error(argv, flag):
    err = usage_error(argv)
    assert flag in err and "control character" in err


def test_an_empty_number_is_a_usage_error_not_an_invite():
    assert "NUMBER|URI is empty" in usage_error(["call", "", *SERVER, "-u", "1001"])


def test_local_address_must_be_an_ip_not_a_name_looked_up():
    err = usage_error(["register", *SERVER, "-u", "1001", "--local-address", "not-an-ip"])
    assert "--local-address 'not-an-ip' is not an IP address" in err


def test_a_ca_file_without_certificates_is_a_usage_error(tmp_path):
    garbage = tmp_path / "ca.pem"
    garbage.write_bytes(b"\x00garbage\xff" * 100)
    err = usage_error(["register", *SERVER, "-u", "1001", "--ca-file", str(garbage)])
    assert f"--ca-file {garbage}: no PEM certificate" in err


@pytest.mark.parametrize("what", ["text", "/dev/zero"])
def test_play_a_file_that_is_not_a_wav_fails_before_the_call(tmp_path, what):
    path = "/dev/zero" if what == "/dev/zero" else str(tmp_path / "notes.wav")
    if what == "text":
        (tmp_path / "notes.wav").write_text("not audio\n" * 10)
    err = usage_error(["call", "600", *SERVER, "-u", "1001", "--play", path])
    assert f"--play {path}:" in err
    assert ("not a PCM WAV file" if what == "text" else "not a regular file") in err


@pytest.mark.parametrize("flag", ["--record", "--pcap"])
def test_outputs_into_a_missing_folder_fail_before_the_call(tmp_path, flag):
    target = tmp_path / "no-such-dir" / "out.file"
    err = usage_error(["call", "600", *SERVER, "-u", "1001", flag, str(target)])
    assert f"{flag} {target}: the folder {target.parent} does not exist" in err


def test_password_file_is_read_with_a_bound():
    err = usage_error(["register", *SERVER, "-u", "1001", "--password-file", "/dev/zero"])
    assert "exceeds the limit of 4 KiB" in err and "SIPCLIENT_LIMIT_PASSWORD_FILE_BYTES" in err


def test_password_file_first_line_still_read(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\nsecond line\n")
    code, out, err = run(["register", *SERVER, "-u", "1001", "--password-file", str(pw),
                          "--local-address", "nope"])
    assert code == EXIT_USAGE and "s3cret" not in out + err


def test_message_check_reads_a_device_with_a_bound():
    code, out, err = run(["message", "check", "/dev/zero"])
    assert code == EXIT_USAGE and "exceeds the limit of 1 MiB" in err


def test_message_check_limit_is_configurable(tmp_path, monkeypatch):
    msg = tmp_path / "m.txt"
    msg.write_bytes(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 300 + b"\r\n")
    code, _, _ = run(["message", "check", str(msg)])
    assert code != EXIT_USAGE
    monkeypatch.setenv("SIPCLIENT_LIMIT_MESSAGE_FILE_BYTES", "100")
    code, _, err = run(["message", "check", str(msg)])
    assert code == EXIT_USAGE and "exceeds the limit of 100" in err


def test_pcap_summary_of_a_device_says_it_is_no_capture():
    code, out, err = run(["pcap", "summary", "/dev/zero"])
    assert code == EXIT_DATAERR and "not a pcap or pcapng file" in err


def test_call_timeout_to_a_silent_port_is_the_timeout_not_timer_b():
    with black_hole() as target:
        started = time.monotonic()
        code, out, err = run(["call", "600", "--server", target, "-u", "1001",
                              "--timeout", "1", "--json"])
        elapsed = time.monotonic() - started
    assert code == EXIT_TIMEOUT
    obj = json.loads(out)
    assert obj["ok"] is False and "no answer within 1 s" in obj["error"]
    assert elapsed < 8, f"--timeout 1 took {elapsed:.1f} s (timer B is 32 s)"


CAPTURES = __import__("pathlib").Path(__file__).resolve().parents[2] / "captures"


def test_to_scenario_with_output_and_one_dialog_writes_that_dialog(tmp_path):
    out = tmp_path / "busy.sip.yaml"
    code, stdout, err = run(["pcap", "to-scenario", str(CAPTURES / "busy.pcap"), "-o", str(out)])
    assert code == 0, err
    assert out.is_file() and "662c0d75c7ee2733b0a48809" in out.read_text()


def test_to_scenario_with_output_and_many_dialogs_asks_for_the_call_id(tmp_path):
    one, two = (CAPTURES / "busy.pcap").read_bytes(), (CAPTURES / "hold.pcap").read_bytes()
    both = tmp_path / "both.pcap"
    both.write_bytes(one + two)  # pcapng: two sections in one file
    out = tmp_path / "x.sip.yaml"
    code, stdout, err = run(["pcap", "to-scenario", str(both), "-o", str(out)])
    assert code == EXIT_USAGE and not out.exists()
    assert f"-o {out} needs --call-id: the capture has 2 dialogs" in err
