"""`sipclient pcap summary --json` agrees with tshark on every public capture (issue 7).

The captures and tshark's view of them (expected.json, TShark 4.0.17) are read from
../shared/captures-public at test time; nothing is copied here. For each capture and each
view (``default``: RTP found through SDP; ``heuristic``: with tshark's ``rtp_udp``
heuristic, our ``--heuristic-rtp``): the SIP message count, each Call-ID's flow (requests by
method, responses by status, retransmissions included), the retransmissions tshark marks,
and per RTP stream the SSRC, payload type, packets, lost, and mean/max jitter within 0.1 ms.

Where tshark is wrong, the single figure is checked against what the packets really say,
with the reason next to it (:data:`TSHARK_WRONG`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sipclient.cli import Env, main

from tests.pcap.public import PUBLIC as SHARED
EXPECTED = SHARED / "expected.json"


def _expected() -> dict:
    assert EXPECTED.is_file(), f"{EXPECTED} is missing (../shared beside the clone)"
    return json.loads(EXPECTED.read_text())["files"]


CAPTURES = sorted(_expected()) if EXPECTED.is_file() else ["expected.json missing"]
VIEWS = ("default", "heuristic")

# (capture, SSRC) -> {figure: (our value, why tshark's differs)}
TSHARK_WRONG = {
    ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", "0x0EAF0EAF"): {
        # A re-INVITE offers T.38 (m=image udptl on 10.23.1.52:16756, frames 3097-3107) and
        # is refused with 488 Not Acceptable Here (frames 3112-3116): the call stays audio and
        # this PCMA stream goes on with the same SSRC and consecutive sequence numbers to the
        # end of the capture. tshark switches the address to T.38 on the *offer* and decodes
        # the remaining 2010 RTP packets as malformed UDPTL ("[Malformed Packet]"), so it
        # counts 1838 packets and 6 "lost" (the 6 decoded as T.38 between two RTP runs).
        # Every one of the 3848 packets arrived.
        "packets": (3848, "refused T.38 offer: tshark reads the rest of the RTP as T.38"),
        "lost": (0, "the 6 'lost' are packets tshark decoded as T.38"),
        "mean_jitter_ms": (None, "computed over 3848 packets instead of tshark's 1838"),
        "max_jitter_ms": (None, "computed over 3848 packets instead of tshark's 1838"),
    },
    # ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", "0x17D90134") is no exception any more. At frame
    # 3149 its RTP timestamp jumps from 347200 back to 0 (the gateway restarts its clock
    # after the fax), below the stream's first timestamp (71320): like Wireshark's RTP
    # analysis, sipclient.media.stats now leaves such packets out of time sequence (out of
    # the jitter, with the arrival and timestamp references kept at the last packet in
    # sequence) until the timestamp passes the first one again, so mean/max jitter (and max
    # delta) equal tshark's: 14.144 / 2730.468 ms.
}


def summary(path: Path, *extra: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "summary", str(path), "--json", *extra], Env(stdout=out, stderr=err))
    assert status == 0, err.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def results():
    cache: dict[tuple[str, str], dict] = {}

    def get(name: str, view: str) -> dict:
        if (name, view) not in cache:
            extra = ("--heuristic-rtp",) if view == "heuristic" else ()
            cache[(name, view)] = summary(SHARED / name, *extra)
        return cache[(name, view)]
    return get


@pytest.mark.parametrize("name", CAPTURES)
def test_sip_messages_and_flows(name, results):
    want = _expected()[name]
    got = results(name, "default")
    assert got["sip"]["messages"] == want["sip_message_count"]
    flows = {d["call_id"]: d["flow"] for d in got["sip"]["dialogs"]}
    assert flows == {cid: c["sequence"] for cid, c in want["calls"].items()}
    resent = sorted(f for d in got["sip"]["dialogs"] for f in d["retransmissions"])
    assert resent == sorted(m["frame"] for m in want["sip_messages"] if m["retransmission"])


@pytest.mark.parametrize("name", CAPTURES)
def test_sip_transports_and_ip_versions(name):
    """tshark's "UDP/IPv4", "WS/IPv4" ... counts, from the messages' own transport."""
    from sipclient.pcap.read import read_capture
    counts: dict[str, int] = {}
    for p in read_capture(str(SHARED / name)).sip:
        key = f"{p.transport.upper()}/IPv{6 if ':' in p.src[0] else 4}"
        counts[key] = counts.get(key, 0) + 1
    assert counts == _expected()[name]["sip_transports"]


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", CAPTURES)
def test_rtp_streams(name, view, results):
    want = _expected()[name]["rtp_streams"][view]["streams"]
    got = results(name, view)["rtp"]["streams"]

    def key(src, dst, ssrc):
        return src, dst, ssrc.upper().replace("0X", "0x")

    ours = {key(s["src"], s["dst"], s["ssrc"]): s for s in got}
    theirs = {key(f"{s['src']}:{s['sport']}", f"{s['dst']}:{s['dport']}", s["ssrc"]): s
              for s in want}
    assert sorted(ours) == sorted(theirs)
    for k, t in theirs.items():
        o = ours[k]
        wrong = TSHARK_WRONG.get((name, k[2]), {})
        assert o["payload_type"] == t["payload_types"][0]
        assert o["payload_types"] == {str(pt): n for pt, n in
                                      t["payload_type_packet_counts"].items()} \
            or "packets" in wrong
        for figure in ("packets", "lost"):
            if figure in wrong:
                assert o[figure] == wrong[figure][0], wrong[figure][1]
            else:
                assert o[figure] == t[figure], (k, figure)
        for figure in ("mean_jitter_ms", "max_jitter_ms"):
            if figure not in wrong:
                assert o[figure] == pytest.approx(t[figure], abs=0.1), (k, figure)


@pytest.mark.parametrize("name", [n for n in CAPTURES if n != "FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"])
def test_dtmf_digits(name, results):
    """RFC 4733 events. The FAX capture is left out: tshark decodes PT 100, which no SDP
    there names, as a Cisco NSE-style event (id 194); it is not negotiated DTMF."""
    for view in VIEWS:
        want = _expected()[name]["dtmf_rtp_events"][view]["events"]
        got = results(name, view)["dtmf"]
        assert [(e["digit"], e["first_frame"], e["packets"], e["end_packets"],
                 e["rtp_timestamp"]) for e in got] == \
            [(e["digit"], e["first_frame"], e["packets"], e["end_packets"], e["rtp_timestamp"])
             for e in want]
        for e, w in zip(got, want):
            assert e["duration_ms"] == pytest.approx(w["max_duration"] / 8.0)
