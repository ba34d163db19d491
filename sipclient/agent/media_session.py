"""What the agent needs from a call's media (:class:`MediaSession`), and the summary of a
remote SDP (:class:`RemoteSdp`) read from the SDP the media session already parsed.

The media sessions are :class:`sipclient.agent.media.RealMedia` (levels "full" and
"packets") and :class:`sipclient.agent.media.SdpOnlyMedia` (level "none"); a WebRTC endpoint
plugs its own through ``Agent(config, media_factory=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sipclient.media.sdp import SessionDescription

__all__ = ["MediaSession", "RemoteSdp", "remote_summary"]

_STATIC_NAMES = {0: "PCMU", 8: "PCMA", 18: "G729", 3: "GSM", 9: "G722"}


class MediaSession(Protocol):
    """What the agent needs from a media session (RFC 3264 offer/answer)."""

    async def start(self) -> None: ...          # bind sockets
    def offer(self) -> bytes: ...               # a new offer (re-offer: version + 1)
    def answer(self, remote_sdp: bytes) -> bytes: ...   # answer a remote offer
    def accept(self, remote_sdp: bytes) -> None: ...    # the remote answer to our offer
    def hold(self) -> None: ...                 # next offer: a=sendonly
    def unhold(self) -> None: ...               # next offer: a=sendrecv
    async def close(self) -> None: ...


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
        out.codec = out.rtpmap.get(first) or _STATIC_NAMES.get(first)
    return out
