"""The media factories of the agent (:class:`~sipclient.agent.media_session.MediaFactory`):
:func:`real_media` (the default: real RTP at the config's media level) and
:func:`stub_media` (SDP only), and :func:`make_call_media`, the one place the agent asks its
factory for a call's media."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .media_session import MediaSession

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["call_recording", "make_call_media", "real_media", "stub_media"]


def make_call_media(agent: Agent, *, codecs: Sequence[str] | None = None,
                    level: str | None = None) -> MediaSession:
    """The media of one call from ``agent.media_factory``; ``codecs``/``level`` override the
    config for this call. A factory written before per-call options (``factory(agent)``)
    still serves the calls that ask for none."""
    if codecs is None and level is None:
        return agent.media_factory(agent)
    return agent.media_factory(agent, codecs=codecs, level=level)


def stub_media(agent: Agent, *, codecs: Sequence[str] | None = None,
               level: str | None = None) -> MediaSession:
    """SDP only, no RTP socket (media level "none"): ``Agent(cfg, media_factory=stub_media)``
    for benchmarks and tests that need no audio."""
    return real_media(agent, codecs=codecs, level="none")


def real_media(agent: Agent, *, codecs: Sequence[str] | None = None,
               level: str | None = None) -> MediaSession:
    """The default: real RTP, codecs and DTMF (:class:`sipclient.agent.media.RealMedia`)
    playing ``config.play`` and recording to ``config.record``, offering ``codecs``
    (default ``config.codecs``) at ``level`` (default ``config.media_level``: see
    :data:`sipclient.agent.media.MEDIA_LEVELS`)."""
    from .media import make_media  # numpy and the codec libraries load with the first call

    cfg = agent.config
    level = level or cfg.media_level
    names = tuple(codecs) if codecs else cfg.codecs
    if level == "none":
        return make_media("none", agent.local_ip, names)
    tap = agent.capture if cfg.capture is not None else None
    return make_media(level, agent.local_ip, names, play=cfg.play,
                      record=call_recording(agent, cfg.record), port_range=cfg.rtp_ports,
                      tap=tap)


def call_recording(agent: Agent, record: str | None) -> str | None:
    """The recording file of the agent's next call with media: ``record`` for the first,
    then one file per call (``out.wav``, ``out-2.wav``, ``out-3.wav`` ...)."""
    agent.media_count += 1
    count = agent.media_count
    if not record or count == 1:
        return record
    stem, dot, ext = record.rpartition(".")
    return f"{stem}-{count}.{ext}" if dot else f"{record}-{count}"
