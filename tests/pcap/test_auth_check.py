"""``pcap auth-check``: each reason on crafted exchanges, a public capture, and our own runs
against the lab (one wrong password among right ones)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.pcap.auth_check import PasswordFileError, Passwords, check_auth
from sipclient.pcap.read import SipPacket
from sipclient.proto.digest import compute_response
from sipclient.proto.message import parse_message

PUBLIC = Path("/work/shared/captures-public")
PASSWORD = "s3cret-pw"


class Exchange:
    PHONE, PBX = ("10.1.1.5", 5060), ("10.1.1.1", 5060)

    def __init__(self) -> None:
        self.packets: list[SipPacket] = []
        self.t = 100.0
        self.cseq = 0

    def _add(self, text: str, out: bool, dt: float) -> None:
        self.t += dt
        raw = text.replace("\n", "\r\n").encode()
        src, dst = (self.PHONE, self.PBX) if out else (self.PBX, self.PHONE)
        self.packets.append(SipPacket(len(self.packets) + 1, self.t, src, dst, "udp",
                                      parse_message(raw), raw))

    def register(self, cid: str, *, auth: str = "", dt: float = 0.01) -> None:
        self.cseq += 1
        self._add(f"REGISTER sip:lab SIP/2.0\nVia: SIP/2.0/UDP 10.1.1.5;branch=z9hG4bK{cid}{self.cseq}\n"
                  f"From: <sip:1001@lab>;tag=a\nTo: <sip:1001@lab>\nCall-ID: {cid}\n"
                  f"CSeq: {self.cseq} REGISTER\n{auth}Content-Length: 0\n\n", True, dt)

    def answer(self, cid: str, status: int, *, nonce: str = "", realm: str = "asterisk",
               extra: str = "", algorithm: str = "MD5", dt: float = 0.01) -> None:
        chal = (f'WWW-Authenticate: Digest realm="{realm}",nonce="{nonce}",opaque="op",'
                f'algorithm={algorithm},qop="auth"{extra}\n') if status == 401 else ""
        reason = {401: "Unauthorized", 200: "OK"}[status]
        self._add(f"SIP/2.0 {status} {reason}\nVia: SIP/2.0/UDP 10.1.1.5;branch=z9hG4bK{cid}{self.cseq}\n"
                  f"From: <sip:1001@lab>;tag=a\nTo: <sip:1001@lab>;tag=b\nCall-ID: {cid}\n"
                  f"CSeq: {self.cseq} REGISTER\n{chal}Content-Length: 0\n\n", False, dt)


def creds(nonce: str, *, password: str = PASSWORD, uri: str = "sip:lab", realm: str = "asterisk",
          nc: str = "00000001", algorithm: str = "MD5", cnonce: str = "cn",
          user: str = "1001") -> str:
    response = compute_response(username=user, realm=realm, password=password,
                                 method="REGISTER", uri=uri, nonce=nonce, algorithm=algorithm,
                                 qop="auth", nc=nc, cnonce=cnonce)
    return (f'Authorization: Digest username="{user}",realm="{realm}",nonce="{nonce}",'
            f'uri="{uri}",response="{response}",algorithm={algorithm},cnonce="{cnonce}",'
            f'opaque="op",qop=auth,nc={nc}\n')


def one(ex: Exchange, passwords: str = PASSWORD) -> list[str]:
    return [f"{c.verdict}: {c.reason}" for c in check_auth(ex.packets, Passwords.parse(passwords))]


def challenged(cid: str = "c1", nonce: str = "1700000000/abc") -> Exchange:
    ex = Exchange()
    ex.register(cid)
    ex.answer(cid, 401, nonce=nonce)
    return ex


def test_right_credentials_are_ok_and_point_at_their_challenge() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"))
    ex.answer("c1", 200)
    checks = check_auth(ex.packets, Passwords.parse(PASSWORD))
    assert [(c.frame, c.verdict, c.user, c.challenge_frame, c.server_status) for c in checks] == \
        [(3, "ok", "1001", 2, 200)]
    assert PASSWORD not in repr(checks) and PASSWORD not in checks[0].line()


def test_wrong_password() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc", password="other"))
    ex.answer("c1", 401, nonce="1700000000/def")
    assert one(ex) == ["wrong: wrong password (response mismatch): user '1001'"]


def test_wrong_uri() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc", uri="sip:elsewhere"))
    assert one(ex) == ["wrong: uri does not match the request URI: uri 'sip:elsewhere', "
                       "request URI 'sip:lab'"]


def test_stale_nonce_when_the_server_says_so() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"), dt=40)
    ex.answer("c1", 401, nonce="1700000040/new", extra=",stale=true")
    assert one(ex) == ["wrong: stale nonce (expired, password was right): the server "
                       "answered 401 stale=true"]


def test_stale_nonce_by_age_when_the_server_challenged_again() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"), dt=45)
    ex.answer("c1", 401, nonce="1700000045/new")
    assert one(ex) == ["wrong: stale nonce (expired, password was right): nonce 45 s old "
                       "(lifetime 32 s)"]


def test_reused_nonce_with_the_same_nc_is_a_replay() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"))
    ex.answer("c1", 200)
    ex.register("c1", auth=creds("1700000000/abc"))  # a new request, the same nc
    ex.answer("c1", 200)
    ex.register("c1", auth=creds("1700000000/abc", nc="00000002"))  # nc increases: fine
    assert one(ex) == ["ok: ok",
                       "wrong: nonce count not increasing (replay): nc=00000001 after 00000001",
                       "ok: ok"]


def test_a_retransmission_is_checked_once() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"))
    ex.packets.append(ex.packets[-1])  # the same datagram again
    assert one(ex) == ["ok: ok"]


def test_an_ack_repeating_the_invites_credentials_is_not_checked_again() -> None:
    ex = Exchange()
    invite = ("{method} sip:600@lab SIP/2.0\nVia: SIP/2.0/UDP 10.1.1.5;branch=z9hG4bKi{n}\n"
              "From: <sip:1001@lab>;tag=a\nTo: <sip:600@lab>{tt}\nCall-ID: inv\n"
              "CSeq: {seq} {method}\n{auth}Content-Length: 0\n\n")
    ex._add(invite.format(n=1, tt="", seq=1, method="INVITE", auth=""), True, 0.01)
    ex._add("SIP/2.0 401 Unauthorized\nVia: SIP/2.0/UDP 10.1.1.5;branch=z9hG4bKi1\n"
            "From: <sip:1001@lab>;tag=a\nTo: <sip:600@lab>;tag=b\nCall-ID: inv\n"
            'CSeq: 1 INVITE\nWWW-Authenticate: Digest realm="asterisk",nonce="n1",'
            'opaque="op",algorithm=MD5,qop="auth"\nContent-Length: 0\n\n', False, 0.01)
    response = compute_response(username="1001", realm="asterisk", password=PASSWORD,
                                method="INVITE", uri="sip:600@lab", nonce="n1",
                                algorithm="MD5", qop="auth", nc="00000001", cnonce="cn")
    auth = (f'Authorization: Digest username="1001",realm="asterisk",nonce="n1",'
            f'uri="sip:600@lab",response="{response}",algorithm=MD5,cnonce="cn",'
            f'opaque="op",qop=auth,nc=00000001\n')
    ex._add(invite.format(n=2, tt="", seq=2, method="INVITE", auth=auth), True, 0.01)
    ex._add(invite.format(n=3, tt=";tag=b", seq=2, method="ACK", auth=auth), True, 0.01)
    assert [(c.method, c.verdict) for c in
            check_auth(ex.packets, Passwords.parse(PASSWORD))] == [("INVITE", "ok")]


def test_algorithm_not_offered() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc", algorithm="SHA-256"))
    assert one(ex) == ["wrong: algorithm was not offered: algorithm=SHA-256"]


def test_realm_mismatch() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc", realm="pbx.example"))
    assert one(ex) == ["wrong: wrong realm: expected 'asterisk', got 'pbx.example'"]


def test_unknown_nonce() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1699999999/zzz"))
    ex.answer("c1", 401, nonce="1700000001/abd")
    assert one(ex) == ["wrong: unknown nonce (not issued by us): no challenge in the capture "
                       "issued '1699999999/zzz'; this call's last challenge (frame 2) issued "
                       "another"]


def test_a_nonce_the_server_accepted_without_its_challenge_in_the_capture() -> None:
    ex = Exchange()
    ex.register("c1", auth=creds("1699999999/zzz"))
    ex.answer("c1", 200)
    assert one(ex) == ["ok: ok (its challenge is not in the capture)"]


def test_per_user_passwords_and_a_user_without_one() -> None:
    ex = challenged()
    ex.register("c1", auth=creds("1700000000/abc"))
    ex.register("c1", auth=creds("1700000000/abc", user="1002", nc="00000002"))
    assert one(ex, f"1001:{PASSWORD}\n# comment\n1003:x\n") == [
        "ok: ok", "unchecked: no password for user '1002' in the password file"]


def test_a_single_line_with_a_colon_is_both_a_user_entry_and_a_password() -> None:
    pw = Passwords.parse("1001:abc")
    assert pw.lookup("1001") == "abc" and pw.lookup("1002") == "1001:abc"
    assert "abc" not in repr(pw)


def test_a_bad_password_file_names_the_line_but_never_shows_it() -> None:
    with pytest.raises(PasswordFileError) as info:
        Passwords.parse("1001:good\nsecret-without-user\n", "pw.txt")
    assert str(info.value).startswith("pw.txt:2: expected user:password")
    assert "secret-without-user" not in str(info.value)


def test_public_capture_with_an_unknown_password_is_wrong_password_throughout(tmp_path) -> None:
    pwfile = tmp_path / "pw"
    pwfile.write_text("not-their-password\n")
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "auth-check", str(PUBLIC / "aaa.pcap"), "--password-file",
                   str(pwfile), "--json"], Env(stdout=out, stderr=err))
    assert status == 1, err.getvalue()
    data = json.loads(out.getvalue())
    assert data["checked"] == 12 and data["wrong"] == 12
    assert {r["reason"].split(":")[0] for r in data["requests"]} == \
        {"wrong password (response mismatch)"}
    assert {r["method"] for r in data["requests"]} == {"REGISTER", "INVITE"}
    assert "not-their-password" not in out.getvalue() + err.getvalue()


def test_cli_errors_are_one_line_with_their_exit_code(tmp_path) -> None:
    pwfile = tmp_path / "pw"
    pwfile.write_text("a:b\nnot a pair\n")
    garbage = tmp_path / "x.pcap"
    garbage.write_bytes(b"this is not a capture at all")
    single = tmp_path / "single"
    single.write_text("one-password\n")
    for argv, code, text in [
        (["pcap", "auth-check", str(PUBLIC / "aaa.pcap"), "--password-file", str(pwfile)], 65,
         f"{pwfile}:2: expected user:password"),
        (["pcap", "auth-check", str(garbage), "--password-file", str(single)],
         65, "x.pcap"),
        (["pcap", "auth-check", str(tmp_path / "missing.pcap"), "--password-file", str(pwfile)],
         2, "no such file"),
    ]:
        out, err = io.StringIO(), io.StringIO()
        assert main(argv, Env(stdout=out, stderr=err)) == code
        assert text in err.getvalue() and len(err.getvalue().splitlines()) == 1
        assert "not a pair" not in err.getvalue()


@pytest.mark.lab
@pytest.mark.asyncio
async def test_finds_the_wrong_password_among_our_own_registrations(lab, tmp_path) -> None:
    import asyncio

    from sipclient.agent import Agent, AgentConfig, AuthenticationFailed, Secret
    from sipclient.pcap.writer import PcapWriter

    server = f"udp:{lab.config.probe_host}:{lab.config.sip_port}"
    right, wrong = ("1018", "1019", "1020"), "1010"

    async def run(writer: PcapWriter) -> None:
        for ext in right:
            cfg = AgentConfig(user=ext, server=server, capture=writer,
                              password=Secret(lab.account(ext).password))
            async with Agent(cfg) as agent:
                assert (await agent.register()).ok
        cfg = AgentConfig(user=wrong, server=server, capture=writer,
                          password=Secret("not-" + lab.account(wrong).password))
        async with Agent(cfg) as agent:
            with pytest.raises(AuthenticationFailed):
                await agent.register()

    path = tmp_path / "runs.pcap"
    with path.open("wb") as f:
        await asyncio.wait_for(run(PcapWriter(f)), 60)
    pwfile = tmp_path / "passwords"
    pwfile.write_text("".join(f"{ext}:{lab.account(ext).password}\n" for ext in (*right, wrong)))
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "auth-check", str(path), "--password-file", str(pwfile)],
                  Env(stdout=out, stderr=err))
    lines = out.getvalue().splitlines()
    assert status == 1, err.getvalue()
    assert lines[-1] == "7 challenged requests: 6 ok, 1 wrong"  # 3 x (REGISTER, un-REGISTER) + 1
    bad = [ln for ln in lines if "WRONG" in ln]
    assert len(bad) == 1 and f"{wrong}@asterisk" in bad[0]
    assert "wrong password (response mismatch)" in bad[0]
    assert all(lab.account(e).password not in out.getvalue() for e in (*right, wrong))
