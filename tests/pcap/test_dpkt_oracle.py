"""Our pcap reader against an independent one built on dpkt, packet for packet (issue 21).

Every public capture (../shared/captures-public, read there at test time, never copied) and
every golden capture (captures/) is read by both: the number of records; every UDP datagram
and TCP segment (frame, transport, source and destination address and port, payload bytes)
from ``iter_packets``; and every SIP message from ``read_capture`` (frame, addresses,
transport, the message's bytes), in order. The oracle (tests/pcap/dpkt_oracle.py) shares no
code with sipclient.pcap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipclient.pcap.read import iter_packets, read_capture
from tests.pcap import dpkt_oracle

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the clone; a git worktree one level deeper finds it one level up
SHARED = next((p / "shared" / "captures-public" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "captures-public").is_dir()),
              ROOT.parent / "shared" / "captures-public")
EXPECTED = SHARED / "expected.json"
PUBLIC = sorted(json.loads(EXPECTED.read_text())["files"]) if EXPECTED.is_file() else []
GOLDEN = sorted(p.name for p in (ROOT / "captures").glob("*.pcap"))


def test_every_capture_is_here():
    assert EXPECTED.is_file(), f"{EXPECTED} is missing (../shared beside the clone)"
    assert len(PUBLIC) == 16, PUBLIC
    assert len(GOLDEN) >= 8, GOLDEN


def _ours(path: Path) -> tuple[int, list[tuple], list[tuple]]:
    packets = [(p.frame, "pdu" if p.flags == -1 else p.transport, p.src, p.dst, bytes(p.payload))
               for p in iter_packets(str(path))]
    capture = read_capture(str(path))
    sip = [(p.frame, p.src, p.dst, p.transport, bytes(p.raw)) for p in capture.sip]
    return capture.packets, packets, sip


def _first_difference(ours: list[tuple], theirs: list[tuple]) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"item {i}: ours {a[:4]} {a[4][:60]!r} / dpkt {b[:4]} {b[4][:60]!r}"
    return f"ours has {len(ours)} items, dpkt {len(theirs)}"


@pytest.mark.parametrize("path", [SHARED / n for n in PUBLIC] + [ROOT / "captures" / n for n in GOLDEN],
                         ids=lambda p: p.name)
def test_same_packets_and_sip_as_dpkt(path: Path):
    records, packets, sip = _ours(path)
    oracle = dpkt_oracle.read(str(path))
    assert records == oracle.records
    assert packets == oracle.packets, _first_difference(packets, oracle.packets)
    assert sip == oracle.sip, _first_difference(sip, oracle.sip)


def test_the_cross_check_covers_every_transport():
    """The comparison is not vacuous: together the files hold SIP over UDP, TCP, WebSocket
    and exported WSS, IPv6 and IP fragments, and the oracle finds all of it."""
    seen: set[str] = set()
    total = 0
    for path in [SHARED / n for n in PUBLIC] + [ROOT / "captures" / n for n in GOLDEN]:
        oracle = dpkt_oracle.read(str(path))
        seen.update(item[3] for item in oracle.sip)
        total += len(oracle.sip)
        if path.name == "sip_ipv6_udp.pcap":
            assert all(":" in item[1][0] for item in oracle.sip)
        if path.name == "ipv6frag.pcap":
            assert max(len(item[4]) for item in oracle.sip) > 1280  # only whole after reassembly
    assert {"udp", "tcp", "ws", "wss"} <= seen
    assert total > 500
