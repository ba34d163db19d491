"""The lab and the CLI on IPv6 (issue #13): Asterisk listening on ::1, ``sipclient
register`` and ``call 600`` over ``udp:[::1]`` and ``tcp:[::1]``: bracketed Via and Contact,
``c=IN IP6`` both ways, the call ends cleanly. The default lab (127.0.0.1) is unchanged."""

from __future__ import annotations

import io
import json

import pytest

from sipclient.cli import EXIT_OK, Env, main
from sipclient.lab import Lab, LabError
from sipclient.lab.testing import claim_test_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab6():
    config, claim = claim_test_lab("ipv6", extra_offset=37)
    config = config.replace(bind="::1", host="::1")
    lab = Lab(config)
    try:
        try:
            lab.up()
        except LabError as exc:
            pytest.fail(f"the IPv6 lab did not start: {exc}", pytrace=False)
        yield lab
    finally:
        lab.down()
        if claim is not None:
            claim.release()


def cli(*argv: str, password: str) -> tuple[int, dict, str]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={"PW": password})
    code = main([*argv, "--password-env", "PW", "--json", "--trace"], env)
    out = env.stdout.getvalue()
    start = out.index("\n{") + 1 if not out.startswith("{") else 0
    return code, json.loads(out[start:]), out + env.stderr.getvalue()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_and_call_600_over_ipv6(lab6, transport: str) -> None:
    acc = lab6.account("1003")
    server = f"{transport}:[::1]:{lab6.config.sip_port}"
    code, obj, text = cli("register", "-s", server, "-u", "1003", password=acc.password)
    assert code == EXIT_OK and obj["status"] == 200, text[-3000:]
    assert f"SIP/2.0/{transport.upper()} [::1]:" in text and "Contact: <sip:1003@[::1]:" in text
    code, obj, text = cli("call", "600", "-s", server, "-u", "1003", "--duration", "1",
                          "--codec", "PCMU", password=acc.password)
    assert code == EXIT_OK and obj["status"] == 200, text[-3000:]
    assert obj["ended_by"] == "local" and obj["flow"][-2:] == ["BYE", "200"], obj["flow"]
    assert "c=IN IP6 ::1" in text  # our offer and Asterisk's answer
    [stream] = obj["media"]
    assert stream["packets_received"] > 20, stream
