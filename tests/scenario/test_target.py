"""Targets: the lab, a profile, a bare target string (sipclient.scenario.target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipclient.agent import Secret
from sipclient.lab import Lab, LabConfig
from sipclient.scenario.target import ProfileError, Target


def test_a_lab_target_has_every_transport_and_account(tmp_path: Path) -> None:
    lab = Lab(LabConfig(run_dir=tmp_path / "lab", sip_port=7248, tls_port=7249,
                        wss_port=7250, http_port=7251, ami_port=7252))
    t = Target.from_lab(lab)
    assert t.insecure  # self-signed lab certificate: the lab only
    assert t.server("udp") == "udp:127.0.0.1:7248"
    assert t.server("wss") == "wss://127.0.0.1:7250/ws"
    acc = t.account(1001)
    assert acc.user == "1001" and isinstance(acc.password, Secret)
    assert acc.password.reveal() == lab.account(1001).password
    assert t.account("2001").webrtc
    assert t.facts() == {"host": "127.0.0.1", "domain": "127.0.0.1", "port": 7248,
                         "tls_port": 7249, "ws_port": 7251, "wss_port": 7250,
                         **t.servers}
    assert lab.account(1001).password not in repr(t)


def test_a_bare_target_string() -> None:
    t = Target.from_string("udp:pbx.example.net:7048")
    assert not t.insecure and t.accounts == {}
    assert t.server("tcp") == "tcp:pbx.example.net:7048"  # same port for TCP
    with pytest.raises(ProfileError, match="has no wss server"):
        t.server("wss")
    with pytest.raises(ProfileError, match="has no account 1001"):
        t.account("1001")
    with pytest.raises(ProfileError, match="bad target"):
        Target.from_string("udp:host:notaport")


def test_a_profile_with_password_file_and_env(tmp_path: Path) -> None:
    (tmp_path / "secret-1001").write_text("s3cret-one\nignored\n")
    profile = tmp_path / "cloud.yaml"
    profile.write_text(
        "target: udp:pbx.example.net:7048\n"
        "domain: example.net\n"
        "transports: {wss: \"wss://pbx.example.net:8089/ws\"}\n"
        "accounts:\n"
        "  \"1001\": {password_file: secret-1001}\n"
        "  1002: {password_env: PBX_1002, auth_user: auth1002}\n")
    t = Target.from_profile(profile, environ={"PBX_1002": "from-env"})
    assert t.domain == "example.net" and not t.insecure
    assert t.account("1001").password == Secret("s3cret-one")
    assert t.account(1002).password.reveal() == "from-env"
    assert t.account(1002).auth_user == "auth1002"
    assert t.facts()["wss_port"] == 8089
    assert t.server("tcp") == "tcp:pbx.example.net:7048"
    assert "s3cret" not in repr(t) and "from-env" not in repr(t)


@pytest.mark.parametrize("text,words", [
    ("accounts: {}\n", "target: is missing"),
    ("target: udp:h:1\ncolour: blue\n", "unknown key 'colour'"),
    ("target: udp:h:1\ntransports: {sctp: \"udp:h:2\"}\n", "transports.sctp: not a transport"),
    ("target: udp:h:1\ntransports: {tcp: \"udp:h:2\"}\n", "is a udp target, not tcp"),
    ("target: udp:h:1\naccounts: {\"1001\": {password_env: NOPE_NOT_SET}}\n",
     "accounts.1001.password_env: the environment variable NOPE_NOT_SET is not set"),
    ("target: udp:h:1\naccounts: {\"1001\": {password_file: missing}}\n",
     "accounts.1001.password_file: cannot read"),
    ("target: udp:h:1\naccounts: {\"1001\": {pasword: x}}\n", "accounts.1001: unknown key 'pasword'"),
    ("target: [1, 2\n", "not valid YAML"),
])
def test_profile_errors_name_the_key(tmp_path: Path, text: str, words: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(text)
    with pytest.raises(ProfileError) as info:
        Target.from_profile(profile, environ={})
    assert words in str(info.value)
    assert str(profile) in str(info.value)


def test_a_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read it"):
        Target.from_profile(tmp_path / "nope.yaml")
