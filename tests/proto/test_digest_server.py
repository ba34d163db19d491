"""Server side: nonces, verification reasons, client <-> server round trips."""

from __future__ import annotations

import dataclasses

import pytest

from sipclient.proto.digest import ALGORITHMS, DigestClient, parse_challenge, parse_credentials
from sipclient.proto.digest_server import (NONCE_LIFETIME, DigestServer, NonceState, NonceTracker,
                                           VerifyReason, check_nonce, make_challenge, make_nonce,
                                           verify)
from sipclient.proto.errors import LocalProtocolError

SECRET = b"lab secret"
T0 = 1609521111.25


def fixed_random(n: int) -> bytes:
    return bytes(range(1, n + 1))


def test_server_names_are_reexported_from_digest():
    from sipclient.proto import digest

    assert digest.verify is verify and digest.make_challenge is make_challenge


def test_nonce_is_asterisk_like_and_recognised():
    nonce = make_nonce(T0, SECRET, random_bytes=fixed_random)
    ts, _, rest = nonce.partition("/")
    assert ts == "1609521111" and len(rest) == 40 and int(rest, 16) >= 0
    assert check_nonce(nonce, SECRET, T0) is NonceState.FRESH
    issued = 1609521111  # the age counts from the whole second in the nonce
    assert check_nonce(nonce, SECRET, issued + NONCE_LIFETIME) is NonceState.FRESH
    assert check_nonce(nonce, SECRET, issued + NONCE_LIFETIME + 0.01) is NonceState.STALE
    assert check_nonce(nonce, b"other secret", T0) is NonceState.UNKNOWN
    assert check_nonce(nonce, SECRET, T0 - 60) is NonceState.UNKNOWN  # from the future
    assert check_nonce("1609521111/e77ebd577852317e85e4cfd479d3c3", SECRET, T0) \
        is NonceState.UNKNOWN
    forged = "1609521112/" + rest  # timestamp changed: MAC no longer matches
    assert check_nonce(forged, SECRET, T0) is NonceState.UNKNOWN


def test_make_challenge_value():
    ch = make_challenge("lab", T0, SECRET, algorithm="sha-256", opaque="op",
                        random_bytes=fixed_random)
    assert str(ch) == (f'Digest realm="lab", nonce="{ch.nonce}", opaque="op", '
                       'algorithm=SHA-256, qop="auth"')
    assert parse_challenge(str(ch)) == ch
    assert make_challenge("lab", T0, SECRET, stale=True).stale
    for bad in (dict(algorithm="SHA-1"), dict(qop=("auth-conf",))):
        with pytest.raises(LocalProtocolError):
            make_challenge("lab", T0, SECRET, **bad)
    with pytest.raises(LocalProtocolError):
        make_challenge("lab", T0, b"")
    with pytest.raises(LocalProtocolError):
        make_challenge("lab", float("nan"), SECRET)


def test_nonce_tracker():
    t = NonceTracker(max_nonces=2)
    assert t.update("a", 1) and t.update("a", 2) and not t.update("a", 2)
    assert not t.update("a", 1) and t.highest("a") == 2
    t.update("b", 1)
    t.update("c", 1)  # evicts "a", the least recently used
    assert t.highest("a") is None and t.highest("c") == 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("qop", [("auth",), ("auth-int",), ()])
def test_round_trip_every_algorithm(algorithm, qop):
    server = DigestServer("lab", SECRET, algorithm=algorithm, qop=qop, opaque="xyz",
                          random_bytes=fixed_random)
    client = DigestClient("6961", "s3cret", cnonce_source=lambda: "cn0nce")
    body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    ch = parse_challenge(str(server.challenge(T0)))
    value = client.authorization(ch, "INVITE", "sip:944511712@lab", body)
    cr = parse_credentials(value)
    assert cr.algorithm == algorithm
    result = server.verify(value, "INVITE", "s3cret", T0 + 1, body,
                           request_uri="sip:944511712@lab", username="6961")
    assert result.ok and bool(result) and str(result) == "ok"
    if qop == ("auth-int",):  # the body is covered
        assert server.verify(client.authorization(ch, "INVITE", "sip:944511712@lab", body),
                             "INVITE", "s3cret", T0 + 1, body + b"x").reason \
            is VerifyReason.WRONG_PASSWORD
    assert server.verify(client.authorization(ch, "INVITE", "sip:944511712@lab", body),
                         "INVITE", "wrong", T0 + 1, body).reason is VerifyReason.WRONG_PASSWORD


def test_wrong_password_reason_is_readable():
    server = DigestServer("lab", SECRET)
    client = DigestClient("alice", "typo")
    result = server.verify(client.respond(server.challenge(T0), "REGISTER", "sip:lab"),
                           "REGISTER", "right", T0)
    assert not result and result.reason is VerifyReason.WRONG_PASSWORD
    assert str(result).startswith("wrong password (response mismatch)")
    assert "right" not in str(result) and "typo" not in str(result)


def test_reused_nc_is_rejected_and_next_nc_accepted():
    server = DigestServer("lab", SECRET)
    client = DigestClient("alice", "pw")
    ch = server.challenge(T0)
    first = client.respond(ch, "REGISTER", "sip:lab")
    assert server.verify(first, "REGISTER", "pw", T0).ok
    replay = server.verify(first, "REGISTER", "pw", T0 + 1)
    assert replay.reason is VerifyReason.NC_NOT_INCREASING
    assert "nc=00000001 after 00000001" in str(replay)
    second = client.respond(ch, "REGISTER", "sip:lab")
    assert second.nc == "00000002" and server.verify(second, "REGISTER", "pw", T0 + 2).ok


def test_stale_nonce_then_retry_with_the_new_nonce():
    server = DigestServer("lab", SECRET)
    client = DigestClient("alice", "pw")
    old = server.challenge(T0)
    client.respond(old, "REGISTER", "sip:lab")
    late = T0 + NONCE_LIFETIME + 5
    result = server.verify(client.respond(old, "REGISTER", "sip:lab"), "REGISTER", "pw", late)
    assert result.reason is VerifyReason.STALE_NONCE
    new = parse_challenge(str(server.challenge(late, stale=True)))
    assert new.stale and client.auth_failed(new) is False
    assert server.verify(client.respond(new, "REGISTER", "sip:lab"), "REGISTER", "pw", late).ok
    # a stale nonce with a wrong password is a wrong password, not "stale"
    bad = DigestClient("alice", "nope").respond(old, "REGISTER", "sip:lab")
    assert server.verify(bad, "REGISTER", "pw", late).reason is VerifyReason.WRONG_PASSWORD


def test_unknown_nonce():
    server = DigestServer("lab", SECRET)
    foreign = parse_challenge('Digest realm="lab", nonce="1609521111/e77ebd577852317e85e4cfd479d'
                              '3c3", qop="auth"')
    cr = DigestClient("alice", "pw").respond(foreign, "REGISTER", "sip:lab")
    assert server.verify(cr, "REGISTER", "pw", T0).reason is VerifyReason.UNKNOWN_NONCE


def _ok_credentials(**change):
    ch = make_challenge("lab", T0, SECRET, qop=("auth",), random_bytes=fixed_random)
    cr = DigestClient("alice", "pw", cnonce_source=lambda: "cc").respond(ch, "MESSAGE", "sip:b@lab")
    return dataclasses.replace(cr, **change)


@pytest.mark.parametrize("change, kwargs, reason", [
    ({}, dict(expected_realm="other"), VerifyReason.WRONG_REALM),
    ({}, dict(request_uri="sip:c@lab"), VerifyReason.WRONG_URI),
    ({}, dict(username="bob"), VerifyReason.WRONG_USERNAME),
    (dict(algorithm="SHA-1"), {}, VerifyReason.UNSUPPORTED_ALGORITHM),
    (dict(algorithm="SHA-256"), dict(offered_algorithms=["MD5"]),
     VerifyReason.ALGORITHM_NOT_OFFERED),
    (dict(cnonce=None), {}, VerifyReason.MISSING_CNONCE),
    (dict(nc=None), {}, VerifyReason.MISSING_NC),
    (dict(qop="auth-int"), dict(offered_qop=["auth"]), VerifyReason.QOP_NOT_OFFERED),
    (dict(qop="auth-conf"), {}, VerifyReason.QOP_NOT_OFFERED),
    (dict(qop=None, nc=None, cnonce=None), dict(offered_qop=["auth"]), VerifyReason.MISSING_QOP),
    ({}, dict(opaque="expected"), VerifyReason.OPAQUE_MISMATCH),
    ({}, dict(secret=b"another", now=T0), VerifyReason.UNKNOWN_NONCE),
    (dict(response="zz\u00e9"), {}, VerifyReason.WRONG_PASSWORD),
])
def test_every_refusal_reason(change, kwargs, reason):
    assert verify(_ok_credentials(), "MESSAGE", "pw").ok
    result = verify(_ok_credentials(**change), "MESSAGE", "pw", **kwargs)
    assert result.reason is reason and not result
    assert str(result).startswith(reason.value)


def test_malformed_text_credentials_are_a_reason_not_an_exception():
    result = verify('Digest username="u"', "REGISTER", "pw")
    assert result.reason is VerifyReason.MALFORMED and "without realm" in str(result)


def test_response_case_is_ignored():
    cr = _ok_credentials()
    assert verify(dataclasses.replace(cr, response=cr.response.upper()), "MESSAGE", "pw").ok


def test_userhash_verify_needs_the_real_username():
    ch = make_challenge("lab", T0, SECRET, algorithm="SHA-256", userhash=True)
    cr = DigestClient("alice", "pw").respond(ch, "REGISTER", "sip:lab")
    assert cr.username != "alice"
    assert verify(cr, "REGISTER", "pw", username="alice").ok
    assert verify(cr, "REGISTER", "pw", username="bob").reason is VerifyReason.WRONG_USERNAME
    with pytest.raises(LocalProtocolError):
        verify(cr, "REGISTER", "pw")


def test_secret_needs_now():
    with pytest.raises(LocalProtocolError):
        verify(_ok_credentials(), "MESSAGE", "pw", secret=SECRET)


def test_server_repr_masks_secret():
    assert "lab secret" not in repr(DigestServer("lab", SECRET))
