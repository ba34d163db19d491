"""The SDP offer/answer model (RFC 3264) for one audio stream, as pure functions and values.

- :func:`build_offer` makes an offer from a :class:`MediaConfig` (codec preference list,
  ptime, direction, our address and port): static payload types from RFC 3551 (PCMU 0,
  GSM 3, G723 4, PCMA 8, G722 9, G729 18), dynamic ones from 96 up, telephone-event 101 by
  default with ``0-15``, G.729 with ``annexb=no`` (RFC 4733, RFC 4566 6).
- :func:`build_answer` answers an offer (RFC 3264 6): the codec intersection, in the
  offerer's order by default (6.1 recommends it) or ours (``prefer="ours"``), keeping the
  offerer's payload type numbers; telephone-event carried over when both have it; a stream
  we cannot or will not take answered with port 0 and its m= line kept (6, 8.2); the
  direction answered per 6.1 (sendonly -> recvonly, inactive -> inactive ...). An old-style
  hold (``c=0.0.0.0``, RFC 2543, RFC 3264 8.4) is read as "do not send to me".
- :func:`negotiate` reads the answer to our offer.

Both give a :class:`Negotiation` holding one :class:`NegotiatedStream` per accepted stream:
what the RTP layer needs (addresses, ports, codec, telephone-event, direction, RTCP).
The stateful side (o= versions, hold/resume, late offers, early media) is
:class:`sipclient.media.sdp_session.SdpSession`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from sipclient.media.sdp import (
    DIRECTIONS, Attribute, Connection, MediaDescription, Origin, RtpMap, SessionDescription,
)
from sipclient.media.codecs.registry import REGISTRY, lookup
from sipclient.media.codecs.registry import Codec as CodecRecord
from sipclient.proto.errors import ParseError

__all__ = [
    "Codec", "CodecSpec", "MediaConfig", "NegotiatedStream", "Negotiation",
    "answer_direction", "build_answer", "build_offer", "negotiate",
]


#: what SDP says about a codec (name, clock rate, channels, static PT, default fmtp): the
#: codec registry's record (sipclient.media.codecs.registry, the one table of codecs)
CodecSpec = CodecRecord


def codec_spec(name: str) -> CodecSpec:
    spec = lookup(name)
    if spec is None:
        raise ValueError(f"unknown codec {name!r} (known: {', '.join(c.name for c in REGISTRY.values())})")
    return spec


@dataclass(frozen=True)
class Codec:
    """A negotiated payload format: we send it with ``payload_type`` (the receiver's number)."""

    name: str
    payload_type: int
    clock_rate: int
    channels: int = 1
    ptime: int = 20
    fmtp: str | None = None

    @property
    def samples_per_packet(self) -> int:
        """RTP timestamp increment per packet (RFC 3551 4.5: ptime at the RTP clock rate)."""
        return self.clock_rate * self.ptime // 1000


@dataclass(frozen=True)
class MediaConfig:
    """Our side of a negotiation: where we receive RTP and what we accept, in order."""

    address: str
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA", "telephone-event")
    ptime: int = 20
    direction: str = "sendrecv"
    prefer: str = "theirs"          # answer order: "theirs" (RFC 3264 6.1) or "ours"
    rtcp_mux: bool = False          # offer/accept a=rtcp-mux (RFC 5761)
    rtcp_port: int | None = None    # write a=rtcp:<port> (RFC 3605) when not port + 1
    telephone_event_pt: int = 101
    proto: str = "RTP/AVP"
    maxptime: int | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}")
        if self.prefer not in ("ours", "theirs"):
            raise ValueError("prefer is 'ours' or 'theirs'")
        for name in self.codecs:
            codec_spec(name)

    @property
    def addrtype(self) -> str:
        return "IP6" if ":" in self.address else "IP4"


@dataclass(frozen=True)
class NegotiatedStream:
    """One accepted stream, from our point of view (RFC 3264 6.1, 7)."""

    index: int                      # the m= line
    media: str
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    codec: Codec                    # what we send (first common codec of the answer)
    codecs: tuple[Codec, ...]       # every common codec, in the answer's order
    telephone_event: int | None     # its payload type, when both sides have it
    direction: str                  # ours: sendrecv, sendonly (we hold), recvonly, inactive
    remote_rtcp_address: str
    remote_rtcp_port: int
    rtcp_mux: bool
    remote_hold: bool = False       # the peer put us on hold (sendonly/inactive or c=0.0.0.0)

    @property
    def sends(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


@dataclass(frozen=True)
class Negotiation:
    """The outcome of one offer/answer exchange."""

    streams: tuple[NegotiatedStream, ...]
    rejected: tuple[int, ...] = ()          # m= indexes answered (or answering) with port 0
    remote_version: int | None = None       # the o= version of the remote SDP
    repeated: bool = False                  # the same answer again (183 then 200)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def audio(self) -> NegotiatedStream | None:
        return next((s for s in self.streams if s.media == "audio"), None)


# -- direction (RFC 3264 6.1) ----------------------------------------------------------------
def _flags(direction: str) -> tuple[bool, bool]:
    return direction in ("sendrecv", "sendonly"), direction in ("sendrecv", "recvonly")


def _direction(send: bool, recv: bool) -> str:
    return {(True, True): "sendrecv", (True, False): "sendonly",
            (False, True): "recvonly", (False, False): "inactive"}[(send, recv)]


def answer_direction(offered: str, ours: str = "sendrecv", *, hold_address: bool = False) -> str:
    """RFC 3264 6.1: sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive,
    sendrecv -> what we want; ``hold_address`` (c=0.0.0.0) means the offerer will not
    receive, so we do not send."""
    their_send, their_recv = _flags(offered)
    our_send, our_recv = _flags(ours)
    return _direction(our_send and their_recv and not hold_address, our_recv and their_send)


# -- building --------------------------------------------------------------------------------
def _offer_codecs(config: MediaConfig) -> list[tuple[int, CodecSpec]]:
    used = {codec_spec(n).payload_type for n in config.codecs} - {None}
    if any(n.lower() == "telephone-event" for n in config.codecs):
        used.add(config.telephone_event_pt)
    out, next_pt = [], 96
    for name in config.codecs:
        spec = codec_spec(name)
        if spec.payload_type is not None:
            pt = spec.payload_type
        elif spec.name == "telephone-event":
            pt = config.telephone_event_pt
        else:
            while next_pt in used:
                next_pt += 1
            pt, next_pt = next_pt, next_pt + 1
            used.add(pt)
        out.append((pt, spec))
    return out


def _rtp_attributes(config: MediaConfig, codecs: list[tuple[int, CodecSpec]],
                    direction: str) -> list[Attribute]:
    attrs: list[Attribute] = []
    for pt, spec in codecs:
        ch = spec.channels if spec.channels != 1 else None
        attrs.append(Attribute("rtpmap", str(RtpMap(pt, spec.name, spec.clock_rate, ch))))
        if spec.fmtp:
            attrs.append(Attribute("fmtp", f"{pt} {spec.fmtp}"))
    attrs.append(Attribute("ptime", str(config.ptime)))
    if config.maxptime:
        attrs.append(Attribute("maxptime", str(config.maxptime)))
    if config.rtcp_port is not None:
        attrs.append(Attribute("rtcp", str(config.rtcp_port)))
    if config.rtcp_mux:
        attrs.append(Attribute("rtcp-mux"))
    attrs.append(Attribute(direction))
    return attrs


def _session(origin: Origin, config: MediaConfig, media: list[MediaDescription],
             address: str | None = None) -> SessionDescription:
    conn = Connection(address or config.address, config.addrtype)
    return SessionDescription.build(origin, media, connection=conn)


def build_offer(config: MediaConfig, origin: Origin, *, direction: str | None = None,
                hold_address: bool = False) -> SessionDescription:
    """An offer with one audio stream (RFC 3264 5). ``hold_address`` writes c=0.0.0.0
    (the RFC 2543 hold some PBXes still expect)."""
    codecs = _offer_codecs(config)
    media = MediaDescription.build(
        "audio", config.port, config.proto, [pt for pt, _ in codecs],
        attributes=_rtp_attributes(config, codecs, direction or config.direction))
    return _session(origin, config, [media], "0.0.0.0" if hold_address else None)


def _offered(media: MediaDescription) -> list[tuple[int, RtpMap]]:
    return [(pt, rm) for pt in media.payload_types if (rm := media.rtpmap(pt)) is not None]


def _same(spec: CodecSpec, rm: RtpMap) -> bool:
    return (rm.encoding.lower() == spec.name.lower() and rm.clock_rate == spec.clock_rate
            and (rm.channels or 1) == spec.channels)


def build_answer(offer: SessionDescription, config: MediaConfig, origin: Origin, *,
                 direction: str | None = None
                 ) -> tuple[SessionDescription, Negotiation]:
    """Answer ``offer`` (RFC 3264 6): accept the first audio stream with a common codec,
    answer every other m= line with port 0. Returns the answer and what was agreed."""
    ours = direction or config.direction
    prefs = [codec_spec(n) for n in config.codecs if n.lower() != "telephone-event"]
    want_te = any(n.lower() == "telephone-event" for n in config.codecs)
    answered, streams, rejected, warnings = [], [], [], []
    for index, offered in enumerate(offer.media):
        common: list[tuple[int, CodecSpec]] = []
        unusable = _unusable_ports(offered, config.rtcp_mux) or _unusable_address(
            offer.media_connection(index), offered)
        if unusable:
            warnings.append(f"m={index}: {unusable}: stream rejected")
        elif offered.media == "audio" and offered.is_rtp and offered.port and not streams:
            formats = _offered(offered)
            pairs: list[tuple[int, CodecSpec]] = []
            for pt, rm in formats:
                spec = next((sp for sp in prefs if _same(sp, rm)), None)
                if spec is not None and all(spec is not p[1] for p in pairs):
                    pairs.append((pt, spec))
            if config.prefer == "ours":
                pairs.sort(key=lambda p: prefs.index(p[1]))
            common = pairs
        if not common:
            rejected.append(index)
            answered.append(MediaDescription(offered.media, 0, offered.proto,
                                             offered.formats or ("0",)))
            continue
        te = _telephone_event(offered, common[0][1].clock_rate) if want_te else None
        chosen = common + ([(te[0], replace(REGISTRY["TELEPHONE-EVENT"], clock_rate=te[1]))]
                           if te is not None else [])
        conn = offer.media_connection(index)
        hold_addr = bool(conn and conn.is_hold)
        my_dir = answer_direction(offer.media_direction(index), ours, hold_address=hold_addr)
        mux = config.rtcp_mux and offered.rtcp_mux
        cfg = config if mux == config.rtcp_mux else replace(config, rtcp_mux=False)
        answered.append(MediaDescription.build(
            "audio", config.port, offered.proto, [pt for pt, _ in chosen],
            attributes=_rtp_attributes(cfg, chosen, my_dir)))
        streams.append(_stream(index, offer, offered, config, common,
                               te[0] if te else None, my_dir, mux,
                               ptime=offered.ptime or config.ptime))
    if not streams:
        warnings.append("no common codec: every stream rejected")
    answer = _session(origin, config, answered)
    return answer, Negotiation(tuple(streams), tuple(rejected), _version(offer),
                               warnings=tuple(warnings))


MAX_PORT = 65535


def _unusable_ports(media: MediaDescription, mux_wanted: bool) -> str | None:
    """Why the RTP/RTCP ports of ``media`` cannot be sent to (None: they can). RTCP goes to
    RTP + 1 unless ``a=rtcp`` or ``a=rtcp-mux`` says otherwise (RFC 3550 11, RFC 3605), so
    ``m=audio 65535`` leaves RTCP on 65536, which no socket can reach."""
    if not media.port or not media.is_rtp:
        return None
    if media.port > MAX_PORT:
        return f"RTP port {media.port} is beyond {MAX_PORT}"
    try:
        rtcp = media.rtcp
    except ValueError:
        rtcp = None
    if not (mux_wanted and media.rtcp_mux) and rtcp is None and media.port + 1 > MAX_PORT:
        return f"RTP port {media.port} leaves RTCP on {media.port + 1}, beyond {MAX_PORT}"
    return None


def _unusable_address(conn: Connection | None, media: MediaDescription) -> str | None:
    """Why the ``c=`` address of an RTP stream cannot be sent to (None: it can). Only IP
    literals are used: a name would be a DNS lookup per datagram chosen by the peer."""
    if not media.port or not media.is_rtp:
        return None
    if conn is None:  # nowhere to send: RTP to "" failed in the RTCP timer, every 5 s
        return "no c= address (RFC 4566 5.7: one per session or per stream)"
    try:
        ipaddress.ip_address(conn.host)
    except ValueError:
        return f"c= address {conn.host[:60]!r} is not an IP address (names are not resolved)"
    return None


def _version(sdp: SessionDescription) -> int | None:
    try:
        return sdp.origin.version
    except (IndexError, ValueError):
        return None


def _telephone_event(media: MediaDescription, clock_rate: int) -> tuple[int, int] | None:
    """(payload type, rate) of telephone-event at the codec's clock rate, else the first."""
    found = [(pt, rm.clock_rate) for pt, rm in _offered(media)
             if rm.encoding.lower() == "telephone-event"]
    for pt, rate in found:
        if rate == clock_rate:
            return pt, rate
    return found[0] if found else None


def _stream(index: int, remote: SessionDescription, remote_media: MediaDescription,
            config: MediaConfig, common: list[tuple[int, CodecSpec]], te: int | None,
            direction: str, mux: bool, *, ptime: int) -> NegotiatedStream:
    conn = remote.media_connection(index)
    address = conn.host if conn else ""
    codecs = tuple(Codec(spec.name, pt, spec.clock_rate, spec.channels, ptime,
                         remote_media.fmtp(pt) or spec.fmtp) for pt, spec in common)
    rtcp = remote_media.rtcp
    if mux:
        rtcp_addr, rtcp_port = address, remote_media.port
    elif rtcp is not None:
        rtcp_addr, rtcp_port = rtcp.address or address, rtcp.port
    else:
        rtcp_addr, rtcp_port = address, remote_media.port + 1
    remote_dir = remote.media_direction(index)
    return NegotiatedStream(
        index, remote_media.media, config.address, config.port, address, remote_media.port,
        codecs[0], codecs, te, direction, rtcp_addr, rtcp_port, mux,
        remote_hold=remote_dir in ("sendonly", "inactive") or bool(conn and conn.is_hold))


def negotiate(offer: SessionDescription, answer: SessionDescription,
              config: MediaConfig) -> Negotiation:
    """Read the answer to our ``offer`` (RFC 3264 7). A malformed answer (another number
    of m= lines, a format we did not offer) raises ParseError (status hint 488)."""
    if len(answer.media) != len(offer.media):
        raise ParseError(f"answer has {len(answer.media)} m= lines, the offer "
                         f"{len(offer.media)} (RFC 3264 6)", header="SDP", status_hint=488)
    streams, rejected, warnings = [], [], []
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media)):
        if theirs.port == 0 or ours.port == 0 or not theirs.is_rtp:
            rejected.append(index)
            continue
        unusable = _unusable_ports(theirs, ours.rtcp_mux) or _unusable_address(
            answer.media_connection(index), theirs)
        if unusable:
            rejected.append(index)
            warnings.append(f"m={index}: {unusable}: no media on this stream")
            continue
        mine = {rm.encoding.lower(): (pt, rm) for pt, rm in _offered(ours)}
        common: list[tuple[int, CodecSpec]] = []
        te = None
        for pt, rm in _offered(theirs):
            if rm.encoding.lower() not in mine:
                warnings.append(f"m={index}: answer has {rm.encoding} that we did not offer")
                continue
            if rm.encoding.lower() == "telephone-event":
                te = pt if te is None else te
                continue
            spec = lookup(rm.encoding) or CodecSpec(rm.encoding, None, rm.clock_rate)
            common.append((pt, spec))
        if not common:
            rejected.append(index)
            warnings.append(f"m={index}: no common codec in the answer")
            continue
        conn = answer.media_connection(index)
        my_dir = answer_direction(answer.media_direction(index), offer.media_direction(index),
                                  hold_address=bool(conn and conn.is_hold))
        streams.append(_stream(index, answer, theirs, config, common, te, my_dir,
                               ours.rtcp_mux and theirs.rtcp_mux,
                               ptime=theirs.ptime or config.ptime))
    return Negotiation(tuple(streams), tuple(rejected), _version(answer),
                       warnings=tuple(warnings))
