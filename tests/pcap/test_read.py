"""The capture reader on captures built byte by byte: file formats, link layers, IPv6
fragments, tunnels, TCP reassembly, WebSocket, RTP/DTMF through SDP, damaged input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipclient.pcap.decode.errors import CaptureError
from sipclient.pcap.decode.tcp import TcpDirection
from sipclient.pcap.decode.websocket import WebSocketReader, unmask
from sipclient.pcap.read import iter_packets, read_capture

from tests.pcap import frames as f

A, B = "10.0.0.1", "10.0.0.2"


def write(tmp_path, data: bytes, name: str = "c.pcap") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def udp_frame(payload: bytes, src=A, dst=B, sport=5060, dport=5060, **kw) -> bytes:
    return f.ether(f.ipv4(src, dst, 17, f.udp(sport, dport, payload)), **kw)


# -- file formats ------------------------------------------------------------------------------

@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path, nano, big_endian):
    data = f.pcap([(1700000000.123456789, udp_frame(f.REGISTER)),
                   (1700000001.5, udp_frame(b"\x01noise"))], nano=nano, big_endian=big_endian)
    cap = read_capture(write(tmp_path, data))
    assert cap.file_type == "pcap" and cap.packets == 2
    (msg,) = cap.sip
    assert msg.message.method == "REGISTER" and msg.frame == 1
    assert msg.time == pytest.approx(1700000000.123456789, abs=1e-6 if not nano else 1e-6)
    assert (msg.src, msg.dst, msg.transport) == ((A, 5060), (B, 5060), "udp")


def test_pcap_nanoseconds_keep_sub_microsecond_steps(tmp_path):
    t0 = 1000.0
    data = f.pcap([(t0 + 0.000000250, udp_frame(f.REGISTER)),
                   (t0 + 0.000000750, udp_frame(f.REGISTER))], nano=True)
    cap = read_capture(write(tmp_path, data))
    assert cap.sip[1].time - cap.sip[0].time == pytest.approx(500e-9, abs=1e-12)


def test_pcapng_several_interfaces_each_with_its_link_type_and_resolution(tmp_path):
    raw_ip = f.ipv4(A, B, 17, f.udp(5060, 5060, f.sip_request("OPTIONS", "o@x", 1)))
    data = f.pcapng(
        [(1, None), (101, 9), (113, 0x80 | 20)],       # us, ns, 2**-20 s
        [(0, 10.5, udp_frame(f.REGISTER)),
         (1, 11.25, raw_ip),
         (2, 12.0, f.sll(f.ipv4(B, A, 17, f.udp(5060, 5060, f.sip_response(
             200, "OK", "o@x", 1, "OPTIONS")))))])
    cap = read_capture(write(tmp_path, data, "c.pcapng"))
    assert cap.file_type == "pcapng" and cap.packets == 3
    assert [p.label for p in cap.sip] == ["REGISTER", "OPTIONS", "200"]
    assert [round(p.time, 6) for p in cap.sip] == [10.5, 11.25, 12.0]


def test_pcapng_simple_packet_block_uses_the_first_interface(tmp_path):
    data = f.pcapng([(1, None)], [(0, 1.0, udp_frame(b"\x00"))], simple=udp_frame(f.REGISTER))
    cap = read_capture(write(tmp_path, data, "c.pcapng"))
    assert cap.packets == 2 and [p.frame for p in cap.sip] == [2]


# -- link layers and tunnels -------------------------------------------------------------------

@pytest.mark.parametrize("vlans", [(), (100,), (100, 200)])
def test_ethernet_with_802_1q_and_qinq(tmp_path, vlans):
    cap = read_capture(write(tmp_path, f.pcap([(1.0, udp_frame(f.REGISTER, vlans=vlans))])))
    assert [p.label for p in cap.sip] == ["REGISTER"]


@pytest.mark.parametrize("linktype, wrap", [
    (113, lambda ip: f.sll(ip)),
    (276, lambda ip: f.sll2(ip)),
    (101, lambda ip: ip),
    (228, lambda ip: ip),
    (0, lambda ip: struct.pack("<I", 2) + ip),      # BSD null, host order
    (108, lambda ip: struct.pack(">I", 2) + ip),    # OpenBSD loop, network order
])
def test_link_types(tmp_path, linktype, wrap):
    ip = f.ipv4(A, B, 17, f.udp(5070, 5060, f.REGISTER))
    cap = read_capture(write(tmp_path, f.pcap([(1.0, wrap(ip))], linktype=linktype)))
    assert [(p.label, p.src) for p in cap.sip] == [("REGISTER", (A, 5070))]


def test_raw_ipv6_linktype_229(tmp_path):
    ip = f.ipv6("2001:db8::1", "2001:db8::2", 17, f.udp(5060, 5060, f.REGISTER))
    cap = read_capture(write(tmp_path, f.pcap([(1.0, ip)], linktype=229)))
    assert cap.sip[0].src == ("2001:db8::1", 5060)


@pytest.mark.parametrize("erspan", ["I", "II", "III", "III+platform", "TEB"])
def test_erspan_over_gre(tmp_path, erspan):
    inner = udp_frame(f.REGISTER, src="192.168.1.5")
    if erspan == "I":
        encap = f.gre(inner, 0x88BE)
    elif erspan == "II":
        encap = f.gre(struct.pack("!II", 0x1000_0001, 0) + inner, 0x88BE, seq=7)
    elif erspan == "III":
        encap = f.gre(struct.pack("!III", 0x2000_0001, 0, 0) + inner, 0x22EB, seq=7)
    elif erspan == "III+platform":
        encap = f.gre(struct.pack("!III", 0x2000_0001, 0, 1) + b"\0" * 8 + inner, 0x22EB,
                      seq=7)
    else:
        encap = f.gre(inner, 0x6558, key=5)
    outer = f.ether(f.ipv4("172.16.0.1", "172.16.0.2", 47, encap))
    cap = read_capture(write(tmp_path, f.pcap([(1.0, outer)])))
    assert [(p.label, p.src[0]) for p in cap.sip] == [("REGISTER", "192.168.1.5")]


def test_wireshark_upper_pdu_with_sip_tag_and_addresses(tmp_path):
    def tag(t, value):
        value += b"\0" * (-len(value) % 4)
        return struct.pack("!HH", t, len(value)) + value
    pdu = (tag(12, b"sip") + tag(20, bytes([10, 0, 0, 9])) + tag(21, bytes([10, 0, 0, 10]))
           + tag(24, struct.pack("!I", 2)) + tag(25, struct.pack("!I", 40000))
           + tag(26, struct.pack("!I", 5061)) + struct.pack("!HH", 0, 0) + f.REGISTER)
    other = tag(12, b"dns") + struct.pack("!HH", 0, 0) + b"\x00\x01"
    cap = read_capture(write(tmp_path, f.pcap([(1.0, pdu), (2.0, other)], linktype=252)))
    (p,) = cap.sip
    assert (p.src, p.dst, p.transport) == (("10.0.0.9", 40000), ("10.0.0.10", 5061), "tls")


# -- IP fragments ------------------------------------------------------------------------------

def big_invite() -> bytes:
    body = f.sdp(A, 4000) + b"".join(b"a=x-filler:%d\r\n" % i for i in range(200))
    return f.sip_request("INVITE", "frag@x", 1, body)


@pytest.mark.parametrize("order", ["in-order", "reversed"])
def test_ipv6_fragments_reassembled(tmp_path, order):
    msg = big_invite()
    pieces = f.ipv6_fragments("2001:db8::1", "2001:db8::2", 17, f.udp(5060, 5060, msg),
                              size=1232, ident=0x1234)
    assert len(pieces) >= 3
    if order == "reversed":
        pieces = pieces[::-1]
    frames = [(1.0 + i / 100, f.ether(p, 0x86DD)) for i, p in enumerate(pieces)]
    cap = read_capture(write(tmp_path, f.pcap(frames)))
    (p,) = cap.sip
    assert p.raw == msg and p.frame == len(pieces) and p.src == ("2001:db8::1", 5060)


def test_ipv4_fragments_reassembled(tmp_path):
    msg = big_invite()
    seg = f.udp(5060, 5060, msg)
    cut = 1480
    frames = [(1.0, f.ether(f.ipv4(A, B, 17, seg[:cut], ident=9, frag=0x2000))),
              (1.1, f.ether(f.ipv4(A, B, 17, seg[cut:], ident=9, frag=cut // 8)))]
    cap = read_capture(write(tmp_path, f.pcap(frames)))
    assert [p.raw for p in cap.sip] == [msg]


# -- TCP and WebSocket -------------------------------------------------------------------------

def test_tcp_direction_reorders_and_drops_retransmissions():
    d = TcpDirection()
    assert d.segment(1000, 0x02, b"") == b""                       # SYN: data starts at 1001
    assert d.segment(1006, 0x18, b"world") == b""                  # early: held
    assert d.segment(1001, 0x18, b"hello") == b"helloworld"
    assert d.segment(1001, 0x18, b"hello") == b""                  # retransmission
    assert d.segment(1008, 0x18, b"rld!!") == b"!!"                # overlap: only new bytes
    assert d.retransmissions == 1


def test_sip_over_tcp_split_coalesced_out_of_order_and_retransmitted(tmp_path):
    first = f.sip_request("INVITE", "tcp@x", 1, f.sdp(A, 4000))
    second = f.sip_response(200, "OK", "tcp@x", 1, "INVITE", f.sdp(B, 5000))
    stream = first + second
    # segments: [0:100] [100:300] [300:] — sent out of order, one retransmitted
    segs = [(0, stream[:100]), (300, stream[300:]), (100, stream[100:300]), (300, stream[300:])]
    frames = [(1.0, f.ether(f.ipv4(A, B, 6, f.tcp(40000, 5060, 5000, b"", flags=0x02))))]
    for i, (off, data) in enumerate(segs):
        frames.append((2.0 + i, f.ether(f.ipv4(A, B, 6, f.tcp(40000, 5060, 5001 + off, data)))))
    cap = read_capture(write(tmp_path, f.pcap(frames)))
    assert [(p.label, p.transport, p.frame) for p in cap.sip] == [("INVITE", "tcp", 4),
                                                                  ("200", "tcp", 4)]
    assert cap.sip[0].raw == first and cap.sip[1].raw == second


def test_tcp_capture_starting_mid_message_resyncs_on_the_next_start_line(tmp_path):
    msg = f.sip_request("OPTIONS", "mid@x", 2)
    data = b"ength: 0\r\n\r\n" + msg
    frames = [(1.0, f.ether(f.ipv4(A, B, 6, f.tcp(40000, 5060, 77, data))))]
    cap = read_capture(write(tmp_path, f.pcap(frames)))
    assert [p.label for p in cap.sip] == ["OPTIONS"]


def ws_frame(payload: bytes, mask: bytes | None, opcode: int = 1, fin: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    else:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    if mask:
        return head + mask + unmask(payload, mask)
    return head + payload


def test_websocket_unmasks_and_joins_fragments():
    r = WebSocketReader()
    msg = f.sip_request("OPTIONS", "ws@x", 1)
    data = (ws_frame(msg[:50], b"\x01\x02\x03\x04", fin=False)
            + ws_frame(b"", b"\x09\x09\x09\x09", opcode=9)                       # ping
            + ws_frame(msg[50:], b"\xaa\xbb\xcc\xdd", opcode=0))
    assert r.feed(data[:7]) == [] and r.feed(data[7:]) == [msg] and r.control_frames == 1


def test_sip_over_websocket_after_the_http_upgrade(tmp_path):
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    accept = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
              b"\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    req = f.sip_request("INVITE", "ws@x", 1, f.sdp(A, 4000))
    resp = f.sip_response(486, "Busy Here", "ws@x", 1, "INVITE")
    c2s = upgrade + ws_frame(req, b"\x11\x22\x33\x44")
    s2c = accept + ws_frame(resp, None) + ws_frame(b"\r\n\r\n", None)     # keep-alive
    frames = [(1.0, f.ether(f.ipv4(A, B, 6, f.tcp(50000, 8080, 1, c2s[:100])))),
              (1.1, f.ether(f.ipv4(A, B, 6, f.tcp(50000, 8080, 101, c2s[100:])))),
              (1.2, f.ether(f.ipv4(B, A, 6, f.tcp(8080, 50000, 1, s2c))))]
    cap = read_capture(write(tmp_path, f.pcap(frames)))
    assert [(p.label, p.transport) for p in cap.sip] == [("INVITE", "ws"), ("486", "ws")]
    assert cap.sip[0].raw == req
    (d,) = cap.dialogs
    assert d.disposition == "busy (486)"


# -- RTP, DTMF and dialogs ---------------------------------------------------------------------

def call_capture(loss: set[int] = frozenset(), hold: bool = False) -> bytes:
    frames = []
    t = 100.0
    offer = f.sip_request("INVITE", "call@x", 1, f.sdp(A, 4000))
    answer_sdp = f.sdp("0.0.0.0" if hold else B, 6000, "8 96",
                       "a=rtpmap:96 telephone-event/8000\r\n")
    frames.append((t, udp_frame(offer)))
    frames.append((t + 0.5, udp_frame(f.sip_response(180, "Ringing", "call@x", 1, "INVITE"),
                                      src=B, dst=A)))
    frames.append((t + 2.0, udp_frame(f.sip_response(200, "OK", "call@x", 1, "INVITE",
                                                     answer_sdp), src=B, dst=A)))
    frames.append((t + 2.1, udp_frame(f.sip_request("ACK", "call@x", 1))))
    for i in range(50):                       # B -> A:4000, PCMA, 20 ms
        if i in loss:
            continue
        jitter = (i * 7 % 5) * 0.001
        frames.append((t + 3 + i * 0.02 + jitter, udp_frame(f.rtp(1000 + i, 160 * i, 0xB0B, 8),
                                                   src=B, dst=A, sport=6000, dport=4000)))
    # digit 5 from A to B:6000 on PT 96 (the answer's telephone-event), with 3 end packets
    for k, (dur, end) in enumerate([(160, 0), (320, 0), (480, 0x80), (480, 0x80), (480, 0x80)]):
        payload = struct.pack("!BBH", 5, end | 10, dur)
        frames.append((t + 4 + k * 0.02, udp_frame(f.rtp(7 + k if k < 3 else 9, 8000, 0xA0A,
                                                         96, payload, marker=k == 0),
                                                   sport=4000, dport=6000)))
    frames.append((t + 10, udp_frame(f.sip_request("BYE", "call@x", 2))))
    frames.append((t + 10.1, udp_frame(f.sip_response(200, "OK", "call@x", 2, "BYE"),
                                       src=B, dst=A)))
    return f.pcap(frames)


def test_call_dialog_streams_and_dtmf(tmp_path):
    cap = read_capture(write(tmp_path, call_capture(loss={10, 11, 30})))
    (d,) = cap.dialogs
    assert d.flow == ["INVITE", "180", "200", "ACK", "BYE", "200"]
    assert d.setup_time == pytest.approx(0.5) and d.answer_time == pytest.approx(2.0)
    assert d.duration == pytest.approx(8.0) and d.disposition == "answered, ended"
    assert d.codecs == {"offer": ["PCMU", "telephone-event"], "answer": ["PCMA", "telephone-event"]}
    audio, events = sorted(cap.rtp_streams, key=lambda s: s.ssrc, reverse=True)
    assert (audio.ssrc, audio.codec, audio.packets, audio.lost) == (0xB0B, "PCMA", 47, 3)
    assert audio.call_id == "call@x" and audio.mos is not None and audio.mos < 4.4
    assert events.packets == 5 and events.lost == -2 and events.duplicates == 2
    (digit,) = cap.dtmf
    assert (digit.digit, digit.packets, digit.end_packets, digit.duration_ms) == ("5", 5, 3, 60.0)


def relink(pcap_bytes: bytes, linktype: int, wrap, *, ng: bool = False) -> bytes:
    """The same Ethernet capture on another link (and as pcapng)."""
    from sipclient.pcap.decode.files import CaptureFile
    records = [(t, wrap(raw[14:])) for _, t, _, raw in CaptureFile(pcap_bytes).records()]
    if ng:
        return f.pcapng([(linktype, 9)], [(0, t, data) for t, data in records])
    return f.pcap(records, linktype=linktype)


@pytest.mark.parametrize("linktype, wrap, ng", [
    (1, lambda ip: f.ether(ip, vlans=(7,)), False),       # VLAN: not the hot path
    (113, f.sll, False), (276, f.sll2, False), (101, lambda ip: ip, False),
    (0, lambda ip: struct.pack("<I", 2) + ip, False), (101, lambda ip: ip, True),
])
def test_same_streams_on_every_link_and_file_format(tmp_path, linktype, wrap, ng):
    def figures(cap):
        return [(s.ssrc, s.packets, s.lost, s.duplicates, round(s.mean_jitter_ms, 6),
                 round(s.max_jitter_ms, 6), s.first_frame, s.last_frame)
                for s in cap.rtp_streams], \
            [(p.frame, p.label) for p in cap.sip], [(e.digit, e.first_frame) for e in cap.dtmf]
    original = call_capture(loss={3, 4, 40})
    want = figures(read_capture(write(tmp_path, original, "a.pcap")))
    got = figures(read_capture(write(tmp_path, relink(original, linktype, wrap, ng=ng), "b")))
    assert got == want and len(want[0]) == 2 and want[0][0][4] > 0.5


def test_rtp_before_its_sdp_and_held_media_are_not_taken(tmp_path):
    early = udp_frame(f.rtp(1, 0, 0xCC, 0), src=B, dst=A, sport=6000, dport=4000)
    # the answer holds (c=0.0.0.0): B:6000 is declared by nothing, so a third party's
    # packets to it are not RTP; A:4000 (the offer) still is, from or to it
    stray = udp_frame(f.rtp(1, 0, 0xDD, 0), src="10.0.0.3", dst=B, sport=7000, dport=6000)
    data = f.pcap([(1.0, early)]) + call_capture(hold=True)[24:] + f.pcap([(200.0, stray)])[24:]
    cap = read_capture(write(tmp_path, data))
    assert [s.ssrc for s in cap.rtp_streams] == [0xB0B, 0xA0A]
    assert cap.rtp_streams[0].packets == 50


def test_heuristic_rtp_finds_streams_without_sdp_on_even_ports_only(tmp_path):
    frames = [(1 + i * 0.02, udp_frame(f.rtp(i, 160 * i, 0x77, 0), sport=30001, dport=30000))
              for i in range(10)]
    frames += [(1 + i * 0.02, udp_frame(f.rtp(i, 160 * i, 0x78, 0), sport=30000, dport=30001))
               for i in range(10, 20)]                       # odd port: not RTP by itself
    frames += [(2.0, udp_frame(f.rtp(1, 1, 0x79, 0), sport=1000, dport=53))]   # DNS port
    path = write(tmp_path, f.pcap(frames))
    assert read_capture(path).rtp_streams == []
    streams = read_capture(path, heuristic_rtp=True).rtp_streams
    assert [(s.ssrc, s.packets, s.found_by) for s in streams] == [(0x77, 10, "heuristic")]


# -- damaged input -----------------------------------------------------------------------------

def test_not_a_capture_and_truncated_files(tmp_path):
    with pytest.raises(CaptureError, match="offset 0: not a pcap or pcapng"):
        read_capture(write(tmp_path, b"hello world, no capture"))
    whole = f.pcap([(1.0, udp_frame(f.REGISTER)), (2.0, udp_frame(f.REGISTER))])
    cap = read_capture(write(tmp_path, whole[:-30]))
    assert len(cap.sip) == 1 and "cut short in the middle of packet 2" in cap.truncated


def test_noise_and_garbled_packets_are_counted_not_raised(tmp_path):
    arp = f.ether(b"\x00\x01" * 14, ethertype=0x0806)
    dns = udp_frame(b"\x12\x34\x01\x00\x00\x01", sport=5353, dport=53)
    short_ip = f.ether(b"\x45\x00\x00")
    bad_sip = udp_frame(b"INVITE sip:x SIP/2.0\r\nno colon here\r\n\r\n")
    cap = read_capture(write(tmp_path, f.pcap([(1, arp), (2, dns), (3, short_ip), (4, bad_sip),
                                               (5, udp_frame(f.REGISTER))])))
    assert [p.frame for p in cap.sip] == [5]
    assert cap.undecodable == 1 and cap.problem_count == 2
    assert cap.problems[0].startswith("frame 3: IPv4 header cut short")
    assert cap.problems[1].startswith("frame 4: malformed SIP from 10.0.0.1:5060: offset 22: "
                                      "bad header line 'no colon here'")


def test_iter_packets_streams_udp_and_tcp(tmp_path):
    data = f.pcap([(1.0, udp_frame(b"x")),
                   (2.0, f.ether(f.ipv4(A, B, 6, f.tcp(1, 2, 99, b"yz"))))])
    got = [(p.transport, p.src, p.payload, p.seq) for p in iter_packets(write(tmp_path, data))]
    assert got == [("udp", (A, 5060), b"x", 0), ("tcp", (A, 1), b"yz", 99)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([0, 1, 101, 113, 252, 276]))
def test_fuzz_random_packets_never_raise(tmp_path_factory, body, linktype):
    path = tmp_path_factory.mktemp("fz") / "f.pcap"
    path.write_bytes(f.pcap([(1.0, body), (2.0, f.ether(f.ipv4(A, B, 17, body)))],
                            linktype=linktype))
    read_capture(str(path), heuristic_rtp=True)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_files_raise_only_capture_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fz") / "f.bin"
    for data in (blob, f.pcap([])[:24] + blob, f.pcapng([(1, None)], [])[:28] + blob):
        path.write_bytes(data)
        try:
            cap = read_capture(str(path))
        except CaptureError:
            continue
        assert cap.packets >= 0


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([b"INVITE sip:x SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n", b"ACK sip:y SIP/2.0\r\n"]),
       st.lists(st.sampled_from([b"Call-ID: c1", b"CSeq: 1 INVITE", b"CSeq: banana",
                                 b"Via: SIP/2.0/UDP h;branch=z9hG4bKx", b"Via: ???",
                                 b"From: <sip:a@b>;tag=1", b"To: garbage<<", b"i: c2",
                                 b"Content-Type: application/sdp", b"Content-Length: 5",
                                 b"Content-Length: x"]), max_size=8),
       st.binary(max_size=40))
def test_fuzz_odd_sip_goes_through_analysis_and_summary(tmp_path_factory, start, headers, body):
    from sipclient.pcap.summary import summary_dict, summary_text
    msg = start + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body
    path = tmp_path_factory.mktemp("fz") / "s.pcap"
    path.write_bytes(f.pcap([(1.0, udp_frame(msg)), (2.0, udp_frame(msg, src=B, dst=A))]))
    cap = read_capture(str(path))
    json_ready = summary_dict(cap)
    malformed = sum("malformed SIP" in p for p in cap.problems)
    assert json_ready["sip"]["messages"] + malformed == 2
    summary_text(cap)
