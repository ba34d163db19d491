"""The WebRTC backend's pure parts: SDP glue, codec choice, options, DTMF rewriting; and the
namespace harness (offline ICE gathering, stale namespace cleanup)."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
from aiortc.rtcdtlstransport import RTCDtlsFingerprint
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

import webrtc
from sipclient.media.dtmf import DtmfReceiver
from sipclient.media.rtp import RtpPacket
from webrtc import sdp as wsdp

# What the lab's Asterisk 16.28 offered to a WebRTC endpoint (an INVITE from 1001 to 2001).
ASTERISK_OFFER = (
    "v=0\r\no=- 237853090 237853090 IN IP4 10.213.186.2\r\ns=Asterisk\r\n"
    "c=IN IP4 10.213.186.2\r\nt=0 0\r\na=msid-semantic:WMS *\r\na=group:BUNDLE audio-0\r\n"
    "m=audio 17294 UDP/TLS/RTP/SAVPF 0 8 107 101\r\na=connection:new\r\na=setup:actpass\r\n"
    "a=fingerprint:SHA-256 53:E6:FA:1D:DD:FB:66:B6:DE:A2:43:D1:D0:8A:C0:9B:B0:31:E8:1C:FB:0F:"
    "D0:95:FB:AF:F1:96:53:25:60:7D\r\n"
    "a=ice-ufrag:0d3836c51a0a656c37a63c4e3fc3fb7a\r\na=ice-pwd:092c63d870b1fc3e4493d6a55cfb0143"
    "\r\na=candidate:Had5ba02 1 UDP 2130706431 10.213.186.2 17294 typ host\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:107 opus/48000/2\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:60\r\n"
    "a=sendrecv\r\na=rtcp-mux\r\na=ssrc:903112163 cname:c083c9d0\r\n"
    "a=rtcp-fb:* transport-cc\r\na=mid:audio-0\r\n")


def local(**kw) -> wsdp.LocalMedia:
    base = dict(
        candidates=[RTCIceCandidate(component=1, foundation="1", ip="10.213.9.1", port=40000,
                                    priority=2130706431, protocol="udp", type="host")],
        ice_ufrag="abcd", ice_pwd="p" * 22,
        fingerprints=[RTCDtlsFingerprint("sha-256", "AA:" * 31 + "AA")], setup="actpass",
        codecs=[wsdp.CODECS["PCMU"], wsdp.CODECS["PCMA"]], ssrc=0x1234, cname="c",
        session_id=7, version=8)
    base.update(kw)
    return wsdp.LocalMedia(**base)


def test_our_offer_carries_everything_a_webrtc_peer_needs() -> None:
    text = wsdp.build(local()).decode()
    lines = text.split("\r\n")
    for line in ("m=audio 40000 UDP/TLS/RTP/SAVPF 0 8 101", "c=IN IP4 10.213.9.1",
                 "a=group:BUNDLE 0", "a=mid:0", "a=rtcp-mux", "a=setup:actpass",
                 "a=ice-ufrag:abcd", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
                 "a=end-of-candidates", "a=ssrc:4660 cname:c", "a=sendrecv"):
        assert line in lines, line
    assert any(x.startswith("a=fingerprint:sha-256 ") for x in lines)
    assert "a=candidate:1 1 udp 2130706431 10.213.9.1 40000 typ host" in lines
    back = wsdp.parse_remote(text)  # and aiortc's parser reads it back
    assert (back.ice_ufrag, back.setup, back.rtcp_mux, back.mid) == ("abcd", "actpass", True,
                                                                     "0")
    assert [c.mimeType for c in back.codecs] == ["audio/PCMU", "audio/PCMA"]
    assert back.telephone_event == 101 and back.candidates[0].port == 40000


def test_asterisk_offer_is_read() -> None:
    r = wsdp.parse_remote(ASTERISK_OFFER)
    assert r.setup == "actpass" and r.rtcp_mux and r.mid == "audio-0"
    assert [c.mimeType for c in r.codecs] == ["audio/PCMU", "audio/PCMA", "audio/opus"]
    assert r.telephone_event == 101 and r.ssrcs == [903112163]
    assert [(c.ip, c.port) for c in r.candidates] == [("10.213.186.2", 17294)]
    assert r.fingerprints[0].algorithm.lower() == "sha-256"


def test_g711_is_chosen_over_opus_unless_asked() -> None:
    offered = [RTCRtpCodecParameters("audio/opus", 48000, 2, 107),
               RTCRtpCodecParameters("audio/PCMA", 8000, 1, 8),
               RTCRtpCodecParameters("audio/PCMU", 8000, 1, 0)]
    ours = [wsdp.CODECS["PCMU"], wsdp.CODECS["PCMA"]]
    assert [c.name for c in wsdp.common_codecs(ours, offered)] == ["PCMU", "PCMA"]
    with_opus = [wsdp.CODECS["OPUS"], *ours]
    chosen = wsdp.common_codecs(with_opus, offered)
    assert chosen[0].name == "opus" and chosen[0].payload_type == 107  # the offer's number


@pytest.mark.parametrize("drop, message", [
    ("a=fingerprint", "no a=fingerprint"),
    ("a=ice-ufrag", "no a=ice-ufrag"),
    ("m=audio", "no m=audio"),
])
def test_a_non_webrtc_sdp_is_refused_with_the_missing_line(drop, message) -> None:
    text = "\r\n".join(x for x in ASTERISK_OFFER.split("\r\n") if not x.startswith(drop))
    with pytest.raises(wsdp.WebRtcSdpError, match=message):
        wsdp.parse_remote(text)


def test_rejected_stream_is_refused() -> None:
    with pytest.raises(wsdp.WebRtcSdpError, match="port 0"):
        wsdp.parse_remote(ASTERISK_OFFER.replace("m=audio 17294", "m=audio 0"))


def test_options_are_validated_and_offline_by_default() -> None:
    factory = webrtc.media_factory({"user": "2001", "webrtc": True})  # other keys ignored
    assert factory.options.ice_servers == []  # no STUN/TURN: nothing public is contacted
    assert factory.options.codecs_for(("PCMU", "PCMA", "GSM")) == ("PCMU", "PCMA")
    stun = webrtc.media_factory({"stun": "stun:192.0.2.10:3478"}).options.ice_servers
    assert [s.urls for s in stun] == ["stun:192.0.2.10:3478"]
    for bad, where in (({"codecs": 3}, "codecs"), ({"dtmf": "info"}, "dtmf"),
                       ({"stun": "192.0.2.1"}, "stun"), ({"ptime": 7}, "ptime"),
                       ({"turn": {"urls": "x"}}, "turn"), ({"play": 5}, "play")):
        with pytest.raises(ValueError, match=where):
            webrtc.media_factory(bad)


def test_unknown_codec_is_refused() -> None:
    from webrtc.session import WebRtcMedia

    with pytest.raises(ValueError, match="G729 not available over WebRTC"):
        WebRtcMedia(("PCMU", "G729"))


@pytest.mark.asyncio
async def test_dtmf_rewriter_turns_audio_slots_into_rfc4733_events() -> None:
    from webrtc.transport import DtmfRewriter

    async def main() -> tuple[list[RtpPacket], bool]:
        rw = DtmfRewriter("47", payload_type=101)
        out = []
        for i in range(30):
            audio = RtpPacket(0, 1000 + i, 5000 + 160 * i, 0xABC, b"\xff" * 160)
            out.append(rw.rewrite(audio))
        return out, rw.finished
    out, finished = await asyncio.wait_for(main(), 30)
    assert finished
    assert [p.sequence_number for p in out] == list(range(1000, 1030))  # no gap, one SSRC
    events = [p for p in out if p.payload_type == 101]
    assert events[0].marker and events[0].timestamp == 5000
    assert sum(p.marker for p in events) == 2  # one per digit
    receiver, digits = DtmfReceiver(), []
    for p in events:
        digits += [d.digit for d in receiver.receive(p.payload, p.timestamp)]
    assert digits == ["4", "7"]
    # audio resumes between and after the digits (the 100 ms gap)
    assert any(p.payload_type == 0 for p in out[out.index(events[0]):out.index(events[-1])])


def test_ice_gathers_only_the_test_address(wnet) -> None:
    from webrtc.session import WebRtcMedia

    async def main() -> tuple[list, object]:
        media = WebRtcMedia()
        await media.start()
        try:
            cands = media.gatherer.getLocalCandidates()
            return [(c.ip, c.type) for c in cands], media.gatherer._connection.stun_server
        finally:
            await media.close()
    cands, stun = wnet.run_async(main)
    assert cands and all(c == (wnet.ue_ip, "host") for c in cands), cands
    assert stun is None


def test_stale_namespaces_of_dead_runs_are_removed() -> None:
    from sipclient.lab import netns

    if netns.available():
        pytest.fail(netns.available())
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"sipc{dead.pid}-stale-ue"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert name in netns.cleanup_stale()
        assert name not in os.listdir(netns.NETNS_DIR)
        mine = f"sipc{os.getpid()}-alive-ue"
        subprocess.run(["ip", "netns", "add", mine], check=True)
        assert mine not in netns.cleanup_stale()  # a live run's namespace stays
    finally:
        for n in (name, f"sipc{os.getpid()}-alive-ue"):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
