"""Mutated corpus messages: only ParseError may escape (parse, every typed view, bytes()).

Default run: 300 examples per test. Scale up with ``HYPOTHESIS_PROFILE=fuzz`` (20,000) or
``SIPCLIENT_FUZZ_EXAMPLES=<n>``.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipclient.proto.errors import ParseError
from sipclient.proto.framer import StreamFramer
from sipclient.proto.message import REQUEST_VIEWS, TYPED_VIEWS, parse_message

DATA = Path(__file__).resolve().parent.parent / "data" / "messages"
CORPUS = [p.read_bytes() for p in sorted(DATA.glob("*.sip"))]

_default = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 300
EXAMPLES = int(os.environ.get("SIPCLIENT_FUZZ_EXAMPLES", _default))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# bytes that matter to the grammar, so mutations hit interesting places
SPECIAL = st.sampled_from(list(b'\r\n \t:;,<>"\\=@[]?&%/0123456789\x00\xff\xc3') + [0x7f])


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(SPECIAL)
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8) | st.builds(bytes, st.lists(SPECIAL, min_size=1, max_size=4)))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[i:]
        else:
            j = draw(st.integers(i, min(len(data), i + 40)))
            data[j:j] = data[i:j]
    return bytes(data)


def touch_everything(msg):
    for name in TYPED_VIEWS + (REQUEST_VIEWS if msg.is_request else ()):
        try:
            value = getattr(msg, name)
        except ParseError:
            continue
        for item in value if isinstance(value, list) else [value]:
            str(item)
            for attr in ("branch", "rport", "ttl", "tag", "expires", "q", "instance",
                         "transport", "host_port"):
                try:
                    getattr(item, attr, None)
                except ParseError:
                    pass
    bytes(msg)
    msg.headers.add("X-Fuzz", "1")  # force a re-serialization from the stored headers
    out = bytes(msg)
    again = parse_message(out)
    assert again.body == msg.body


@FUZZ
@given(mutated())
def test_only_parse_error_escapes(data):
    try:
        msg = parse_message(data)
    except ParseError as exc:
        assert exc.reason
        return
    assert bytes(msg) == data[len(data) - len(data.lstrip(b"\r\n")):][:len(bytes(msg))]
    touch_everything(msg)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    try:
        touch_everything(parse_message(data))
    except ParseError:
        pass


@FUZZ
@given(mutated(), st.lists(st.integers(1, 64), min_size=1, max_size=30))
def test_framer_only_parse_error(data, cuts):
    f = StreamFramer(max_message_size=4096)
    pos = 0
    for n in cuts + [len(data)]:
        chunk = data[pos:pos + n]
        pos += n
        try:
            for event in f.feed(chunk):
                if hasattr(event, "headers"):
                    touch_everything(event)
        except ParseError:
            if f.broken:
                return
