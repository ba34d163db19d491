"""The lean REGISTER core (sipclient.load.leanreg) with a fake clock and a scripted
registrar: no sockets. Every REGISTER it sends is read back with the full parser, and every
digest it computes is checked by the project's own digest server."""

from __future__ import annotations

import pytest

from sipclient.load.leanreg import T1, T2, LeanRegistrar
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats
from sipclient.proto.builders import build_response
from sipclient.proto.digest_server import DigestServer
from sipclient.proto.message import Request, parse_message

SERVER = ("127.0.0.1", 5070)
LOCAL = ("127.0.0.1", 5062)
PASSWORDS = {"1001": "pw-1001", "1002": "pw-1002", "1003": "pw-1003"}


def make(users=("1001",), calls: int = 1, concurrency: int = 10, refresh: bool = False,
         expires: int = 3600, timeout: float = 32.0, rate=None,
         passwords=PASSWORDS) -> LeanRegistrar:
    spec = LoadSpec(kind="register", target="udp:127.0.0.1:5070", users=tuple(users),
                    calls=calls, concurrency=concurrency, refresh=refresh, expires=expires,
                    timeout=timeout, rate=rate)
    return LeanRegistrar(spec, local=LOCAL, server=SERVER, domain="127.0.0.1",
                         stats=LoadStats(1000.0), passwords=dict(passwords), token="t0k",
                         wall_offset=1000.0)


def sent(reg: LeanRegistrar) -> list[Request]:
    out = [parse_message(d) for d in reg.out]
    reg.out.clear()
    assert all(isinstance(m, Request) and m.method == "REGISTER" for m in out)
    return out  # type: ignore[return-value]


def answer(req: Request, status: int, headers=()) -> bytes:
    if status == 200:
        contact = req.headers.get("Contact")
        expires = req.headers.get("Expires")
        headers = [("Contact", f"<sip:other@10.0.0.9:5060>;expires=99, "
                               f"{contact};expires={expires}"), *headers]
    return build_response(req, status, "X", to_tag="reg-tag", headers=list(headers)).serialize()


class Registrar:
    """Challenges each REGISTER without credentials, verifies the digest of the others."""

    def __init__(self, **kw) -> None:
        self.digest = DigestServer("asterisk", b"secret", **kw)
        self.verified: list[str] = []

    def __call__(self, reg: LeanRegistrar, req: Request, now: float, status: int = 200,
                 granted: int | None = None) -> None:
        creds = req.headers.get("Authorization") or req.headers.get("Proxy-Authorization")
        if creds is None:
            reg.receive(answer(req, 401, [("WWW-Authenticate",
                                           str(self.digest.challenge(now)))]), SERVER, now)
            return
        user = req.from_.uri.user
        result = self.digest.verify(creds, "REGISTER", PASSWORDS[user], now,
                                    request_uri=req.uri, username=user)
        assert result.ok, str(result)
        self.verified.append(user)
        data = answer(req, status)
        if granted is not None:
            data = data.replace(b";expires=%s" % req.headers.get("Expires").encode(),
                                b";expires=%d" % granted)
        reg.receive(data, SERVER, now)


def test_register_401_digest_200_then_removed_at_the_end():
    reg = make()
    registrar = Registrar()
    reg.tick(0.0)
    [first] = sent(reg)
    assert first.uri == "sip:127.0.0.1" and first.cseq.seq == 1
    assert first.from_.uri.user == "1001" and first.to.uri.user == "1001"
    assert first.headers.get("Contact") == "<sip:1001@127.0.0.1:5062>"
    assert first.headers.get("Expires") == "3600"
    assert first.top_via.params["branch"].startswith("z9hG4bK")
    registrar(reg, first, 0.010)
    [retry] = sent(reg)
    assert retry.cseq.seq == 2 and retry.call_id == first.call_id
    assert retry.top_via.params["branch"] != first.top_via.params["branch"]
    registrar(reg, retry, 0.025)  # verified by the digest server (qop=auth, nc, cnonce)
    s = reg.stats
    assert (s.attempted, s.completed, s.failed) == (1, 1, 0)
    assert dict(s.by_status) == {"200": 1}
    assert s.histograms["register_ms"].get_max_value() == pytest.approx(25_000, rel=0.01)
    # the instance is over: now the binding is removed (Expires: 0), challenge included
    assert not reg.finished
    reg.tick(0.03)
    [remove] = sent(reg)
    assert remove.headers.get("Expires") == "0" and remove.cseq.seq == 3
    assert remove.call_id == first.call_id
    registrar(reg, remove, 0.04)
    [remove2] = sent(reg)
    assert remove2.cseq.seq == 4
    registrar(reg, remove2, 0.05)
    assert reg.finished and registrar.verified == ["1001", "1001"]
    assert (s.attempted, s.completed) == (1, 1)  # the removal is not an instance


def test_each_user_has_its_own_call_id_and_password_and_instances_cycle():
    reg = make(users=("1001", "1002", "1003"), calls=4, concurrency=4)
    registrar = Registrar(qop=())  # Kamailio's challenge: no qop
    reg.tick(0.0)
    firsts = sent(reg)
    # the 4th instance is 1001 again: it waits for 1001's REGISTER in flight
    assert [r.from_.uri.user for r in firsts] == ["1001", "1002", "1003"]
    assert len({r.call_id for r in firsts}) == 3
    for req in firsts:
        registrar(reg, req, 0.01)
    for req in sent(reg):
        assert "qop" not in req.headers.get("Authorization")
        registrar(reg, req, 0.02)
    [again] = sent(reg)  # 1001's second instance, same Call-ID, next CSeq
    assert again.from_.uri.user == "1001" and again.call_id == firsts[0].call_id
    assert again.cseq.seq == 3
    registrar(reg, again, 0.03)
    registrar(reg, sent(reg)[0], 0.04)
    assert reg.stats.completed == 4 and registrar.verified == ["1001", "1002", "1003", "1001"]


def test_retransmitted_at_t1_doubling_to_t2_and_given_up_at_the_timeout():
    reg = make(timeout=10.0)
    assert reg.tick(0.0) == pytest.approx(T1)
    [first] = sent(reg)
    times, now = [], 0.0
    nxt = T1
    while not reg.stats.failed:
        now = nxt
        nxt = reg.tick(now)
        if reg.out:
            times.append(now)
            assert [r.top_via.params["branch"] for r in sent(reg)] == \
                [first.top_via.params["branch"]]
    assert times == pytest.approx([0.5, 1.5, 3.5, 7.5])  # then T2 = 4 s: 11.5 > 10
    assert now == pytest.approx(10.0)
    assert reg.retransmissions == 4
    assert dict(reg.stats.by_reason) == {"timeout": 1}
    assert reg.finished  # nothing was registered, so nothing to remove


def test_a_1xx_slows_the_retransmissions_to_t2():
    reg = make()
    reg.tick(0.0)
    [first] = sent(reg)
    reg.receive(answer(first, 100), SERVER, 0.1)
    now = reg.tick(0.5)
    assert sent(reg) and now == pytest.approx(0.5 + T2)


def test_wrong_password_is_a_failure_by_status_and_not_answered_twice():
    reg = make(passwords={"1001": "wrong"})
    registrar = Registrar()
    reg.tick(0.0)
    [first] = sent(reg)
    registrar(reg, first, 0.01)
    [retry] = sent(reg)
    reg.receive(answer(retry, 401, [("WWW-Authenticate",
                                     str(registrar.digest.challenge(0.02)))]), SERVER, 0.02)
    assert sent(reg) == []  # one answer per REGISTER, then the failure
    assert dict(reg.stats.by_status) == {"401": 1}
    assert dict(reg.stats.by_reason) == {"4xx": 1}
    reg.tick(0.03)
    assert reg.finished


def test_407_and_a_sha256_challenge_go_through_the_general_digest_client():
    reg = make()
    server = DigestServer("asterisk", b"secret", algorithm="SHA-256")
    reg.tick(0.0)
    [first] = sent(reg)
    reg.receive(answer(first, 407, [("Proxy-Authenticate", str(server.challenge(0.0)))]),
                SERVER, 0.01)
    [retry] = sent(reg)
    creds = retry.headers.get("Proxy-Authorization")
    assert "SHA-256" in creds
    assert server.verify(creds, "REGISTER", PASSWORDS["1001"], 0.01, request_uri=retry.uri)


def test_refresh_at_half_the_granted_expiry_until_the_end_then_removed():
    reg = make(refresh=True, expires=60, timeout=20.0)
    registrar = Registrar()
    reg.tick(0.0)
    registrar(reg, sent(reg)[0], 0.0)
    registrar(reg, sent(reg)[0], 0.0, granted=10)  # the registrar grants 10 s
    assert reg.stats.completed == 0  # the instance holds its binding
    refreshes = []
    now, nxt = 0.0, reg.tick(0.0)
    while nxt < 19.0:
        now = nxt
        nxt = reg.tick(now)
        for req in sent(reg):
            refreshes.append(now)
            assert req.headers.get("Expires") == "60"
            registrar(reg, req, now)
            registrar(reg, sent(reg)[0], now, granted=10)
    assert refreshes == pytest.approx([5.0, 10.0, 15.0])
    # the run ends --hold + --timeout after the last start: the instance completes ...
    assert nxt == pytest.approx(20.0)
    reg.tick(nxt)
    assert reg.stats.completed == 1
    assert reg.stats.histograms["register_ms"].get_total_count() == 4
    # ... and its binding is removed
    [remove] = sent(reg)
    assert remove.headers.get("Expires") == "0"


def test_stop_ends_held_bindings_at_once_and_removes_them():
    reg = make(users=("1001", "1002"), calls=2, refresh=True)
    registrar = Registrar()
    reg.tick(0.0)
    for req in sent(reg):
        registrar(reg, req, 0.0)
    for req in sent(reg):
        registrar(reg, req, 0.0)
    assert reg.stats.completed == 0
    reg.stop(1.0)
    assert reg.stats.completed == 2
    reg.tick(1.0)
    removes = sent(reg)
    assert sorted(r.from_.uri.user for r in removes) == ["1001", "1002"]
    assert all(r.headers.get("Expires") == "0" for r in removes)


def test_responses_for_unknown_registrations_and_garbage_are_counted_and_dropped():
    reg = make()
    reg.tick(0.0)
    [first] = sent(reg)
    other = parse_message(bytes(first).replace(first.call_id.encode(), b"someone-else"))
    reg.receive(answer(other, 200), SERVER, 0.01)
    reg.receive(b"\x00garbage", SERVER, 0.01)
    assert (reg.strays, reg.garbage) == (1, 1)
    assert reg.stats.completed == 0 and reg.out == []


def test_a_request_from_the_registrar_is_answered():
    reg = make()
    options = (b"OPTIONS sip:1001@127.0.0.1:5062 SIP/2.0\r\n"
               b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt\r\n"
               b"From: <sip:reg@127.0.0.1>;tag=r\r\nTo: <sip:1001@127.0.0.1>\r\n"
               b"Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    reg.receive(options, SERVER, 0.0)
    [(data, addr)] = reg.out_to
    assert data.startswith(b"SIP/2.0 200 ") and addr == SERVER


def test_rate_paces_the_starts():
    reg = make(users=("1001", "1002", "1003"), calls=3, rate=10.0)
    assert reg.tick(0.0) == pytest.approx(0.1) and reg.stats.attempted == 0
    assert reg.tick(0.1) == pytest.approx(0.2) and reg.stats.attempted == 1
    assert reg.tick(0.2) == pytest.approx(0.3) and reg.stats.attempted == 2
    reg.tick(0.3)
    assert reg.stats.attempted == 3 and len(sent(reg)) == 3


def test_one_challenge_line_for_many_users_each_answers_with_its_own_password():
    # Kamailio hands out the same nonce for a while: the line is read once, yet each user
    # answers with its own HA1, the opaque echoed; a new realm gets a new HA1
    reg = make(users=("1001", "1002", "1003"), calls=3, concurrency=3)
    server = DigestServer("asterisk", b"secret", qop=(), opaque="op4que")
    reg.tick(0.0)
    firsts = sent(reg)
    challenge = [("WWW-Authenticate", str(server.challenge(0.0)))]
    for req in firsts:
        reg.receive(answer(req, 401, challenge), SERVER, 0.01)
    retries = sent(reg)
    assert len(retries) == 3
    for req in retries:
        user = req.from_.uri.user
        creds = req.headers.get("Authorization")
        assert 'opaque="op4que"' in creds and f'username="{user}"' in creds
        assert server.verify(creds, "REGISTER", PASSWORDS[user], 0.01, request_uri=req.uri,
                             username=user).ok
        assert not server.verify(creds, "REGISTER", "pw-other", 0.01,
                                 request_uri=req.uri, username=user).ok
        reg.receive(answer(req, 200), SERVER, 0.02)
    assert reg.stats.completed == 3
    # the removals meet another realm
    other = DigestServer("elsewhere", b"secret2", qop=())
    reg.tick(0.03)
    removes = sent(reg)
    for req in removes:
        reg.receive(answer(req, 401, [("WWW-Authenticate", str(other.challenge(0.03)))]),
                    SERVER, 0.03)
    for req in sent(reg):
        user = req.from_.uri.user
        creds = req.headers.get("Authorization")
        assert 'realm="elsewhere"' in creds
        assert other.verify(creds, "REGISTER", PASSWORDS[user], 0.03, request_uri=req.uri,
                            username=user).ok
