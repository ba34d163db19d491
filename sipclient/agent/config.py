"""Agent configuration: :class:`AgentConfig`, :class:`Secret`, :class:`ImpairmentSettings`.

A password is held in a :class:`Secret`, which prints as ``'***'`` in ``repr``/``str``/
f-strings and ``format``: it cannot leak into logs, traces or reports by accident. Only
:meth:`Secret.reveal` gives the text, and only the digest code calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sipclient.io.impair import Impairment
from sipclient.media.codecs.registry import default_names
from sipclient.pcap.writer import PcapWriter
from sipclient.proto.secret import Secret
from sipclient.proto.timers import TimerConfig

__all__ = ["AgentConfig", "ImpairmentSettings", "Secret", "DEFAULT_CODECS", "MEDIA_LEVELS"]

#: AgentConfig.media_level values (sipclient.agent.media.make_media builds each)
MEDIA_LEVELS = ("full", "packets", "none")

# The codec registry's defaults. G.729 is opt-in (``codecs=("G729", ...)``): Asterisk has no
# G.729 transcoder, so when it is offered by default the PBX may lock a call to G.729 and
# then fail to play tones into it.
DEFAULT_CODECS: tuple[str, ...] = default_names()


@dataclass(frozen=True)
class ImpairmentSettings:
    """Impairment of the agent's own transport (:mod:`sipclient.io.impair`): per direction,
    and a seed so a run is reproducible."""

    outgoing: Impairment | None = None
    incoming: Impairment | None = None
    seed: int | str | None = 0

    @classmethod
    def coerce(cls, value: ImpairmentSettings | Impairment | dict | None
               ) -> ImpairmentSettings | None:
        """Accept settings, one :class:`Impairment` (both directions) or a dict
        ``{"outgoing": Impairment|dict, "incoming": ..., "seed": 7}``."""
        if value is None or isinstance(value, ImpairmentSettings):
            return value
        if isinstance(value, Impairment):
            return cls(value, value)
        if isinstance(value, dict):
            def one(v: Any) -> Impairment | None:
                return Impairment(**v) if isinstance(v, dict) else v
            return cls(one(value.get("outgoing")), one(value.get("incoming")),
                       value.get("seed", 0))
        raise TypeError(f"impairment: expected ImpairmentSettings, Impairment or dict, "
                        f"not {type(value).__name__}")


@dataclass(frozen=True)
class AgentConfig:
    """One user agent (one extension on one transport). See docs/agent.md."""

    user: str
    password: Secret | str | None = None
    server: str = "udp:127.0.0.1:5060"
    domain: str | None = None
    auth_user: str | None = None
    display_name: str | None = None
    local_address: str | None = "127.0.0.1"
    local_port: int = 0
    expires: int | None = None
    insecure: bool = False
    ca_file: str | None = None
    impairment: ImpairmentSettings | Impairment | dict | None = None
    user_agent: str = "sipclient/0.1"
    timers: TimerConfig | None = None
    codecs: tuple[str, ...] = DEFAULT_CODECS
    #: seconds the cleanup on exit (hang up, unregister) may take at most
    cleanup_timeout: float = 5.0
    #: confirmed incoming calls up at once before new INVITEs get 503 (None: the
    #: calls_per_agent limit, docs/limits.md)
    max_calls: int | None = None
    #: incoming calls not confirmed yet (ringing, or 200 without its ACK) before the oldest
    #: makes room for a new one (None: the unconfirmed_calls limit; sipclient.agent.admission)
    max_unconfirmed: int | None = None
    #: seed for branches, tags and Call-IDs (None: system randomness)
    seed: int | None = None
    #: extra headers added to every out-of-dialog request
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    #: media (issue 5): what each call plays: "tone:1000", "tone:1000+1400", "silence" or a
    #: WAV file (None: silence)
    play: str | None = None
    #: record what each call receives to this WAV file (None: no recording)
    record: str | None = None
    #: RTP ports: an even RTP port in this range, RTCP on the next odd one (RFC 3550 11)
    rtp_ports: tuple[int, int] = (10000, 20000)
    #: record every message in ``agent.trace`` (False: no trace kept, e.g. for benchmarks;
    #: ``RegisterResult.flow`` is then empty)
    record_trace: bool = True
    #: how many messages ``agent.trace`` keeps (the newest; positions stay absolute, see
    #: sipclient.agent.trace); None: no bound. Everything is in ``capture`` when one is set
    trace_limit: int | None = 2_000
    #: what each call does with media: "full" (decode, jitter buffer, tone/DTMF analysis,
    #: MOS, recording), "packets" (pre-encoded payloads sent, what arrives only counted:
    #: RFC 3550 loss, jitter, sequence), "none" (SDP only, no RTP socket); per call:
    #: ``agent.call(target, media_level=...)``
    media_level: str = "full"
    #: write every SIP message and every RTP/RTCP packet of the agent to this pcap file
    #: (wall-clock times, flushed per packet, so a failed run leaves a readable file), or
    #: into a PcapWriter shared by several agents (its owner closes it), or any sink with
    #: the same ``write(time, transport, src, dst, payload)`` (sipclient.io.hep: HEP3 to
    #: Homer, or a CaptureTee of both)
    capture: str | PcapWriter | Any | None = None
    #: seconds to wait before answering a 401/407 challenge (0: at once), to reproduce a
    #: slow phone whose answers arrive after the registrar's nonce went stale (issue 17)
    challenge_delay: float = 0.0
    #: no registrar, no outbound proxy: listen at ``local_address``/``local_port`` (default
    #: the ``server``'s address) on its transport (UDP, TCP, TLS, WS, WSS) and take calls
    #: there; the requests of a dialog go to its next hop (route set, else the remote target)
    listen: bool = False
    #: TLS/WSS listener: our certificate and key (PEM)
    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if self.password is not None and not isinstance(self.password, Secret):
            object.__setattr__(self, "password", Secret(self.password))
        object.__setattr__(self, "impairment", ImpairmentSettings.coerce(self.impairment))
        object.__setattr__(self, "codecs", tuple(self.codecs))
        if self.media_level not in MEDIA_LEVELS:
            raise ValueError(f"media_level {self.media_level!r}: one of "
                             f"{', '.join(MEDIA_LEVELS)}")
        if self.trace_limit is not None and self.trace_limit < 1:
            raise ValueError(f"trace_limit must be at least 1 (or None), not {self.trace_limit}")

    @property
    def digest_user(self) -> str:
        return self.auth_user or self.user

    @property
    def requested_expires(self) -> int:
        """What REGISTER asks for: ``expires``, or 3600 (the registrar decides)."""
        return 3600 if self.expires is None else int(self.expires)
