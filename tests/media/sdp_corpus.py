"""The SDP corpus: bodies of this repository's own messages (tests/data/sdp) and bodies read
at test time from the public captures in ../shared/captures-public.

The captures' licences vary (see SOURCES.md there), so their content is never copied into
this repository: each entry names a capture and a frame, and tshark reads the SIP body
(``sip.msg_body_raw``, or the SDP itself for a non-SIP carrier) when a test asks for it.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "sdp"
CAPTURES = ROOT.parent / "shared" / "captures-public"

# name -> (capture, frame[, which SDP of the frame]): what each body shows is listed in tests/data/sdp/README.txt
FROM_CAPTURES: dict[str, tuple] = {
    "webrtc_chrome_offer.sdp": ("sip_tcp_websocket.pcap", 11),
    "gateway_invite_pcma_first.sdp": ("nb6-telephone.pcap", 5),
    "gateway_183_early_media.sdp": ("nb6-telephone.pcap", 7),
    "late_offer_200.sdp": ("SIP_DTMF2.pcap", 20),
    "late_offer_ack_answer.sdp": ("SIP_DTMF2.pcap", 22),
    "recvonly_offer.sdp": ("sip-rtp-g711.pcap", 1),
    "freeswitch_sendonly_answer.sdp": ("sip-rtp-g711.pcap", 4),
    "gsm_recvonly_offer.sdp": ("sip-rtp-gsm.pcap", 1),
    "amr_wb_preconditions_ipv6.sdp": ("ipv6frag.pcap", 2),
    "ipv6_pcmu.sdp": ("sip_ipv6_udp.pcap", 1),
    "hold_sendonly_reoffer.sdp": ("erspan_sip_ipv4_udp.pcapng", 101),
    "hold_recvonly_answer.sdp": ("erspan_sip_ipv4_udp.pcapng", 102),
    "hold_c0_sendonly.sdp": ("erspan_sip_ipv4_udp.pcapng", 45),
    "audio_and_rejected_t38.sdp": ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 170, 1),
}
BROKEN_FROM_CAPTURES: dict[str, tuple] = {
    "megaco_wildcard_port.sdp": ("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 3097),
}


def _find_all(node, key: str, found: list) -> list:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                found.append(value)
            _find_all(value, key, found)
    elif isinstance(node, list):
        for value in node:
            _find_all(value, key, found)
    return found


@functools.cache
def _frame_body(capture: str, frame: int, index: int = 0) -> bytes:
    """The SIP body of ``frame`` (or its ``index``-th SDP when the carrier is not SIP)."""
    path = CAPTURES / capture
    assert path.is_file(), f"{path} is missing: CI runs with ../shared beside the clone"
    assert shutil.which("tshark"), "tshark is missing: run `make lab-deps`"
    out = subprocess.run(
        ["tshark", "-r", str(path), "-Y", f"frame.number=={frame}", "-T", "json", "-x"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    tree = json.loads(out)
    raws = _find_all(tree, "sip.msg_body_raw", []) or _find_all(tree, "sdp_raw", [])
    assert len(raws) > index, f"no SDP body in {capture} frame {frame}"
    return bytes.fromhex(raws[index][0])


def load_bytes(name: str) -> bytes:
    """A corpus body by name, from this repository or from the captures."""
    if name in FROM_CAPTURES:
        return _frame_body(*FROM_CAPTURES[name])
    if name in BROKEN_FROM_CAPTURES:
        return _frame_body(*BROKEN_FROM_CAPTURES[name])
    local = DATA / name
    return local.read_bytes() if local.is_file() else (DATA / "broken" / name).read_bytes()


GOOD = sorted([p.name for p in DATA.glob("*.sdp")] + list(FROM_CAPTURES))
BROKEN = sorted([p.name for p in (DATA / "broken").glob("*.sdp")] + list(BROKEN_FROM_CAPTURES))
