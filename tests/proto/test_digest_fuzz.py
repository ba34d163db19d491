"""Fuzz: the digest parsers raise only ParseError, and what they accept re-serializes."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sipclient.proto.digest import choose_challenge, parse_challenge, parse_credentials
from sipclient.proto.digest_server import verify
from sipclient.proto.errors import ParseError

SEEDS = [
    'Digest username="6961", realm="xhand", nonce="1609521111/e77ebd577852317e85e4cfd479d3c3", '
    'uri="sip:944511712@widecloud.intelbras.com.br:7048;transport=udp", '
    'response="12c56ed0827828fe3e1c43211be2067c", algorithm=md5, '
    'cnonce="cf4nYIbocl8SsGhwsI3Xj2yVMmYStDx0zT", opaque="6c9b520111a7b797", qop=auth, '
    'nc=00000001',
    'Digest realm="asterisk",nonce="1609521111/e77ebd",opaque="6c9b",algorithm=md5,qop="auth"',
    'Digest realm="a", domain="sip:a sip:b", nonce="n", stale=TRUE, qop="auth,auth-int", '
    'userhash=true, charset=UTF-8, x="\\"q\\\\"',
    "Digest username*=UTF-8''J%C3%A4s, realm=\"r\", nonce=\"n\", uri=\"/\", response=\"00\"",
    "Bearer abc.def==",
]
ALPHABET = st.sampled_from(list('Digest =",\\\'*%/:;@abcnruqo0129\t\r\n\x00\x7f\u00e9\udc80'))


def check(parse, value):
    try:
        parsed = parse(value)
    except ParseError:
        return
    # what parses must serialize to a value that parses to the same thing
    assert parse(str(parsed)) == parsed


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        ch = draw(st.one_of(ALPHABET, st.characters()))
        if op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "replace":
            text = text[:i] + ch + text[i + 1:]
        else:
            text = text[:i]
    return text


FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(st.text(), st.text(ALPHABET), mutated()))
@example("Digest realm=\"\\")
@example("Digest realm=\"\udc80\", nonce=\"n\"")
def test_parse_challenge_raises_only_parse_error(value):
    check(parse_challenge, value)
    try:
        choose_challenge([value])
    except ParseError:
        pass


@FUZZ
@given(st.one_of(st.text(), st.text(ALPHABET), mutated()))
@example("Digest username*=UTF-8''%C3, realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0\"")
def test_parse_credentials_raises_only_parse_error(value):
    check(parse_credentials, value)
    # verify() on remote text never raises either
    verify(value, "REGISTER", "pw", b"", secret=b"s", now=0.0)


def test_non_text_is_a_parse_error():
    for value in (None, b"Digest realm=x", 5):
        try:
            parse_challenge(value)  # type: ignore[arg-type]
        except ParseError:
            pass
        else:  # pragma: no cover
            raise AssertionError("accepted non-text")
