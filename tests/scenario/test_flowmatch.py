"""expect_flow's matcher (sipclient.scenario.flowmatch): pure, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipclient.scenario.flowmatch import FlowPatternError, match_flow, parse_item

ECHO_CALL = ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"]
DOC_PATTERN = ["INVITE", 401, "ACK", "INVITE", "100?", "180|183?", 200, "ACK", "BYE", 200]


def test_the_documented_pattern_matches_an_echo_call() -> None:
    assert match_flow(DOC_PATTERN, ECHO_CALL).ok
    with_ringing = ECHO_CALL[:5] + ["183"] + ECHO_CALL[5:]
    assert match_flow(DOC_PATTERN, with_ringing).ok


def test_optional_either_class_and_star_items() -> None:
    assert match_flow(["INVITE", "100*", "1xx", "200"], ["INVITE", "180", "200"]).ok
    assert match_flow(["INVITE", "100*", "1xx", "200"], ["INVITE", "100", "100", "183", "200"]).ok
    assert not match_flow(["INVITE", "100*", "1xx", "200"], ["INVITE", "200"]).ok
    assert match_flow(["INVITE", "180|183", "200"], ["INVITE", "183", "200"]).ok
    assert not match_flow(["INVITE", "180|183", "200"], ["INVITE", "181", "200"]).ok
    assert match_flow(["REGISTER", "4xx", "REGISTER", "2xx"], ["REGISTER", "401", "REGISTER", "200"]).ok
    assert match_flow(["OPTIONS", "200+"], ["OPTIONS", "200", "200"]).ok


def test_optional_before_a_repeat_needs_no_greedy_luck() -> None:
    # "1xx?" could take the 100 that "100*" needs, or not: both paths are tried
    assert match_flow(["INVITE", "1xx?", "100*", "180", "200"], ["INVITE", "100", "100", "180", "200"]).ok


def test_a_divergence_names_the_position_the_item_expected_and_the_one_received() -> None:
    flow = ["INVITE", "401", "ACK", "INVITE", "100", "486", "ACK"]
    m = match_flow(DOC_PATTERN, flow)
    assert not m.ok
    assert m.position == 6
    assert m.received == "486"
    assert "200" in m.expected and "180|183?" in m.expected
    assert "message 6" in m.message and "received 486" in m.message
    text = m.explain()
    assert "expected: INVITE, 401, ACK" in text and "received: INVITE, 401, ACK, INVITE, 100, 486, ACK" in text


def test_a_flow_that_stops_early_or_goes_on_too_long() -> None:
    short = match_flow(["REGISTER", "401", "REGISTER", "200"], ["REGISTER", "401"])
    assert not short.ok and short.position == 3 and short.received == "the end of the flow"
    assert short.expected == "REGISTER"
    long = match_flow(["REGISTER", "200"], ["REGISTER", "200", "REGISTER", "200"])
    assert not long.ok and long.position == 3 and long.expected == "the end of the flow"


def test_in_order_subsequence_with_exact_false() -> None:
    assert match_flow(["INVITE", "200", "BYE"], ECHO_CALL, exact=False).ok
    missing = match_flow(["INVITE", "183", "BYE"], ECHO_CALL, exact=False)
    assert not missing.ok
    assert "item 2 (183)" in missing.expected
    assert "not found in order" in missing.message
    # order matters
    assert not match_flow(["BYE", "INVITE"], ECHO_CALL, exact=False).ok


@pytest.mark.parametrize("bad", ["", "1yx", "INVITE|", "70", "a b", True, None, 42.5])
def test_unreadable_items_are_named(bad) -> None:
    with pytest.raises(FlowPatternError) as info:
        match_flow(["INVITE", bad], ["INVITE"])
    assert "flow item 2" in str(info.value)


def test_one_syntax_with_pcap_flow_files() -> None:
    """expect_flow and pcap validate's flow files read items with one parser: "18x" (the
    flow files' partial status) and "+" (expect_flow's one or more) work in both."""
    from sipclient.pcap.flowspec import parse_pattern as flow_file_item

    flow = ["INVITE", "100", "180", "183", "200", "ACK"]
    assert match_flow(["INVITE", "100?", "18x+", "200", "ACK"], flow).ok
    assert not match_flow(["INVITE", "100?", "18x+", "200", "ACK"],
                          ["INVITE", "100", "200", "ACK"]).ok
    for text in ("18x+", "1xx", "180|183?", "100*", "invite"):
        assert flow_file_item(text) == parse_item(text)
    assert flow_file_item("18x").matches("183") and not flow_file_item("18x").matches("200")


def test_items_are_parsed_once_with_their_marks() -> None:
    item = parse_item("180|183?")
    assert item.optional and not item.repeat and item.alternatives == ("180", "183")
    assert parse_item("100*").repeat and parse_item("100*").optional
    assert parse_item("invite").matches("INVITE")


LABELS = st.sampled_from(["INVITE", "ACK", "BYE", "100", "180", "183", "200", "401", "486"])


@given(st.lists(LABELS, max_size=12))
def test_a_flow_always_matches_itself_and_any_subsequence(flow: list[str]) -> None:
    assert match_flow(flow, flow).ok
    assert match_flow(flow[::2], flow, exact=False).ok


@given(st.lists(LABELS, min_size=1, max_size=12), st.integers(min_value=0, max_value=11))
def test_changing_one_label_is_reported_at_its_position(flow: list[str], at: int) -> None:
    at %= len(flow)
    changed = list(flow)
    changed[at] = "603"
    m = match_flow(flow, changed)
    assert not m.ok and m.position == at + 1 and m.received == "603"
