"""The text ladder: columns per participant, arrows the right way, retransmissions marked."""

from __future__ import annotations

from pathlib import Path

from sipclient.agent.trace import TraceEntry
from sipclient.pcap.ladder import (LadderMessage, from_trace, mark_retransmissions,
                                   render_text)
from sipclient.proto.message import parse_message

MESSAGES = Path(__file__).resolve().parent.parent / "data" / "messages"
PHONE, PBX, OTHER = "201.46.59.189:32670", "10.0.0.1:7048", "10.0.0.9:5060"


def msg(time, src, dst, name) -> LadderMessage:
    text = (MESSAGES / name).read_bytes().decode()
    m = parse_message(text.encode())
    label = f"{m.method} {m.uri}" if m.is_request else f"{m.status} {m.reason}"
    return LadderMessage(time, src, dst, label, text, m.call_id, "UDP")


def register_flow() -> list[LadderMessage]:
    return [
        msg(10.0, PHONE, PBX, "seed001_register.sip"),
        msg(10.5, PHONE, PBX, "seed001_register.sip"),  # retransmitted: same bytes
        msg(10.52, PBX, PHONE, "asterisk_401_register.sip"),
        msg(11.25, PBX, OTHER, "seed001_invite1.sip"),
        msg(11.5, OTHER, PBX, "asterisk_200_register.sip"),
    ]


def arrow_rows(text: str) -> list[tuple[str, str]]:
    """(label line, arrow line) pairs after the header."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if set(line.strip()) == {"|", " "}) + 1
    body = lines[start:]
    return list(zip(body[0::2], body[1::2]))


def test_columns_arrows_labels_and_time_offsets():
    text = render_text(register_flow(), names={PHONE: "phone", "10.0.0.1": "asterisk"})
    lines = text.splitlines()
    assert lines[0].split() == ["phone", "asterisk", OTHER]
    assert lines[1].split() == [PHONE, PBX, OTHER]
    cols = [lines[1].index(a) + len(a) // 2 for a in (PHONE, PBX, OTHER)]
    rows = arrow_rows(text)
    assert len(rows) == 5
    label, arrow = rows[0]
    assert "REGISTER sip:widecloud.intelbras.com.br:7048" in label
    assert arrow.split()[0] == "+0.000"
    # left to right from the phone's lifeline to the PBX's, head at the PBX
    assert arrow[cols[0]] == "|" and arrow[cols[1]] == "|" and arrow[cols[1] - 1] == ">"
    assert set(arrow[cols[0] + 1:cols[1] - 1]) == {"-"}
    label, arrow = rows[2]
    assert "401 Unauthorized" in label and arrow.split()[0] == "+0.520"
    assert arrow[cols[0] + 1] == "<" and arrow[cols[1] - 1] == "-"
    label, arrow = rows[3]  # PBX -> third party: nothing drawn between the first two columns
    assert arrow.split()[0] == "+1.250"
    assert set(arrow[cols[0] + 1:cols[1]]) == {" "} and arrow[cols[2] - 1] == ">"
    assert rows[4][1][cols[1] + 1] == "<"


def test_a_retransmission_is_marked_and_a_new_transaction_is_not():
    rows = arrow_rows(render_text(register_flow()))
    assert "retransmission" not in rows[0][0]
    assert "(retransmission)" in rows[1][0] and "REGISTER" in rows[1][0]
    assert not any("retransmission" in label for label, _ in rows[2:])
    first = register_flow()[0]
    authed = LadderMessage(12.0, PHONE, PBX, first.label,
                           first.text.replace("CSeq: 57949", "CSeq: 57950"), first.call_id,
                           "UDP")
    assert mark_retransmissions([first, authed]) == [False, False]
    # the same bytes to another party is not a retransmission
    assert mark_retransmissions([first, LadderMessage(12.0, PHONE, OTHER, first.label,
                                                      first.text, None, "UDP")]) == [False, False]


def test_narrow_output_keeps_the_retransmission_mark_and_the_width():
    text = render_text(register_flow(), width=60)
    assert max(len(line) for line in text.splitlines()) <= 60
    labels = [label for label, _ in arrow_rows(text)]
    assert "(rtx)" in labels[1] or "(retransmission)" in labels[1]
    assert text == render_text(register_flow(), width=60)  # deterministic


def test_rtp_streams_are_bands_between_the_hosts_of_the_parties():
    stream = {"src": ("10.0.0.1", 12000), "dst": ("10.0.0.9", 20000), "codec": "PCMU",
              "ssrc": 0x1234ABCD, "packets": 250, "lost": 3, "mean_jitter_ms": 0.31,
              "max_jitter_ms": 1.2, "mos": 4.38, "first_time": 11.75}
    text = render_text(register_flow(), width=140, streams=[stream])
    lines = text.splitlines()
    assert lines[0].split() == [PHONE, PBX, OTHER]  # no new column: drawn on the hosts' lines
    label, band = arrow_rows(text)[-1]
    assert "RTP PCMU ssrc=0x1234abcd 250 pkts, 3 lost, jitter 0.31/1.20 ms, MOS 4.38" in label
    assert band.split()[0] == "+1.750" and "=>" in band and "====" in band


def _entry(time, direction, local, remote, name):
    data = (MESSAGES / name).read_bytes()
    return TraceEntry(time, direction, "udp", local, remote, data, parse_message(data))


def test_from_trace_merges_agents_and_draws_a_message_between_two_of_them_once():
    a, b, pbx = ("127.0.0.1", 5061), ("127.0.0.1", 5062), ("127.0.0.1", 7048)
    alice = [_entry(1.0, "out", a, pbx, "seed001_register.sip"),
             _entry(1.01, "in", a, pbx, "asterisk_401_register.sip"),
             _entry(2.0, "out", a, b, "seed001_invite1.sip")]
    bob = [_entry(2.001, "in", b, a, "seed001_invite1.sip"),
           _entry(2.5, "out", b, a, "asterisk_200_register.sip")]
    names: dict[str, str] = {}
    messages = from_trace({"alice": alice, "bob": bob}, names)
    assert [(m.src, m.dst, m.label.split()[0]) for m in messages] == [
        ("127.0.0.1:5061", "127.0.0.1:7048", "REGISTER"),
        ("127.0.0.1:7048", "127.0.0.1:5061", "401"),
        ("127.0.0.1:5061", "127.0.0.1:5062", "INVITE"),
        ("127.0.0.1:5062", "127.0.0.1:5061", "200"),
    ]
    assert names == {"127.0.0.1:5061": "alice", "127.0.0.1:5062": "bob"}
    m = messages[1]
    assert m.label == "401 Unauthorized" and m.transport == "UDP"
    assert m.call_id == "pqCa151br258ne2EFAMi8VTicQXSwYp1O2J9"
    assert m.text == (MESSAGES / "asterisk_401_register.sip").read_bytes().decode()
    assert render_text(messages, names).splitlines()[0].split() == ["alice", "127.0.0.1:7048",
                                                                    "bob"]
    # one agent's trace alone: nothing is merged
    assert len(from_trace(alice)) == 3


def test_ipv6_addresses_and_unparsable_messages():
    e = TraceEntry(1.0, "out", "tcp", ("::1", 5060), ("::1", 7048), b"\x00garbage\r\n", None)
    (m,) = from_trace([e])
    assert (m.src, m.dst, m.call_id, m.transport) == ("[::1]:5060", "[::1]:7048", None, "TCP")
    assert "garbage" in m.label
    assert "[::1]:5060" in render_text([m])


def test_no_messages():
    assert render_text([]) == "(no SIP messages)\n"


def test_control_characters_cannot_reach_the_terminal():
    """A hostile capture's URI or garbage line must not carry escape sequences to a tty."""
    evil = LadderMessage(1.0, PHONE, PBX, "INVITE sip:\x1b[2J\x1b]0;pwned\x07@x\x9b",
                         "INVITE ...", None, "UDP")
    text = render_text([evil], names={PHONE: "ph\x1bone"})
    assert not any(ch in text for ch in "\x1b\x07\x9b")
    assert "INVITE sip:?[2J?]0;pwned?@x?" in text and "ph?one" in text


def test_addresses_too_wide_for_their_column_keep_their_ports():
    text = render_text(register_flow(), names={PBX: "pbx"}, width=60)
    lines = text.splitlines()
    assert lines[0].split() == ["pbx"]
    assert lines[1].split() == ["201.46.59.189", "10.0.0.1", "10.0.0.9"]
    assert lines[2].split() == [":32670", ":7048", ":5060"]
    # each part is centred on its lifeline
    life = [i for i, ch in enumerate(lines[3]) if ch == "|"]
    for line in lines[1:3]:
        for word, x in zip(line.split(), life):
            start = line.index(word)
            assert start <= x < start + len(word)
