"""A catastrophic regular expression in ``expect`` cannot hang the run (issue 18: ``(a+)+b``
against 30 ``a``s blocked the event loop for over 150 s, past the step's and the scenario's
timeouts): the match is bounded by ``regex_seconds`` and the step fails naming the pattern."""

from __future__ import annotations

import time

import pytest

from sipclient.proto.message import parse_message
from sipclient.scenario.matchers import Conditions, MatchError, capture_values


def message(value: str):
    return parse_message((f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                          f"Call-ID: x\r\nCSeq: 1 INVITE\r\nX-Evil: {value}\r\n"
                          f"Content-Length: 0\r\n\r\n").encode())


@pytest.mark.parametrize("pattern, value", [
    (r"(a+)+b", "a" * 30),                 # the example: linear on this engine
    (r"(a|aa)+$", "a" * 60 + "!"),         # exponential on a backtracking engine
    (r"(x+x+)+y", "x" * 5000),
])
def test_a_catastrophic_expect_pattern_fails_in_bounded_time(monkeypatch, pattern, value):
    monkeypatch.setenv("SIPCLIENT_LIMIT_REGEX_SECONDS", "0.2")
    cond = Conditions.from_args({"status": 200, "headers": {"X-Evil": pattern}})
    msg = message(value)
    started = time.monotonic()
    try:
        problems = cond.problems(msg)
    except MatchError as exc:
        assert f"/{pattern}/ took more than 0.2 s" in str(exc)
    else:
        assert problems and "does not match" in problems[0]
    assert time.monotonic() - started < 10


def test_a_catastrophic_capture_pattern_fails_in_bounded_time(monkeypatch):
    monkeypatch.setenv("SIPCLIENT_LIMIT_REGEX_SECONDS", "0.2")
    started = time.monotonic()
    with pytest.raises(MatchError, match=r"capture v: the regular expression .* took more"):
        capture_values(message("a" * 60 + "!"), {"v": {"header": "X-Evil",
                                                        "regex": r"(a|aa)+$"}})
    assert time.monotonic() - started < 10


def test_ordinary_patterns_still_match_and_capture():
    cond = Conditions.from_args({"status": 200, "headers": {"X-Evil": r"^ticket-\d+$"}})
    assert cond.problems(message("ticket-42")) == []
    assert capture_values(message("ticket-42"), {"n": {"header": "X-Evil",
                                                        "regex": r"(\d+)"}}) == {"n": "42"}
