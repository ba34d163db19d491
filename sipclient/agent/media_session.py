"""The one interface between the agent and a call's media (:class:`MediaSession`), the
factory that makes one per call (:class:`MediaFactory`), and the summary of a remote SDP
(:class:`RemoteSdp`) read from the SDP the media session already parsed.

The media sessions are :class:`sipclient.agent.media.RealMedia` (levels "full" and
"packets"), :class:`sipclient.agent.media.SdpOnlyMedia` (level "none") and webrtc/'s
``WebRtcMedia``; each implements every member below, so the agent, the scenario steps and
the CLI call them directly (no ``getattr`` probing). A WebRTC endpoint plugs its own
factory through ``Agent(config, media_factory=...)``; ``Agent.call(codecs=...)`` and
``IncomingCall.answer(codecs=...)`` choose one call's codecs through the same factory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from sipclient.media.sdp import STATIC_PAYLOAD_TYPES, SessionDescription

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["MediaFactory", "MediaSession", "RemoteSdp", "remote_summary"]


class MediaSession(Protocol):
    """What the agent needs from a call's media (RFC 3264 offer/answer, DTMF, statistics)."""

    #: the codec preference of the next offer or answer (names from the codec registry)
    codecs: Sequence[Any]
    #: DTMF digits received in SIP INFO bodies (RFC 6086; the call appends them)
    info_digits: list[str]

    async def start(self) -> None: ...          # bind sockets
    def offer(self) -> bytes: ...               # a new offer (re-offer: version + 1)
    def answer(self, remote_sdp: bytes) -> bytes: ...   # answer a remote offer
    def accept(self, remote_sdp: bytes) -> None: ...    # the remote answer to our offer
    def hold(self) -> None: ...                 # next offer: a=sendonly
    def unhold(self) -> None: ...               # next offer: a=sendrecv
    def set_codecs(self, names: Sequence[str]) -> None: ...  # before the first offer/answer
    def set_play(self, play: str | None) -> None: ...     # what to send from now on
    def set_record(self, path: str | None) -> None: ...   # record from now on (None: stop)
    async def send_dtmf(self, digits: str, mode: str = "rfc4733", *,
                        duration_ms: int | None = None) -> None: ...  # ms per digit

    @property
    def dtmf_received(self) -> str: ...          # RFC 4733 events + INFO (+ in-band tones)

    @property
    def remote(self) -> RemoteSdp | None: ...    # the remote SDP's audio stream, if any

    @property
    def sending(self) -> bool: ...               # media flows out now (negotiated, not held)
    async def received(self, timeout: float | None = None) -> bool: ...  # next RTP packet in

    def dominant_hz(self, since: float | None = None) -> float | None: ...
    def stats(self) -> list[dict[str, Any]]: ...  # one dict per stream (docs/agent.md)
    async def close(self) -> None: ...


class MediaFactory(Protocol):
    """Makes the media session of one call: ``codecs`` (this call's preference, else the
    agent's ``config.codecs``) and ``level`` ("full", "packets", "none"; else the config's),
    which a factory that has no levels (WebRTC) ignores."""

    def __call__(self, agent: Agent, *, codecs: Sequence[str] | None = None,
                 level: str | None = None) -> MediaSession: ...


@dataclass
class RemoteSdp:
    """The first audio stream of a remote SDP: address, port, payload order, first codec,
    direction (a media-level c= or direction overrides the session-level one)."""

    address: str | None = None
    port: int | None = None
    payloads: list[int] = field(default_factory=list)
    codec: str | None = None  # first payload's name
    direction: str = "sendrecv"
    rtpmap: dict[int, str] = field(default_factory=dict)


def remote_summary(sdp: SessionDescription) -> RemoteSdp:
    """:class:`RemoteSdp` of ``sdp`` (already parsed: no second SDP parser)."""
    out = RemoteSdp()
    index = next((i for i, m in enumerate(sdp.media) if m.media == "audio"), None)
    if index is None:
        conn = sdp.connection
        out.address = conn.host if conn is not None else None
        out.direction = sdp.direction or "sendrecv"
        return out
    m = sdp.media[index]
    conn = sdp.media_connection(index)
    out.address = conn.host if conn is not None else None
    out.port = m.port
    out.payloads = list(m.payload_types)
    out.rtpmap = {pt: r.encoding for pt, r in m.rtpmaps.items()}
    out.direction = sdp.media_direction(index)
    if out.payloads:
        first = out.payloads[0]
        static = STATIC_PAYLOAD_TYPES.get(first)
        out.codec = out.rtpmap.get(first) or (static[0] if static else None)
    return out
