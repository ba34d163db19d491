"""SDP glue for a WebRTC audio stream (pure: no sockets, no clock).

Our side is written line by line (:func:`build`): one ``m=audio`` section with profile
``UDP/TLS/RTP/SAVPF`` (RFC 5124 AVPF + SRTP), ``a=mid`` and ``a=group:BUNDLE`` (RFC 8843),
``a=rtcp-mux`` (RFC 5761), ICE ufrag/pwd and host candidates (RFC 8839, with
``a=end-of-candidates``: no trickle), the DTLS fingerprint and ``a=setup`` (RFC 8122,
RFC 5763: actpass in offers, active in answers), telephone-event (RFC 4733) and ``a=ssrc``
with a cname. ``c=`` and the ``m=`` port carry the first candidate (RFC 8839 4.2.1.1).

The remote side is read with aiortc's parser (:func:`parse_remote`) into
:class:`RemoteMedia`; what a WebRTC peer must have (ICE credentials, a fingerprint,
rtcp-mux) is checked with an error naming the missing line.

Codec choice (:func:`common_codecs`): G.711 is preferred; opus only when it is in our list
(Asterisk 16 answers opus when it comes first and then cannot translate it to the other
leg's ulaw, so opus is opt-in, for WebRTC-to-WebRTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiortc import sdp as aiosdp
from aiortc.rtcdtlstransport import RTCDtlsFingerprint
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from sipclient.media.codecs.registry import REGISTRY, webrtc_codecs

__all__ = ["Codec", "CODECS", "LocalMedia", "RemoteMedia", "WebRtcSdpError", "build",
           "parse_remote", "common_codecs", "ROLE_FOR_SETUP"]


class WebRtcSdpError(ValueError):
    """The remote SDP cannot carry a WebRTC audio stream (says which line is missing)."""


@dataclass(frozen=True)
class Codec:
    name: str
    payload_type: int
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None

    @property
    def mime(self) -> str:
        return f"audio/{self.name}"

    def rtpmap(self) -> str:
        chans = f"/{self.channels}" if self.channels > 1 else ""
        return f"{self.name}/{self.clock_rate}{chans}"

    def to_aiortc(self) -> RTCRtpCodecParameters:
        return RTCRtpCodecParameters(mimeType=self.mime, clockRate=self.clock_rate,
                                     channels=self.channels, payloadType=self.payload_type)


#: what we can send and decode (aiortc's encoders), by upper-case name: the codec registry's
#: records that WebRTC carries (sipclient.media.codecs.registry, their ``webrtc_pt``)
CODECS: dict[str, Codec] = {
    c.name.upper(): Codec(c.name, c.webrtc_pt, c.clock_rate, c.channels, c.fmtp)  # type: ignore[arg-type]
    for c in webrtc_codecs()}
_TE = REGISTRY["TELEPHONE-EVENT"]
#: events 0-16 (16: flash), as browsers offer them
TELEPHONE_EVENT = Codec(_TE.name, _TE.webrtc_pt, _TE.clock_rate, 1, "0-16")  # type: ignore[arg-type]


def codecs_named(names: Sequence[str]) -> list[Codec]:
    """Our codecs for a preference list of names; ValueError naming what WebRTC lacks."""
    upper = [n.upper() for n in names]
    unknown = [n for n in upper if n not in CODECS]
    if unknown:
        raise ValueError(f"codec(s) {', '.join(unknown)} not available over WebRTC "
                         f"(known: {', '.join(CODECS)})")
    if not upper:
        raise ValueError("no codec to offer")
    return [CODECS[n] for n in upper]

#: a=setup in the remote SDP -> our DTLS role (RFC 5763 5: the answerer to actpass is active)
ROLE_FOR_SETUP = {"actpass": "client", "passive": "client", "active": "server"}


@dataclass
class LocalMedia:
    """Everything our SDP says."""

    candidates: list[RTCIceCandidate]
    ice_ufrag: str
    ice_pwd: str
    fingerprints: list[RTCDtlsFingerprint]
    setup: str                      # actpass (offer), active or passive (answer)
    codecs: list[Codec]
    ssrc: int
    cname: str
    session_id: int
    version: int
    direction: str = "sendrecv"
    telephone_event: Codec | None = TELEPHONE_EVENT
    mid: str = "0"
    ptime: int = 20
    bundle: bool = True


def _ip_kind(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def build(local: LocalMedia) -> bytes:
    """Our SDP (an offer or an answer), CRLF line ends."""
    if local.candidates:
        address, port = local.candidates[0].ip, local.candidates[0].port
    else:  # no candidate: the discard address (RFC 8839 4.2.1.1 says 9 and 0.0.0.0)
        address, port = "0.0.0.0", 9
    ip = _ip_kind(address)
    codecs = list(local.codecs) + ([local.telephone_event] if local.telephone_event else [])
    lines = [
        "v=0",
        f"o=- {local.session_id} {local.version} IN {ip} {address}",
        "s=sipclient-webrtc",
        "t=0 0",
    ]
    if local.bundle:
        lines.append(f"a=group:BUNDLE {local.mid}")
    lines += [
        "a=msid-semantic: WMS sipclient",
        f"m=audio {port} UDP/TLS/RTP/SAVPF {' '.join(str(c.payload_type) for c in codecs)}",
        f"c=IN {ip} {address}",
        f"a=rtcp:{port} IN {ip} {address}",
        f"a=mid:{local.mid}",
        f"a=ice-ufrag:{local.ice_ufrag}",
        f"a=ice-pwd:{local.ice_pwd}",
    ]
    for fp in local.fingerprints:
        lines.append(f"a=fingerprint:{fp.algorithm} {fp.value}")
    lines.append(f"a=setup:{local.setup}")
    for codec in codecs:
        lines.append(f"a=rtpmap:{codec.payload_type} {codec.rtpmap()}")
        if codec.fmtp:
            lines.append(f"a=fmtp:{codec.payload_type} {codec.fmtp}")
    lines += [
        f"a=ptime:{local.ptime}",
        "a=rtcp-mux",
        f"a={local.direction}",
        f"a=ssrc:{local.ssrc} cname:{local.cname}",
        f"a=msid:sipclient audio-{local.ssrc}",
    ]
    for cand in local.candidates:
        lines.append("a=candidate:" + aiosdp.candidate_to_sdp(cand))
    lines.append("a=end-of-candidates")
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class RemoteMedia:
    """The remote audio section, as far as the media needs it."""

    ice_ufrag: str
    ice_pwd: str
    ice_lite: bool
    candidates: list[RTCIceCandidate]
    candidates_complete: bool
    fingerprints: list[RTCDtlsFingerprint]
    setup: str
    codecs: list[RTCRtpCodecParameters]
    telephone_event: int | None
    direction: str
    mid: str | None
    rtcp_mux: bool
    ssrcs: list[int] = field(default_factory=list)
    profile: str = ""
    address: str | None = None
    port: int = 0


def parse_remote(data: bytes | str) -> RemoteMedia:
    """Read the first audio section of a remote SDP (offer or answer)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        session = aiosdp.SessionDescription.parse(text)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise WebRtcSdpError(f"unreadable SDP: {exc}") from None
    audio = next((m for m in session.media if m.kind == "audio"), None)
    if audio is None:
        raise WebRtcSdpError("no m=audio line in the SDP")
    if audio.port == 0:
        raise WebRtcSdpError("m=audio with port 0: the audio stream was rejected")
    if audio.ice is None or not audio.ice.usernameFragment or not audio.ice.password:
        raise WebRtcSdpError("no a=ice-ufrag / a=ice-pwd in the audio section (not WebRTC?)")
    if audio.dtls is None or not audio.dtls.fingerprints:
        raise WebRtcSdpError("no a=fingerprint in the SDP: DTLS-SRTP is impossible "
                             f"(profile {audio.profile})")
    setup = aiosdp.DTLS_ROLE_SETUP.get(audio.dtls.role, "actpass")
    codecs, te = [], None
    for codec in audio.rtp.codecs:
        if codec.mimeType.lower() == "audio/telephone-event":
            if codec.clockRate == 8000 and te is None:
                te = codec.payloadType
            continue
        codecs.append(codec)
    return RemoteMedia(
        ice_ufrag=audio.ice.usernameFragment, ice_pwd=audio.ice.password,
        ice_lite=bool(audio.ice.iceLite), candidates=list(audio.ice_candidates),
        candidates_complete=audio.ice_candidates_complete,
        fingerprints=list(audio.dtls.fingerprints), setup=setup, codecs=codecs,
        telephone_event=te, direction=audio.direction or "sendrecv", mid=audio.rtp.muxId,
        rtcp_mux=audio.rtcp_mux, ssrcs=[s.ssrc for s in audio.ssrc], profile=audio.profile,
        address=audio.host or session.host, port=audio.port)


def common_codecs(ours: list[Codec], remote: list[RTCRtpCodecParameters]) -> list[Codec]:
    """Our codecs the remote has, in *our* order, with the remote's payload types."""
    found = []
    for codec in ours:
        for theirs in remote:
            if theirs.mimeType.lower() == codec.mime.lower() and \
                    theirs.clockRate == codec.clock_rate:
                found.append(Codec(codec.name, theirs.payloadType, codec.clock_rate,
                                   codec.channels, codec.fmtp))
                break
    return found


ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                    "inactive": "inactive"}
