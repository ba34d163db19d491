"""The media seam of load calls: what each call offers and, per ``--media`` level, sends.

* ``none``: every call offers the same static SDP (PCMU/PCMA, port 9 = discard) and binds
  nothing: signalling only, like ``sipp -sn uac``.
* ``packets``: one RTP stream per call (PCMU, 20 ms, a 1000 Hz tone pre-encoded), paced by
  the process's one media clock; what arrives is counted (RFC 3550 loss, jitter), not
  decoded. The agent's media session at level "packets"
  (:func:`sipclient.agent.media.make_media`).
* ``full``: the same, and what arrives is decoded and analysed: ``tone_heard`` says whether
  the dominant frequency received was our 1000 Hz (an echo, e.g. ``sipp -rtp_echo``).

Per stream the run reports packets sent and received, lost (and the share of ``expected``),
jitter, and the p99 of how late packets left against their schedule (send-time error).
"""

from __future__ import annotations

from typing import Any

from sipclient.load.spec import MEDIA_LEVELS, LoadSpec

__all__ = ["MediaPlan", "MediaUnavailable", "TONE_HZ", "RTP_PORTS", "tone_payload"]

#: the tone each call plays at levels packets and full
TONE_HZ = 1000
#: RTP ports of load calls (an even port per call, RTCP on the next)
RTP_PORTS = (20000, 60000)


class MediaUnavailable(ValueError):
    """The asked ``--media`` level cannot run here."""


def static_offer(ip: str, port: int = 9) -> bytes:
    family = "IP6" if ":" in ip else "IP4"
    return (f"v=0\r\no=sipclient 1 1 IN {family} {ip}\r\ns=sipclient load\r\n"
            f"c=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
            ).encode("ascii")


def tone_payload() -> bytes:
    """20 ms of the :data:`TONE_HZ` tone in PCMU: 160 samples, 20 whole periods, so one
    payload serves every packet of every stream (the lean engine's ``--media packets``)."""
    from sipclient.media.audio import tone
    from sipclient.media.codecs.g711 import ulaw_encode

    return ulaw_encode(tone(TONE_HZ, duration=0.02, sample_rate=8000))


class _NoMedia:
    """One call's media at level ``none``."""

    def __init__(self, offer: bytes) -> None:
        self._offer = offer

    def offer(self) -> bytes:
        return self._offer

    def answered(self, sdp: bytes) -> None:
        """The far end's answer (ignored at level none)."""

    async def close(self) -> list[dict[str, Any]]:
        return []


class _RtpMedia:
    """One call's RTP at level packets or full (the agent's media session)."""

    def __init__(self, session: Any, level: str) -> None:
        self.session = session
        self.level = level

    def offer(self) -> bytes:
        return self.session.offer()

    def answered(self, sdp: bytes) -> None:
        if sdp:
            self.session.accept(sdp)

    async def close(self) -> list[dict[str, Any]]:
        stats = self.session.stats()
        await self.session.close()
        out = []
        for s in stats:
            received, lost = s.get("packets_received", 0), max(0, s.get("lost", 0))
            hz = s.get("dominant_hz")
            out.append({
                "packets_sent": s.get("packets_sent", 0), "packets_received": received,
                "lost": lost, "expected": received + lost,
                "jitter_ms": s.get("jitter_ms") or 0.0,
                "send_error_p99_ms": s.get("send_late_p99_ms") or 0.0,
                "tone_heard": self.level == "full" and hz is not None
                and abs(hz - TONE_HZ) <= 20,
            })
        return out


class MediaPlan:
    """Per-process media for the calls of a run."""

    def __init__(self, spec: LoadSpec) -> None:
        if spec.media not in MEDIA_LEVELS:
            raise MediaUnavailable(f"--media {spec.media}: one of {', '.join(MEDIA_LEVELS)}")
        self.level = spec.media
        self._offer = b""
        self._ip = "127.0.0.1"

    async def open(self, local_ip: str) -> None:
        self._ip = local_ip if local_ip not in ("0.0.0.0", "::") else "127.0.0.1"
        self._offer = static_offer(self._ip)

    async def new_call(self, i: int) -> Any:
        if self.level == "none":
            return _NoMedia(self._offer)
        from sipclient.agent.media import make_media

        session = make_media(self.level, self._ip, ("PCMU",), play=f"tone:{TONE_HZ}",
                             port_range=RTP_PORTS)
        await session.start()
        return _RtpMedia(session, self.level)

    async def close(self) -> None:
        return None
