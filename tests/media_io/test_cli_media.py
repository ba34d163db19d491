"""The media flags of ``sipclient call`` / ``sipclient answer``, no PBX: one CLI answers on a
loopback port, the other calls it directly (no authentication), both with real RTP."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from sipclient.cli import EXIT_OK, EXIT_USAGE, Env, main
from sipclient.media.audio import dominant_frequency, read_wav
from sipclient.lab.probe import free_udp_port

SERVER = ["--server", "udp:127.0.0.1:7", "--user", "1001"]


def run(argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def near(value, target: float, share: float) -> bool:
    return value is not None and abs(value - target) <= target * share


@pytest.mark.parametrize("argv, message", [
    (["call", "600", *SERVER, "--play", "tone:0"], "a tone is tone:HZ"),
    (["call", "600", *SERVER, "--play", "/nonexistent.wav"], "cannot read /nonexistent.wav"),
    (["call", "600", *SERVER, "--dtmf", "12x"], "DTMF digits are 0-9 * # A-D"),
    (["call", "600", *SERVER, "--dtmf-mode", "smoke"], "invalid choice"),
    (["call", "600", *SERVER, "--codec", "PCMU,OPUS"], "unknown codec OPUS"),
    (["answer", *SERVER, "--codec", ","], "--codec needs at least one"),
])
def test_bad_media_options_exit_2(argv, message) -> None:
    code, out, err = run(argv)
    assert code == EXIT_USAGE and message in err and "Traceback" not in err, err


def _answer_in_thread(argv: list[str]) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target() -> None:
        result["code"], result["out"], result["err"] = run(argv)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    time.sleep(0.5)  # the answerer binds its port
    return thread, result


@pytest.mark.parametrize("mode", ["rfc4733", "info", "inband"])
def test_call_and_answer_exchange_tones_and_dtmf(tmp_path, mode: str) -> None:
    port = free_udp_port()
    record = tmp_path / "heard.wav"
    thread, answered = _answer_in_thread([
        "answer", "--server", f"udp:127.0.0.1:{port}", "--user", "1002", "--no-register",
        "--local-address", "127.0.0.1", "--local-port", str(port), "--count", "1",
        "--codec", "GSM,PCMA", "--play", "tone:600", "--record", str(record), "--json"])
    code, out, err = run([
        "call", f"sip:1002@127.0.0.1:{port}", "--server", f"udp:127.0.0.1:{port}",
        "--user", "1001", "--codec", "PCMA,GSM", "--play", "tone:1000", "--dtmf", "42#",
        "--dtmf-mode", mode, "--dtmf-after", "0.3", "--duration", "2", "--json"])
    thread.join(15)
    caller = json.loads(out)
    callee = json.loads(answered["out"])
    assert code == EXIT_OK and answered["code"] == EXIT_OK, (caller, callee)
    [mine] = caller["media"]
    [theirs] = callee["media"]
    print("\ncaller:", mine, "\ncallee:", theirs)
    assert mine["codec"] == theirs["codec"] == "PCMA"  # the offerer's preference
    assert near(mine["dominant_hz"], 600, 0.01) and near(theirs["dominant_hz"], 1000, 0.01)
    assert mine["lost"] == 0 and theirs["lost"] == 0
    assert theirs["dtmf_received"] == "42#" and theirs["call_id"] == caller["call_id"]
    samples = read_wav(record)
    assert samples.size > 8000 and near(dominant_frequency(samples), 1000, 0.02)


def test_text_output_is_unchanged_by_media(tmp_path) -> None:
    port = free_udp_port()
    thread, answered = _answer_in_thread([
        "answer", "--server", f"udp:127.0.0.1:{port}", "--user", "1002", "--no-register",
        "--local-address", "127.0.0.1", "--local-port", str(port), "--count", "1"])
    code, out, err = run(["call", f"sip:1002@127.0.0.1:{port}", "--server",
                          f"udp:127.0.0.1:{port}", "--user", "1001", "--duration", "0.5",
                          "--play", "tone:1000+1400"])
    thread.join(15)
    assert code == EXIT_OK and err == ""
    assert out.splitlines() == [f"answered sip:1002@127.0.0.1:{port}: 200 OK",
                                "we hung up after 0.5 s"]
