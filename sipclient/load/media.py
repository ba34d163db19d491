"""The media seam of load calls: what each call offers and, per ``--media`` level, sends.

* ``none``: every call offers the same static SDP (PCMU/PCMA, port 9 = discard) and binds
  nothing: signalling only, like ``sipp -sn uac``.
* ``packets`` and ``full`` need the engine issue's per-call media levels (one media clock
  per process); until that lands, :class:`MediaPlan` refuses them with a clear message
  instead of pretending.
"""

from __future__ import annotations

from typing import Any

from sipclient.load.spec import LoadSpec

__all__ = ["MediaPlan", "CallMedia", "MediaUnavailable"]


class MediaUnavailable(ValueError):
    """The asked ``--media`` level cannot run here."""


def static_offer(ip: str, port: int = 9) -> bytes:
    family = "IP6" if ":" in ip else "IP4"
    return (f"v=0\r\no=sipclient 1 1 IN {family} {ip}\r\ns=sipclient load\r\n"
            f"c=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
            ).encode("ascii")


class CallMedia:
    """One call's media at level ``none``."""

    def __init__(self, offer: bytes) -> None:
        self._offer = offer

    def offer(self) -> bytes:
        return self._offer

    def answered(self, sdp: bytes) -> None:
        """The far end's answer (ignored at level none)."""

    def close(self) -> list[dict[str, Any]]:
        """Per-stream statistics (none at level none)."""
        return []


class MediaPlan:
    """Per-process media for the calls of a run."""

    def __init__(self, spec: LoadSpec) -> None:
        if spec.media not in ("none",):
            raise MediaUnavailable(
                f"--media {spec.media} needs per-call media levels from the engine work "
                "(issue 14), not merged yet; use --media none")
        self.level = spec.media
        self._offer = b""

    async def open(self, local_ip: str) -> None:
        ip = local_ip if local_ip not in ("0.0.0.0", "::") else "127.0.0.1"
        self._offer = static_offer(ip)

    async def new_call(self, i: int) -> CallMedia:
        return CallMedia(self._offer)

    async def close(self) -> None:
        return None
