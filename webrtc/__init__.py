"""WebRTC media backend: the only package that imports aiortc (issue 8).

Signalling stays in ``sipclient`` (the agent, over its WS/WSS transport); this package only
supplies the media of each call: ``Agent(config, media_factory=webrtc.media_factory(...))``.
See docs/webrtc.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sipclient.agent import Agent
    from sipclient.agent.media_session import MediaSession

__all__ = ["media_factory", "WebRtcOptions", "OPTION_KEYS"]

#: the option keys media_factory reads; any other key (a scenario's agent fields) is ignored
OPTION_KEYS = ("play", "record", "codecs", "stun", "turn", "ice_servers", "dtmf", "ptime")


class WebRtcOptions:
    """Validated options (see :func:`media_factory`)."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        o = dict(options or {})
        self.play: str | None = _str(o, "play")
        self.record: str | None = _str(o, "record")
        codecs = o.get("codecs")
        if isinstance(codecs, str):
            codecs = [c.strip() for c in codecs.split(",") if c.strip()]
        if codecs is not None and not (isinstance(codecs, (list, tuple))
                                       and all(isinstance(c, str) for c in codecs)):
            raise ValueError("webrtc option codecs: a list of names (PCMU, PCMA, opus)")
        self.codecs: tuple[str, ...] | None = tuple(codecs) if codecs else None
        self.dtmf: str = _str(o, "dtmf") or "rfc4733"
        if self.dtmf not in ("rfc4733", "inband"):
            raise ValueError(f"webrtc option dtmf: rfc4733 or inband, not {self.dtmf!r}")
        ptime = o.get("ptime", 20)
        if not isinstance(ptime, int) or ptime not in (10, 20, 30, 40, 60):
            raise ValueError(f"webrtc option ptime: 10, 20, 30, 40 or 60 ms, not {ptime!r}")
        self.ptime = ptime
        self.ice_servers = _ice_servers(o)

    def codecs_for(self, config_codecs: tuple[str, ...]) -> tuple[str, ...]:
        """Ours if given, else the agent's that WebRTC carries (G.711; opus when the agent
        lists it), else PCMU+PCMA."""
        from .sdp import CODECS

        if self.codecs:
            return self.codecs
        usable = tuple(c for c in config_codecs if c.upper() in CODECS)
        return usable or ("PCMU", "PCMA")


def _str(o: Mapping[str, Any], key: str) -> str | None:
    value = o.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"webrtc option {key}: a string, not {type(value).__name__}")
    return value


def _ice_servers(o: Mapping[str, Any]) -> list[Any]:
    """``stun: "stun:host:port"`` (or a list), ``turn: {"urls": ..., "username": ...,
    "credential": ...}`` (or a list), ``ice_servers``: aiortc RTCIceServer objects. None
    given: no server at all (no public STUN is ever contacted unless configured)."""
    from aiortc.rtcconfiguration import RTCIceServer

    servers: list[Any] = list(o.get("ice_servers") or [])
    stun = o.get("stun")
    for url in ([stun] if isinstance(stun, str) else list(stun or [])):
        if not isinstance(url, str) or not url.startswith("stun:"):
            raise ValueError(f"webrtc option stun: 'stun:host:port', not {url!r}")
        servers.append(RTCIceServer(urls=url))
    turn = o.get("turn")
    for entry in ([turn] if isinstance(turn, (str, dict)) else list(turn or [])):
        if isinstance(entry, str):
            entry = {"urls": entry}
        if not isinstance(entry, dict) or not str(entry.get("urls", "")).startswith(
                ("turn:", "turns:")):
            raise ValueError("webrtc option turn: {urls: 'turn:host:port', username, "
                             "credential}")
        secret = entry.get("credential")
        reveal = getattr(secret, "reveal", None)
        servers.append(RTCIceServer(urls=entry["urls"], username=entry.get("username"),
                                    credential=reveal() if reveal else secret))
    return servers


def media_factory(options: Mapping[str, Any] | None = None
                  ) -> Callable[["Agent"], "MediaSession"]:
    """A media factory for :class:`sipclient.agent.Agent` that makes every call WebRTC.

    ``options`` (all optional; other keys are ignored, so a scenario can pass its agent
    fields): ``play`` / ``record`` (default: the agent config's), ``codecs`` (default: the
    agent's G.711 codecs, else PCMU, PCMA; opus only when listed), ``stun`` / ``turn`` /
    ``ice_servers`` (default: none, host candidates only), ``dtmf`` (``rfc4733`` or
    ``inband``), ``ptime``. Bad options raise ValueError at once, naming the option.
    """
    opts = WebRtcOptions(options)

    def factory(agent: "Agent", *, codecs: Sequence[str] | None = None,
                level: str | None = None) -> "MediaSession":
        """One call's WebRTC media (``codecs``: this call's; ``level``: WebRTC has one)."""
        from sipclient.agent.factories import call_recording

        from .session import WebRtcMedia

        cfg = agent.config
        record = call_recording(agent, opts.record if opts.record is not None else cfg.record)
        tap = agent.capture if cfg.capture is not None else None
        return WebRtcMedia(tuple(codecs) if codecs else opts.codecs_for(tuple(cfg.codecs)),
                           play=opts.play if opts.play is not None else cfg.play,
                           record=record, ice_servers=opts.ice_servers, tap=tap,
                           rng=None, dtmf_mode=opts.dtmf, ptime=opts.ptime)

    factory.options = opts  # type: ignore[attr-defined]
    return factory
