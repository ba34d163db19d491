"""The real media session of a call: SDP offer/answer (RFC 3264) and one RTP audio stream.

:class:`RealMedia` is the agent's default :class:`~sipclient.agent.media_session.MediaSession`:

* the SDP side is :class:`sipclient.media.sdp_session.SdpSession` (our ``o=`` line and its
  version, the pending offer, hold/resume, early media: a 200 repeating the 183's answer,
  late offer: the answer in the ACK). Offers list ``codecs`` in order plus telephone-event
  (RFC 4733); answers keep the offerer's order (RFC 3264 6.1);
* the RTP side is :class:`sipclient.io.rtp_session.RtpSession`, (re)configured by every
  negotiation and started as soon as there is one (early media included): it plays ``play``
  (``tone:1000``, ``tone:1000+1400``, ``silence``, a WAV file), records to ``record`` (WAV),
  sends DTMF and measures what arrives;
* :meth:`stats` gives one dict per stream: codec, RTP addresses, packets sent/received,
  lost, jitter, MOS (E-model), the dominant frequency received, the DTMF digits received.

The media level (``AgentConfig(media_level=...)``, per call ``agent.call(...,
media_level=...)``) picks the session: :func:`make_media` gives :class:`RealMedia` for
"full" and "packets" and :class:`SdpOnlyMedia` (no RTP socket) for "none".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from typing import Any

from sipclient.io.changes import Changes
from sipclient.io.rtp_session import RtpSession, StreamParams, Tap
from sipclient.media import audio, codecs, goertzel, mos
from sipclient.media.offer_answer import MediaConfig, Negotiation, NegotiatedStream
from sipclient.media.sdp_session import SdpSession
from sipclient.media.stats import loss_fraction, receive_report
from sipclient.proto.errors import LocalProtocolError, ParseError

from .config import DEFAULT_CODECS, MEDIA_LEVELS
from .errors import AgentError
from .media_session import RemoteSdp, remote_summary

__all__ = ["AudioAnalyser", "MEDIA_LEVELS", "RealMedia", "SdpOnlyMedia", "make_media",
           "make_source"]

# MEDIA_LEVELS (``AgentConfig(media_level=...)``, ``agent.call(..., media_level=...)``):
# "full" decodes and analyses what arrives (tones, DTMF, MOS, the recording), "packets"
# sends pre-encoded payloads and only counts what arrives (RFC 3550 loss, jitter, sequence),
# "none" negotiates SDP and binds no RTP socket at all

log = logging.getLogger(__name__)

DTMF_MODES = ("rfc4733", "inband")


def make_source(play: str | None) -> audio.Source:
    """``None``/``"silence"``, ``"tone:1000"``, ``"tone:1000+1400"`` or a WAV file path (played
    once, then silence)."""
    if play is None or play.lower() == "silence":
        return audio.SilenceSource()
    if play.lower().startswith("tone:"):
        try:
            freqs = [float(f) for f in play[5:].split("+")]
        except ValueError:
            raise ValueError(f"bad tone {play!r}: tone:HZ or tone:HZ+HZ") from None
        return audio.ToneSource(freqs)
    return audio.WavSource(play)


class AudioAnalyser:
    """The sink of an RTP session: keeps the decoded audio (the last ``keep_frames`` frames,
    with the loop time each was played out) for :meth:`dominant_hz`, listens for in-band
    DTMF (Goertzel, Q.23 tones) and writes a WAV recording when given one."""

    def __init__(self, recorder: audio.WavRecorder | None = None,
                 keep_frames: int = 30000) -> None:  # 10 minutes of 20 ms frames
        self.recorder = recorder
        self.keep_frames = keep_frames
        self._digits: list[str] = []
        self._frames: list[np.ndarray] = []
        self._times: list[float] = []
        self._detector = goertzel.DtmfDetector(8000)
        self._unheard: list[np.ndarray] = []  # frames the DTMF detector has not seen yet

    #: frames the DTMF detector is fed at once (the detector's blocks do not depend on how
    #: the audio is cut, so batching changes no result; reading :attr:`digits` feeds the rest)
    DETECT_FRAMES = 8

    @property
    def digits(self) -> list[str]:
        """In-band digits heard so far."""
        self._detect()
        return self._digits

    def __call__(self, samples: np.ndarray, now: float) -> None:
        self._frames.append(samples)
        self._times.append(now)
        if len(self._frames) > self.keep_frames:
            del self._frames[:1000], self._times[:1000]
        if self.recorder is not None:
            self.recorder.write(samples)
        self._unheard.append(samples)
        if len(self._unheard) >= self.DETECT_FRAMES:
            self._detect()

    def _detect(self) -> None:
        if self._unheard:
            samples = np.concatenate(self._unheard)
            self._unheard.clear()
            self._digits += [d.digit for d in self._detector.feed(samples)]

    def received_audio(self, since: float | None = None) -> np.ndarray:
        """The decoded audio (int16, 8 kHz) played out at or after loop time ``since``."""
        frames = [f for f, t in zip(self._frames, self._times) if since is None or t >= since]
        return np.concatenate(frames) if frames else np.zeros(0, np.int16)

    def dominant_hz(self, since: float | None = None) -> float | None:
        """The strongest frequency received (None: under 0.1 s of audio, or silence)."""
        samples = self.received_audio(since)
        if len(samples) < 800 or audio.level_dbfs(samples) < -55:
            return None
        return round(audio.dominant_frequency(samples, 8000), 1)


class RealMedia:
    """One call's media (see the module docstring). ``address``: the IP we bind and write
    in ``c=``; ``codecs``: preference order (the codec registry's playable names); ``tap``: sees every
    RTP/RTCP datagram (the agent's capture, :class:`~sipclient.io.rtp_session.RtpSession`)."""

    def __init__(self, address: str, codec_names: Sequence[str] = DEFAULT_CODECS,
                 *, play: str | None = None, record: str | None = None,
                 port_range: tuple[int, int] = (10000, 20000), ptime: int = 20,
                 rng: random.Random | None = None, tap: Tap | None = None,
                 level: str = "full") -> None:
        self.address = address
        self.codecs = _codec_names(codec_names, playable=True)
        self.play = play
        self.record = record
        self.ptime = ptime
        self.rng = rng or random.Random()
        self.level = level
        self.analyser = AudioAnalyser()
        self.rtp = RtpSession(address, port_range=port_range, source=make_source(play),
                              sink=self.analyser, rng=self.rng, tap=tap, level=level)
        self.sdp: SdpSession | None = None
        self.negotiation: Negotiation | None = None
        self._recorder: audio.WavRecorder | None = None
        self._closed = False
        #: DTMF digits received in SIP INFO bodies (the call puts them here)
        self.info_digits: list[str] = []

    def __repr__(self) -> str:
        return f"<RealMedia {self.address}:{self.rtp.port} {','.join(self.codecs)}>"

    # ------------------------------------------------------------------ MediaSession

    async def start(self) -> None:
        """Bind the RTP/RTCP ports; the SDP session starts with them (idempotent)."""
        if self.sdp is not None or self._closed:  # closed first (a dropped call): no ports
            return
        port = await self.rtp.bind()
        config = MediaConfig(self.address, port, codecs=(*self.codecs, "telephone-event"),
                             ptime=self.ptime)
        self.sdp = SdpSession(config, session_id=self.rng.randrange(1, 1 << 31))
        if self.record:
            try:
                self._recorder = self.analyser.recorder = audio.WavRecorder(self.record)
            except OSError as exc:
                raise AgentError(f"cannot write the recording {self.record}: "
                                 f"{exc.strerror or exc}") from None

    def set_codecs(self, names: Sequence[str]) -> None:
        """This call's codec preference; only before the offer/answer starts."""
        if self.sdp is not None:
            raise AgentError("the call's codecs cannot change once its media started "
                             "(give them to Agent.call(codecs=...) or IncomingCall.answer)")
        self.codecs = _codec_names(names, playable=not isinstance(self, SdpOnlyMedia))

    def _session(self) -> SdpSession:
        if self.sdp is None:
            raise AgentError("media not started: await media.start() first")
        return self.sdp

    def offer(self) -> bytes:
        """A new offer (a re-offer bumps the ``o=`` version when it changed)."""
        return bytes(self._session().create_offer())

    def answer(self, remote_sdp: bytes) -> bytes:
        """Answer a remote offer and start (or re-point) the RTP stream."""
        answer, negotiation = self._session().receive_offer(remote_sdp)
        self._apply(negotiation)
        return bytes(answer)

    def accept(self, remote_sdp: bytes) -> None:
        """The answer to our offer (18x, 200, or the ACK of a late offer)."""
        session = self._session()
        try:
            negotiation = session.receive_answer(remote_sdp)
        except LocalProtocolError:  # an ACK or 200 with SDP and no offer of ours pending
            log.info("%r: SDP with no offer pending, ignored", self)
            return
        except ParseError as exc:  # a broken answer must not break the call: keep the media
            log.warning("%r: unusable SDP answer ignored: %s", self, exc)
            return
        self._apply(negotiation)

    def hold(self) -> None:
        """The next offer is ``a=sendonly`` (RFC 3264 8.4)."""
        self._session().hold("sendonly")

    def unhold(self) -> None:
        """The next offer is ``a=sendrecv`` again."""
        self._session().resume()

    def set_play(self, play: str | None) -> None:
        """Play ``play`` from now on, mid-call (the forms of the constructor's ``play``)."""
        self.rtp.source = make_source(play)
        self.play = play

    def set_record(self, path: str | None) -> None:
        """Record what arrives to the WAV file ``path`` from now on (None: stop); a
        recording in progress is finished first."""
        if self._recorder is not None:
            self._recorder.close()
        self._recorder = self.analyser.recorder = audio.WavRecorder(path) if path else None
        self.record = path

    async def close(self) -> None:
        """Stop the RTP session (RTCP BYE) and finish the recording (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self.rtp.stop()
        if self._recorder is not None:
            self._recorder.close()

    # ------------------------------------------------------------------ media

    def _apply(self, negotiation: Negotiation) -> None:
        self.negotiation = negotiation
        stream = negotiation.audio
        if stream is None:  # rejected (port 0) or no common codec: silence both ways
            if self.rtp.params is not None:
                self.rtp.configure(replace(self.rtp.params, send=False))
            return
        self.rtp.configure(_params(stream))
        if not self._closed:
            self.rtp.start()

    @property
    def stream(self) -> NegotiatedStream | None:
        return self.negotiation.audio if self.negotiation is not None else None

    @property
    def port(self) -> int:
        """Our RTP port (0 before :meth:`start`)."""
        return self.rtp.port

    @property
    def remote(self) -> RemoteSdp | None:
        """The last remote SDP, summarised (address, port, payloads, direction) from the
        description the SDP session already parsed."""
        if self.sdp is None or self.sdp.remote is None:
            return None
        return remote_summary(self.sdp.remote)

    @property
    def sending(self) -> bool:
        """RTP goes out now: a stream negotiated and not on hold."""
        params = self.rtp.params
        return params is not None and params.send

    async def received(self, timeout: float | None = None) -> bool:
        """The next RTP packet received (False: none within ``timeout``)."""
        return await self.rtp.received(timeout)

    async def send_dtmf(self, digits: str, mode: str = "rfc4733", *,
                        duration_ms: int | None = None) -> None:
        """Send ``digits`` as RFC 4733 events (in-band tones when the remote has no
        telephone-event) or ``mode="inband"`` tones, ``duration_ms`` each (default 160);
        returns once the last was sent."""
        if mode not in DTMF_MODES:
            raise AgentError(f"DTMF mode {mode!r}: the media sends {', '.join(DTMF_MODES)}; "
                             "SIP INFO goes through the call (call.send_dtmf(digits, 'info'))")
        if self.rtp.params is None or not self.rtp.params.send:
            raise AgentError("no RTP stream to send DTMF on (not negotiated, or on hold)")
        if duration_ms is not None:
            self.rtp.DTMF_MS = int(duration_ms)  # this stream's digits from now on
        await self.rtp.send_dtmf(digits, mode)

    @property
    def dtmf_received(self) -> str:
        """Digits received as RFC 4733 events or SIP INFO; else what Goertzel heard."""
        events = self.rtp.digits_rfc4733 + self.info_digits
        return "".join(events or self.analyser.digits)

    def dominant_hz(self, since: float | None = None) -> float | None:
        """The strongest frequency received (since loop time ``since``)."""
        return self.analyser.dominant_hz(since)

    def stats(self) -> list[dict[str, Any]]:
        """One dict per negotiated stream (empty before any negotiation)."""
        r, p = self.rtp, self.rtp.params
        if p is None:
            return []
        t = r.receive_totals()
        loss = loss_fraction(t)
        late = r.send_late_ms(99)
        return [{
            "codec": p.codec,
            "local_rtp": f"{self.address}:{r.port}",
            "remote_rtp": f"{p.remote[0]}:{p.remote[1]}" if p.remote else None,
            "direction": self.stream.direction if self.stream else None,
            "packets_sent": r.sender.packets_sent,
            **receive_report(t),
            # no packet received: nothing to rate (not the E-model's best case)
            "mos": round(self._mos(p, 100 * loss), 2) if t["packets"] else None,
            "dominant_hz": self.analyser.dominant_hz(),
            "dtmf_received": self.dtmf_received,
            "send_late_p99_ms": round(late, 3) if late is not None else None,
            "rtcp_sent": r.rtcp_sent,
            "rtcp_received": r.rtcp_received,
            **({"record_error": self._recorder.error}
               if self._recorder is not None and self._recorder.error else {}),
        }]


    def _mos(self, p: StreamParams, loss_percent: float) -> float:
        """E-model MOS: the codec, the loss, our jitter buffer's delay; packet loss
        concealment only where the decoder has it (G.729), silence otherwise."""
        plc = hasattr(self.rtp.decoders.get(p.payload_type), "conceal")
        return mos.estimate_mos(p.codec, loss_percent, jitter_buffer_ms=1000 * self.rtp.JB_DELAY,
                                ptime_ms=p.ptime_ms, plc=plc).mos


def _params(stream: NegotiatedStream) -> StreamParams:
    """What the RTP session needs from a negotiated stream: we send its first codec (the
    offer's most preferred as answerer, RFC 3264 6.1; the answer's first as offerer, 7, which
    in a bridge keeps both legs on one codec) and decode any codec of the answer (7)."""
    codec = stream.codec
    remote = (stream.remote_address, stream.remote_port) if stream.remote_port else None
    rtcp = (stream.remote_rtcp_address, stream.remote_rtcp_port) if remote else None
    return StreamParams(remote=remote, remote_rtcp=rtcp, codec=codec.name.upper(),
                        payload_type=codec.payload_type, clock_rate=codec.clock_rate,
                        ptime_ms=codec.ptime, dtmf_pt=stream.telephone_event,
                        send=stream.sends, receive=stream.receives,
                        receive_codecs=tuple((c.payload_type, c.name.upper())
                                             for c in stream.codecs))


class SdpOnlyMedia(RealMedia):
    """Media level "none": the same offer/answer as :class:`RealMedia` (codecs, hold,
    early media), no RTP socket and no packet: the SDP announces the discard port 9. For
    signalling load, where one process holds thousands of calls."""

    DISCARD_PORT = 9

    def __init__(self, address: str, codec_names: Sequence[str] = DEFAULT_CODECS,
                 *, ptime: int = 20, rng: random.Random | None = None, **_: Any) -> None:
        self.address = address
        self.codecs = _codec_names(codec_names, playable=False)
        self.ptime = ptime
        self.level = "none"
        self.rng = rng or random.Random()
        self.sdp = None
        self.negotiation = None
        self.info_digits = []
        self._closed = False
        self._no_rtp = Changes()

    def __repr__(self) -> str:
        return f"<SdpOnlyMedia {self.address} {','.join(self.codecs)}>"

    async def start(self) -> None:
        if self.sdp is None:
            config = MediaConfig(self.address, self.DISCARD_PORT,
                                 codecs=(*self.codecs, "telephone-event"), ptime=self.ptime)
            self.sdp = SdpSession(config, session_id=self.rng.randrange(1, 1 << 31))

    def _apply(self, negotiation: Negotiation) -> None:
        self.negotiation = negotiation

    @property
    def port(self) -> int:
        return self.DISCARD_PORT

    def set_play(self, play: str | None) -> None:
        raise AgentError("media level 'none' sends no audio")

    def set_record(self, path: str | None) -> None:
        raise AgentError("media level 'none' receives no audio to record")

    async def send_dtmf(self, digits: str, mode: str = "rfc4733", *,
                        duration_ms: int | None = None) -> None:
        raise AgentError("media level 'none' sends no RTP: no DTMF but SIP INFO "
                         "(call.send_dtmf(digits, 'info'))")

    @property
    def dtmf_received(self) -> str:
        return "".join(self.info_digits)

    def dominant_hz(self, since: float | None = None) -> float | None:
        return None

    @property
    def sending(self) -> bool:
        return True  # nothing to send: up once the offer/answer is done

    async def received(self, timeout: float | None = None) -> bool:
        return await self._no_rtp.wait(timeout)  # no RTP arrives at this level

    def stats(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        self._closed = True


def _codec_names(names: Sequence[str], *, playable: bool) -> tuple[str, ...]:
    """Upper-case names, each in the codec registry (and playable, for real RTP)."""
    out = tuple(n.upper() for n in names)
    if not out:
        raise ValueError("no codec to offer")
    for name in out:
        if playable or codecs.lookup(name) is None:
            try:
                codecs.by_name(name)
            except KeyError as exc:
                raise ValueError(str(exc.args[0])) from None
    return out


def make_media(level: str, address: str, codec_names: Sequence[str], **options: Any
               ) -> RealMedia:
    """The media session of one call at ``level`` (:data:`MEDIA_LEVELS`)."""
    if level == "none":
        return SdpOnlyMedia(address, codec_names, **options)
    if level not in MEDIA_LEVELS:
        raise ValueError(f"media level {level!r}: one of {', '.join(MEDIA_LEVELS)}")
    return RealMedia(address, codec_names, level=level, **options)

