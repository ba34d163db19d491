"""Digest header values, known vectors, challenge choice and the client side."""

from __future__ import annotations

import pytest

from sipclient.proto.digest import (ALGORITHMS, Challenge, Credentials, DigestClient,
                                    UnsupportedChallenge, canonical_algorithm, challenge_header_for,
                                    choose_challenge, compute_response, header_name_for,
                                    is_auth_failure, parse_challenge, parse_credentials, userhash)
from sipclient.proto.errors import LocalProtocolError, ParseError

# --- known vectors -------------------------------------------------------------------------


def test_rfc2617_section_3_5_md5_auth():
    assert compute_response(
        username="Mufasa", realm="testrealm@host.com", password="Circle Of Life",
        method="GET", uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth", nc="00000001", cnonce="0a4f113b",
    ) == "6629fae49393a05397450978507c4ef1"


RFC7616 = dict(
    username="Mufasa", realm="http-auth@example.org", password="Circle of Life", method="GET",
    uri="/dir/index.html", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", qop="auth",
    nc=1, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")


@pytest.mark.parametrize("algorithm, expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_section_3_9_1(algorithm, expected):
    assert compute_response(algorithm=algorithm, **RFC7616) == expected


def test_rfc7616_section_3_9_1_through_the_client():
    ch = parse_challenge(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    client = DigestClient("Mufasa", "Circle of Life",
                          cnonce_source=lambda: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    cr = client.respond(ch, "GET", "/dir/index.html")
    assert cr.response == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    assert cr.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    assert (cr.qop, cr.nc, cr.algorithm) == ("auth", "00000001", "SHA-256")


@pytest.mark.skipif("SHA-512-256" not in ALGORITHMS, reason="hashlib lacks SHA-512/256")
def test_rfc7616_section_3_9_2_userhash_sha512_256_with_erratum_4897():
    # The RFC as printed has a username hash and response that are not those of its inputs;
    # erratum 4897 corrects both (uri /doe.json).
    ch = parse_challenge(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true')
    assert ch.userhash and ch.charset == "UTF-8"
    client = DigestClient("J\u00e4s\u00f8n Doe", "Secret, or not?",
                          cnonce_source=lambda: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
    cr = client.respond(ch, "GET", "/doe.json")
    assert cr.username == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert cr.response == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    assert cr.userhash and "userhash=true" in str(cr)


def test_no_qop_is_rfc2069_style():
    # KD(HA1, nonce:HA2), RFC 2617 sec. 3.2.2.1 (the RFC 2617 sec. 3.5 inputs, no qop)
    import hashlib

    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5("Mufasa:testrealm@host.com:Circle Of Life")
    ha2 = md5("GET:/dir/index.html")
    assert compute_response(
        username="Mufasa", realm="testrealm@host.com", password="Circle Of Life", method="GET",
        uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
    ) == md5(f"{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}")


def test_auth_int_hashes_the_body_and_sess_uses_cnonce():
    import hashlib

    sha = lambda s: hashlib.sha256(s if isinstance(s, bytes) else s.encode()).hexdigest()  # noqa
    body = b"v=0\r\n"
    ha1 = sha(sha("u:r:p") + ":n:c")
    ha2 = sha("INVITE:sip:x@y:" + sha(body))
    expected = sha(f"{ha1}:n:00000002:c:auth-int:{ha2}")
    assert compute_response(username="u", realm="r", password="p", method="INVITE",
                            uri="sip:x@y", nonce="n", algorithm="sha-256-SESS", qop="auth-int",
                            nc=2, cnonce="c", body=body) == expected


def test_compute_response_misuse_is_local_error():
    base = dict(username="u", realm="r", password="p", method="M", uri="u", nonce="n")
    with pytest.raises(LocalProtocolError, match="unsupported digest algorithm"):
        compute_response(algorithm="SHA-1", **base)
    with pytest.raises(LocalProtocolError, match="nc and cnonce"):
        compute_response(qop="auth", **base)
    with pytest.raises(LocalProtocolError, match="cnonce"):
        compute_response(algorithm="MD5-sess", **base)
    with pytest.raises(LocalProtocolError, match="qop"):
        compute_response(qop="auth-conf", nc=1, cnonce="c", **base)


def test_algorithm_tokens_are_case_insensitive():
    assert canonical_algorithm("md5") == "MD5"
    assert canonical_algorithm(None) == "MD5"
    assert canonical_algorithm("sha-512-256-SESS") == "SHA-512-256-sess"
    assert canonical_algorithm("SHA-1") is None
    assert userhash("Mufasa", "r", "md5") == userhash("Mufasa", "r", "MD5")


# --- the seed's Authorization (an Intelbras phone against Asterisk) --------------------------

SEED_AUTHORIZATION = (
    'Digest username="6961", realm="xhand", nonce="1609521111/e77ebd577852317e85e4cfd479d3c3", '
    'uri="sip:944511712@widecloud.intelbras.com.br:7048;transport=udp", '
    'response="12c56ed0827828fe3e1c43211be2067c", algorithm=md5, '
    'cnonce="cf4nYIbocl8SsGhwsI3Xj2yVMmYStDx0zT", opaque="6c9b520111a7b797", qop=auth, '
    'nc=00000001')


def test_seed_authorization_fields():
    cr = parse_credentials(SEED_AUTHORIZATION)
    assert cr.scheme == "Digest"
    assert (cr.username, cr.realm) == ("6961", "xhand")
    assert cr.nonce == "1609521111/e77ebd577852317e85e4cfd479d3c3"
    assert cr.uri == "sip:944511712@widecloud.intelbras.com.br:7048;transport=udp"
    assert cr.response == "12c56ed0827828fe3e1c43211be2067c"
    assert (cr.qop, cr.nc, cr.nc_value) == ("auth", "00000001", 1)
    assert cr.algorithm == "md5" and cr.algorithm_name == "MD5"
    assert cr.opaque == "6c9b520111a7b797"
    assert cr.cnonce == "cf4nYIbocl8SsGhwsI3Xj2yVMmYStDx0zT"
    assert [n for n, _ in cr.params] == ["username", "realm", "nonce", "uri", "response",
                                         "algorithm", "cnonce", "opaque", "qop", "nc"]
    assert str(cr) == SEED_AUTHORIZATION  # same order and quoting as the phone


# --- parsing and serializing ---------------------------------------------------------------

def test_parse_challenge_all_fields():
    ch = parse_challenge(
        '  Digest   realm = "atlanta.com" ,domain="sip:ss1.carrier.com sip:ss2.carrier.com",'
        ' nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=TRUE, algorithm=MD5,'
        ' qop="auth,auth-int", charset=UTF-8, userhash=false, x-foo="a \\"b\\" \\\\c", ,')
    assert ch.is_digest and ch.realm == "atlanta.com"
    assert ch.domain == ("sip:ss1.carrier.com", "sip:ss2.carrier.com")
    assert ch.nonce == "f84f1cec41e6cbe5aea9c8e88d359" and ch.opaque == ""
    assert ch.stale is True and ch.userhash is False
    assert ch.algorithm == "MD5" and ch.qop == ("auth", "auth-int")
    assert ch.extra == (("x-foo", 'a "b" \\c'),)
    again = parse_challenge(str(ch))
    assert again == ch and again.extra == ch.extra


def test_asterisk_challenge():
    ch = parse_challenge('Digest realm="asterisk",nonce="1609521111/e77ebd577852317e85e4cfd479d3'
                         'c3",opaque="6c9b520111a7b797",algorithm=md5,qop="auth"')
    assert (ch.realm, ch.opaque, ch.algorithm_name, ch.qop) == (
        "asterisk", "6c9b520111a7b797", "MD5", ("auth",))
    assert ch.stale is False and ch.params[0] == ("realm", "asterisk")


def test_str_quotes_per_rfc():
    cr = Credentials(username='a"b', realm="r", nonce="n", uri="sip:x", response="ab",
                     algorithm="SHA-256", cnonce="c", qop="auth", nc="0000000a")
    text = str(cr)
    assert 'username="a\\"b"' in text
    assert "algorithm=SHA-256" in text and "qop=auth" in text and "nc=0000000a" in text
    assert parse_credentials(text) == cr
    ch = Challenge(realm="r", nonce="n", qop=("auth",), algorithm="MD5", stale=True)
    assert str(ch) == 'Digest realm="r", nonce="n", stale=true, algorithm=MD5, qop="auth"'


def test_str_refuses_header_injection():
    with pytest.raises(LocalProtocolError):
        str(Challenge(realm="r\r\nVia: x", nonce="n"))


def test_username_star_is_decoded():
    cr = parse_credentials("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", "
                           'nonce="n", uri="/", response="00"')
    assert cr.username == "J\u00e4s\u00f8n Doe"


def test_other_schemes_parse_as_challenges():
    assert parse_challenge('Basic realm="x"').realm == "x"
    bearer = parse_challenge("Bearer abc.def==")
    assert bearer.token68 == "abc.def==" and str(bearer) == "Bearer abc.def=="


@pytest.mark.parametrize("value, reason", [
    ("", "expected an authentication scheme"),
    ('Digest realm="r"', "without nonce"),
    ('Digest nonce="n"', "without realm"),
    ('Digest nonce="n", realm="r', "unterminated quoted string"),
    ('Digest realm="r" nonce="n"', "expected ','"),
    ('Digest realm="r", realm="s", nonce="n"', "duplicate parameter 'realm'"),
    ('Digest realm=, nonce="n"', "has no value"),
    ('Digest realm="r\x00", nonce="n"', "control character"),
    ('Digest realm="r", nonce="n", Basic realm="x"', "expected '='"),
    ("Digest abc", "expected '='"),
])
def test_malformed_challenges(value, reason):
    with pytest.raises(ParseError, match=reason) as info:
        parse_challenge(value)
    assert info.value.header == "WWW-Authenticate"


@pytest.mark.parametrize("value, reason", [
    ('Bearer xyz', "not Digest credentials"),
    ('Digest username="u", realm="r", nonce="n", uri="/"', "without response"),
    ('Digest username="u", realm="r", nonce="n", uri="/", response="x", nc=zz', "nc must be"),
    ("Digest username*=UTF-8''%FF, realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\"",
     "username\\*"),
])
def test_malformed_credentials(value, reason):
    with pytest.raises(ParseError, match=reason) as info:
        parse_credentials(value, header="Proxy-Authorization")
    assert info.value.header == "Proxy-Authorization"


# --- several challenges ----------------------------------------------------------------------

def _ch(alg: str | None, **kw) -> str:
    return f'Digest realm="r", nonce="n-{alg}"' + (f", algorithm={alg}" if alg else "") + "".join(
        f', {k}="{v}"' for k, v in kw.items())


def test_choose_strongest():
    offered = [_ch("MD5"), _ch("SHA-256-sess"), 'Basic realm="r"', _ch("SHA-512-256"),
               _ch("SHA-1")]
    if "SHA-512-256" in ALGORITHMS:
        assert choose_challenge(offered).algorithm == "SHA-512-256"
    assert choose_challenge(offered[:3]).algorithm == "SHA-256-sess"
    assert choose_challenge(offered, policy="first").algorithm == "MD5"
    assert choose_challenge([_ch(None)]).algorithm_name == "MD5"


def test_choose_none_supported_is_a_clear_error():
    with pytest.raises(UnsupportedChallenge) as info:
        choose_challenge([_ch("SHA-1"), 'Basic realm="x"', _ch("MD5", qop="auth-conf"),
                          "Digest garbage"])
    msg = str(info.value)
    assert "no supported Digest challenge" in msg
    assert "algorithm SHA-1" in msg and "scheme Basic" in msg and "qop auth-conf" in msg
    assert "malformed" in msg
    assert isinstance(info.value, ParseError)
    with pytest.raises(UnsupportedChallenge):
        choose_challenge([])


def test_header_names():
    assert header_name_for(401) == "Authorization"
    assert header_name_for(407) == "Proxy-Authorization"
    assert challenge_header_for(407) == "Proxy-Authenticate"
    with pytest.raises(LocalProtocolError):
        header_name_for(403)


# --- client ----------------------------------------------------------------------------------

def counter_cnonce():
    n = iter(range(1, 10**6))
    return lambda: f"c{next(n)}"


def test_client_nonce_count_increases_and_resets_per_nonce():
    client = DigestClient("alice", "pw", cnonce_source=counter_cnonce())
    a = parse_challenge('Digest realm="r", nonce="A", qop="auth"')
    b = parse_challenge('Digest realm="r", nonce="B", qop="auth"')
    ncs = [client.respond(a, "REGISTER", "sip:r").nc for _ in range(3)]
    assert ncs == ["00000001", "00000002", "00000003"]
    first_b = client.respond(b, "REGISTER", "sip:r")
    assert first_b.nc == "00000001" and first_b.cnonce == "c4"
    assert client.respond(a, "REGISTER", "sip:r").nc == "00000004"
    assert client.nonce_count("A") == 4


def test_client_without_qop_sends_no_nc_or_cnonce():
    client = DigestClient("alice", "pw", cnonce_source=lambda: "c")
    cr = client.respond('Digest realm="r", nonce="n"', "INVITE", "sip:bob@r")
    assert (cr.qop, cr.nc, cr.cnonce, cr.algorithm) == (None, None, None, None)
    assert str(cr) == ('Digest username="alice", realm="r", nonce="n", uri="sip:bob@r", '
                       f'response="{cr.response}"')


def test_client_password_is_masked():
    client = DigestClient("alice", "hunter2")
    assert "hunter2" not in repr(client) and "hunter2" not in str(client)
    assert "***" in repr(client)


def test_client_prefers_auth_but_uses_auth_int_when_only_offered():
    client = DigestClient("u", "p", cnonce_source=lambda: "c")
    assert client.respond(_ch("MD5", qop="auth-int,auth"), "M", "u").qop == "auth"
    assert client.respond(_ch("MD5", qop="auth-int"), "M", "u", b"x").qop == "auth-int"


def test_client_refuses_unsupported_challenge():
    client = DigestClient("u", "p")
    with pytest.raises(UnsupportedChallenge):
        client.respond(_ch("SHA-1"), "M", "u")
    with pytest.raises(UnsupportedChallenge):
        client.respond('Basic realm="x"', "M", "u")


def test_stale_means_retry_and_a_second_plain_challenge_means_failure():
    client = DigestClient("u", "p", cnonce_source=lambda: "c")
    first = parse_challenge(_ch("MD5", qop="auth"))
    assert client.auth_failed(first) is False  # nothing sent yet: answer it
    sent = client.respond(first, "REGISTER", "sip:r")
    stale = parse_challenge('Digest realm="r", nonce="new", stale=true, qop="auth"')
    assert client.auth_failed(stale) is False
    again = parse_challenge('Digest realm="r", nonce="new2", qop="auth"')
    assert client.auth_failed(again) is True
    # stale=true but the same nonce we used: the server is looping, give up
    assert is_auth_failure(parse_challenge(_ch("MD5", stale="true")), sent) is True
    # another realm (a proxy after the registrar) is a new challenge, not a failure
    assert is_auth_failure(parse_challenge('Digest realm="proxy", nonce="x"'), sent) is False
    client.forget()
    assert client.auth_failed(again) is False
