"""One call's WebRTC media: a :class:`~sipclient.agent.media_session.MediaSession` over aiortc.

The agent's media protocol is synchronous for SDP (``offer()``, ``answer()``, ``accept()``
return at once), so :class:`WebRtcMedia` uses aiortc's ORTC-level objects rather than
``RTCPeerConnection`` (whose offers and answers are coroutines):

* :meth:`start` makes the DTLS certificate, gathers the ICE host candidates (no STUN/TURN
  server unless configured: offline by default), and builds the ICE and DTLS transports and
  the RTP sender; every SDP after that is written from what is known (:mod:`webrtc.sdp`);
* the first negotiation (our offer answered, or a remote offer) fixes the ICE role (the
  offerer controls, RFC 8445 6.1.1) and the DTLS role (``a=setup``, RFC 5763) and starts the
  connection in the background: ICE checks, then the DTLS handshake, then SRTP audio. The
  times of both are kept (``ice_ms``, ``dtls_ms`` in :meth:`stats`);
* later offers and answers (hold, unhold, a re-INVITE) change only the direction: the same
  ICE credentials, candidates and fingerprint, no ICE restart;
* what arrives is decrypted, counted (RFC 3550 statistics, as the plain RTP media does),
  decoded to 8 kHz and analysed (dominant frequency, Goertzel DTMF, WAV recording);
  RFC 4733 events are read by :class:`sipclient.media.dtmf.DtmfReceiver`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from typing import Any

from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcconfiguration import RTCIceServer
from aiortc.rtcdtlstransport import RTCDtlsParameters
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceParameters
from aiortc.rtcrtpparameters import RTCRtcpParameters, RTCRtpSendParameters
from aiortc.rtcrtpsender import RTCRtpSender

from sipclient.agent.errors import AgentError
from sipclient.agent.media import AudioAnalyser, make_source
from sipclient.agent.media_session import RemoteSdp, remote_summary
from sipclient.io.changes import Changes
from sipclient.media import audio, mos
from sipclient.media.dtmf import DtmfReceiver
from sipclient.media.rtp import RtpPacket
from sipclient.media.sdp import parse_sdp
from sipclient.media.stats import ReceiveStatistics, loss_fraction, receive_report
from sipclient.media.stats import receive_totals as stats_totals
from sipclient.proto.errors import ParseError

from . import sdp as wsdp
from .tracks import SourceTrack, frame_to_pcm8k
from .transport import Certificate, DtmfRewriter, MediaDtlsTransport, Tap, TappedIceTransport

__all__ = ["WebRtcMedia", "WebRtcError"]

log = logging.getLogger(__name__)

DTMF_MODES = ("rfc4733", "inband")


class WebRtcError(AgentError):
    """The WebRTC media could not be set up (ICE or DTLS failed, no common codec...)."""


class WebRtcMedia:
    """WebRTC audio for one call (see the module docstring).

    ``codecs``: preference order among PCMU, PCMA, opus; ``ice_servers``: aiortc
    ``RTCIceServer`` list (empty: host candidates only); ``tap(direction, local, remote,
    data, when)``: sees every datagram on the wire (the agent's capture).
    """

    def __init__(self, codecs: Sequence[str] = ("PCMU", "PCMA"), *, play: str | None = None,
                 record: str | None = None, ice_servers: Sequence[RTCIceServer] = (),
                 tap: Tap | None = None, rng: random.Random | None = None,
                 dtmf_mode: str = "rfc4733", ptime: int = 20) -> None:
        if dtmf_mode not in DTMF_MODES:
            raise ValueError(f"dtmf mode {dtmf_mode!r}: one of {', '.join(DTMF_MODES)}")
        self.codecs = wsdp.codecs_named(codecs)
        self.play = play
        self.record = record
        self.ice_servers = list(ice_servers)
        self.tap = tap
        self.rng = rng or random.Random()
        self.dtmf_mode = dtmf_mode
        self.ptime = ptime
        self.analyser = AudioAnalyser()
        self.rx_stats = ReceiveStatistics()
        self.dtmf_receiver = DtmfReceiver()
        self.rfc4733_digits: list[str] = []
        #: DTMF digits received in SIP INFO bodies (the call puts them here)
        self.info_digits: list[str] = []
        self._received = Changes()
        self.remote_media: wsdp.RemoteMedia | None = None
        self._remote_sdp: bytes | None = None      # the last remote SDP (for :attr:`remote`)
        self.codec: wsdp.Codec | None = None
        self.negotiated: list[wsdp.Codec] | None = None
        self.telephone_event: int | None = None
        self.direction = "sendrecv"        # what our next offer asks
        self.current_direction: str | None = None
        self.error: str | None = None
        self.connected = asyncio.Event()
        self.failed = asyncio.Event()
        self.timings: dict[str, float | None] = {"gather_ms": None, "ice_ms": None,
                                                 "dtls_ms": None, "first_rtp_ms": None}
        self._session_id = self.rng.randrange(1, 1 << 31)
        self._version = 0
        self._role: str | None = None   # our DTLS role once negotiated: client / server
        self._offer_pending = False
        self._connect_task: asyncio.Task[None] | None = None
        self._connect_started: float | None = None
        self._decoders: dict[int, Any] = {}
        self._resampler: Any = None
        self._recorder: audio.WavRecorder | None = None
        self._closed = False
        self._pair: tuple[tuple[str, int], tuple[str, int]] | None = None
        self.gatherer: RTCIceGatherer | None = None
        self.ice: TappedIceTransport | None = None
        self.dtls: MediaDtlsTransport | None = None
        self.sender: RTCRtpSender | None = None
        self.track: SourceTrack | None = None
        self.cname = uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]

    def __repr__(self) -> str:
        return f"<WebRtcMedia {','.join(c.name for c in self.codecs)} {self.state}>"

    @property
    def state(self) -> str:
        if self.error:
            return "failed"
        if self.connected.is_set():
            return "connected"
        return "connecting" if self._connect_task else ("ready" if self.ice else "new")

    # ------------------------------------------------------------------ MediaSession

    async def start(self) -> None:
        """Certificate, ICE candidates (host only unless ICE servers are given), transports."""
        if self.ice is not None:
            return
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        certificate = Certificate.generateCertificate()
        self.gatherer = RTCIceGatherer(iceServers=self.ice_servers)
        await self.gatherer.gather()
        self.timings["gather_ms"] = round(1000 * (loop.time() - t0), 3)
        if not self.gatherer.getLocalCandidates():
            raise WebRtcError("no ICE candidate: this host has no non-loopback IPv4/IPv6 "
                              "address (aioice never offers 127.0.0.1; see docs/webrtc.md)")
        self.ice = TappedIceTransport(self.gatherer, self.tap)
        self.dtls = MediaDtlsTransport(self.ice, [certificate], owner=self)
        self.track = SourceTrack(make_source(self.play), self.ptime)
        self.sender = RTCRtpSender(self.track, self.dtls)
        if self.record:
            self._recorder = self.analyser.recorder = audio.WavRecorder(self.record)

    def _require_started(self) -> None:
        if self.ice is None:
            raise AgentError("media not started: await media.start() first")

    def _local(self, setup: str, codecs: list[wsdp.Codec], direction: str,
               telephone_event: int | None) -> bytes:
        assert self.gatherer is not None and self.dtls is not None and self.sender
        params = self.gatherer.getLocalParameters()
        te = None
        if telephone_event is not None:
            te = wsdp.Codec("telephone-event", telephone_event, 8000, 1, "0-16")
        self._version += 1
        return wsdp.build(wsdp.LocalMedia(
            candidates=self.gatherer.getLocalCandidates(), ice_ufrag=params.usernameFragment,
            ice_pwd=params.password, fingerprints=self._fingerprints(),
            setup=setup, codecs=codecs, ssrc=self.sender._ssrc, cname=self.cname,
            session_id=self._session_id, version=self._session_id + self._version,
            direction=direction, telephone_event=te, ptime=self.ptime,
            mid=(self.remote_media.mid if self.remote_media and self.remote_media.mid
                 else "0")))

    def _fingerprints(self) -> list[Any]:
        """sha-256 only: Asterisk 16 warns about (and skips) sha-384/sha-512 lines."""
        assert self.dtls is not None
        prints = self.dtls.getLocalParameters().fingerprints
        return [f for f in prints if f.algorithm == "sha-256"] or prints

    def offer(self) -> bytes:
        """A new offer: a=setup:actpass first, then our established role (RFC 5763 5)."""
        self._require_started()
        self._offer_pending = True
        if self._connect_task is None:
            # the offerer controls (RFC 8445 6.1.1), and must say so before the answerer's
            # first check can arrive (it may beat the SIP answer): else a role conflict
            # (487) that aioice and pjnath resolve into neither side nominating
            self._set_ice_role(controlling=True)
        setup = "actpass" if self._role is None else \
            ("active" if self._role == "client" else "passive")
        codecs = self.negotiated or self.codecs
        te = self.telephone_event if self.negotiated else wsdp.TELEPHONE_EVENT.payload_type
        return self._local(setup, codecs, self.direction, te)

    def answer(self, remote_sdp: bytes) -> bytes:
        """Answer a remote offer; the connection starts in the background."""
        self._require_started()
        remote = wsdp.parse_remote(remote_sdp)
        self._remote_sdp = bytes(remote_sdp)
        common = wsdp.common_codecs(self.codecs, remote.codecs)
        if not common:
            offered = ", ".join(c.mimeType.split("/")[-1] for c in remote.codecs) or "none"
            raise wsdp.WebRtcSdpError(f"no common audio codec: offered {offered}, we have "
                                      f"{', '.join(c.name for c in self.codecs)}")
        if self._role is None:
            self._role = wsdp.ROLE_FOR_SETUP.get(remote.setup, "client")
        if self._connect_task is None:
            self._set_ice_role(controlling=remote.ice_lite)
        direction = wsdp.ANSWER_DIRECTION.get(remote.direction, "sendrecv")
        if self.direction == "sendonly" and direction == "sendrecv":
            direction = "sendonly"
        self._apply(remote, common[:1], direction)
        setup = "active" if self._role == "client" else "passive"
        return self._local(setup, common[:1], direction, remote.telephone_event)

    def accept(self, remote_sdp: bytes) -> None:
        """The answer to our offer (18x, 200, or the ACK of a late offer)."""
        if not self._offer_pending:
            log.info("%r: SDP with no offer pending, ignored", self)
            return
        try:
            remote = wsdp.parse_remote(remote_sdp)
        except wsdp.WebRtcSdpError as exc:
            self.error = f"unusable SDP answer: {exc}"
            log.warning("%r: %s", self, self.error)
            return
        self._remote_sdp = bytes(remote_sdp)
        ours = {c.mime.lower(): c for c in self.codecs}
        chosen = [wsdp.Codec(ours[c.mimeType.lower()].name, c.payloadType, c.clockRate,
                             ours[c.mimeType.lower()].channels, ours[c.mimeType.lower()].fmtp)
                  for c in remote.codecs if c.mimeType.lower() in ours]
        if not chosen:
            self.error = "the answer has none of our codecs"
            log.warning("%r: %s", self, self.error)
            return
        self._offer_pending = False
        if self._role is None:
            self._role = "server" if remote.setup == "active" else "client"
        direction = wsdp.ANSWER_DIRECTION.get(remote.direction, "sendrecv")
        self._apply(remote, chosen, direction)

    def set_play(self, play: str | None) -> None:
        """Play ``play`` from now on, mid-call (the forms of the constructor's ``play``)."""
        source = make_source(play)
        self.play = play
        if self.track is not None:
            self.track.source = source

    def set_record(self, path: str | None) -> None:
        """Record what arrives to the WAV file ``path`` from now on (None: stop)."""
        if self._recorder is not None:
            self._recorder.close()
        self._recorder = self.analyser.recorder = audio.WavRecorder(path) if path else None
        self.record = path

    def set_codecs(self, names: Sequence[str]) -> None:
        """This call's codec preference; only before the first offer or answer."""
        if self._offer_pending or self.negotiated:
            raise AgentError("the call's codecs cannot change once its media started")
        self.codecs = wsdp.codecs_named(names)

    @property
    def remote(self) -> RemoteSdp | None:
        """The remote SDP's audio stream (the agent's summary, as plain RTP media gives)."""
        if self._remote_sdp is None:
            return None
        try:
            return remote_summary(parse_sdp(self._remote_sdp, lenient=True))
        except ParseError:
            return None

    def hold(self) -> None:
        """The next offer is ``a=sendonly`` (RFC 3264 8.4)."""
        self.direction = "sendonly"

    def unhold(self) -> None:
        self.direction = "sendrecv"

    async def close(self) -> None:
        """Stop sending (RTCP BYE), close DTLS and ICE, finish the recording (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            try:
                await self._connect_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for step in (self._stop_sender, self._stop_dtls, self._stop_ice):
            try:
                await asyncio.wait_for(step(), 2.0)
            except (TimeoutError, Exception) as exc:  # noqa: BLE001 - close what is left
                log.debug("%r: closing: %r", self, exc)
        if self.track is not None:
            self.track.stop()
        if self._recorder is not None:
            self._recorder.close()

    async def _stop_sender(self) -> None:
        if self.sender is not None and self.connected.is_set():
            await self.sender.stop()

    async def _stop_dtls(self) -> None:
        if self.dtls is not None:
            await self.dtls.stop()

    async def _stop_ice(self) -> None:
        if self.ice is not None:
            await self.ice.stop()

    # ------------------------------------------------------------------ connection

    def _set_ice_role(self, controlling: bool) -> None:
        assert self.ice is not None
        self.ice._connection.ice_controlling = controlling

    def _apply(self, remote: wsdp.RemoteMedia, codecs: list[wsdp.Codec], direction: str
               ) -> None:
        if not remote.rtcp_mux:
            log.info("%r: the remote SDP has no a=rtcp-mux; RTCP stays on the RTP path",
                     self)
        self.remote_media = remote
        self.negotiated = codecs
        self.codec = codecs[0]
        self.telephone_event = remote.telephone_event
        self.current_direction = direction
        assert self.dtls is not None and self.ice is not None
        self.dtls.sending = direction in ("sendrecv", "sendonly")
        if self._connect_task is None and not self._closed:
            self.dtls._set_role(self._role or "client")
            self._connect_task = asyncio.get_running_loop().create_task(
                self._connect(remote, self.codec))

    async def _connect(self, remote: wsdp.RemoteMedia, codec: wsdp.Codec) -> None:
        assert self.ice is not None and self.dtls is not None and self.sender is not None
        loop = asyncio.get_running_loop()
        t0 = self._connect_started = loop.time()
        try:
            for candidate in remote.candidates:
                if candidate.component == 1:
                    await self.ice.addRemoteCandidate(candidate)
            await self.ice.addRemoteCandidate(None)
            await self.ice.start(RTCIceParameters(usernameFragment=remote.ice_ufrag,
                                                  password=remote.ice_pwd,
                                                  iceLite=remote.ice_lite))
            if self.ice.state != "completed":
                raise WebRtcError(f"ICE failed: no working pair among "
                                  f"{len(remote.candidates)} remote candidate(s)")
            t1 = loop.time()
            self.timings["ice_ms"] = round(1000 * (t1 - t0), 3)
            await self.dtls.start(RTCDtlsParameters(fingerprints=remote.fingerprints))
            if self.dtls.state != "connected":
                raise WebRtcError("DTLS handshake failed (or the remote fingerprint did not "
                                  "match a=fingerprint)")
            self.timings["dtls_ms"] = round(1000 * (loop.time() - t1), 3)
            params = RTCRtpSendParameters(codecs=[codec.to_aiortc()], muxId=remote.mid or "",
                                          rtcp=RTCRtcpParameters(cname=self.cname, mux=True,
                                                                 ssrc=self.sender._ssrc))
            await self.sender.send(params)
            self._pair = self.ice.selected_pair()
            self.connected.set()
        except WebRtcError as exc:
            self.error = str(exc)
            self.failed.set()
            log.warning("%r: %s", self, exc)
        except (ConnectionError, OSError) as exc:
            self.error = f"media connection failed: {exc}"
            self.failed.set()
            log.warning("%r: %s", self, self.error)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until SRTP flows (ICE and DTLS done); raises WebRtcError with the reason."""
        waiters = [asyncio.ensure_future(self.connected.wait()),
                   asyncio.ensure_future(self.failed.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if not self.connected.is_set():
            ice = self.ice.state if self.ice else "-"
            dtls = self.dtls.state if self.dtls else "-"
            raise WebRtcError(self.error or f"media not connected within {timeout} s "
                              f"(ICE {ice}, DTLS {dtls})")

    # ------------------------------------------------------------------ receiving

    @property
    def sending(self) -> bool:
        """Media goes out once the offer/answer is done (ICE/DTLS connect on their own)."""
        return True

    async def received(self, timeout: float | None = None) -> bool:
        """The next RTP packet received and decrypted (False: none within ``timeout``)."""
        return await self._received.wait(timeout)

    def on_rtp(self, packet: RtpPacket, size: int) -> None:
        """A decrypted RTP packet (from :class:`MediaDtlsTransport`)."""
        self._received.wake()  # waiters run after this packet is counted
        now = asyncio.get_running_loop().time()
        if self.timings["first_rtp_ms"] is None and self._connect_started is not None:
            self.timings["first_rtp_ms"] = round(1000 * (now - self._connect_started), 3)
        pt = packet.payload_type
        if pt == self.telephone_event:
            self.rx_stats.clock_rates.setdefault(pt, 0)
            self.rx_stats.on_packet(packet, now, size)
            try:
                digits = self.dtmf_receiver.receive(packet.payload, packet.timestamp)
            except ValueError:
                return
            self.rfc4733_digits += [d.digit for d in digits if d.digit]
            return
        codec = next((c for c in (self.negotiated or []) if c.payload_type == pt), None)
        if codec is not None:
            self.rx_stats.clock_rates.setdefault(pt, codec.clock_rate)
        self.rx_stats.on_packet(packet, now, size)
        if codec is None:
            return
        decoder = self._decoders.get(pt)
        if decoder is None:
            decoder = self._decoders[pt] = get_decoder(codec.to_aiortc())
        try:
            frames = decoder.decode(JitterFrame(packet.payload, packet.timestamp))
        except Exception as exc:  # noqa: BLE001 - a bad payload must not stop the call
            log.debug("%r: undecodable %s payload: %s", self, codec.name, exc)
            return
        for frame in frames:
            if frame.sample_rate != 8000 and self._resampler is None:
                import av

                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
            self.analyser(frame_to_pcm8k(frame, self._resampler), now)

    # ------------------------------------------------------------------ DTMF, results

    async def send_dtmf(self, digits: str, mode: str | None = None, *,
                        duration_ms: int | None = None) -> None:
        """RFC 4733 events (in-band tones when the remote has no telephone-event), or
        ``mode="inband"``; returns when the last packet was sent. The digits' length is
        aiortc's pacing: ``duration_ms`` is refused."""
        if duration_ms is not None:
            raise AgentError("a DTMF duration applies to plain RTP media only, not WebRTC")
        mode = mode or self.dtmf_mode
        if mode not in DTMF_MODES:
            raise AgentError(f"DTMF mode {mode!r}: the media sends {', '.join(DTMF_MODES)}; "
                             "SIP INFO goes through the call (call.send_dtmf(digits, 'info'))")
        await self.wait_connected()
        assert self.dtls is not None and self.track is not None
        if not self.dtls.sending:
            raise AgentError("no RTP stream to send DTMF on (on hold)")
        if mode == "rfc4733" and self.telephone_event is not None:
            rewriter = DtmfRewriter(digits, self.telephone_event, 8 * self.ptime)
            self.dtls.dtmf = rewriter
            await rewriter.done
        else:
            await self.track.play_dtmf(digits)

    @property
    def dtmf_received(self) -> str:
        events = self.rfc4733_digits + self.info_digits
        return "".join(events or self.analyser.digits)

    def dominant_hz(self, since: float | None = None) -> float | None:
        return self.analyser.dominant_hz(since)

    def receive_totals(self) -> dict[str, Any]:
        return stats_totals(self.rx_stats.streams.values())

    def stats(self) -> list[dict[str, Any]]:
        """One dict for the audio stream (empty before any negotiation): the keys of the
        plain RTP media's stats plus ICE/DTLS timings and states."""
        if self.codec is None or self.dtls is None or self.ice is None:
            return []
        t = self.receive_totals()
        loss = loss_fraction(t)
        pair = self.ice.selected_pair() or self._pair
        try:
            score: float | None = round(mos.estimate_mos(
                self.codec.name.upper(), 100 * loss, ptime_ms=self.ptime, plc=False).mos, 2)
        except (KeyError, ValueError):
            score = None  # opus: not in the G.113 table
        return [{
            "codec": self.codec.name.upper(),
            "local_rtp": f"{pair[0][0]}:{pair[0][1]}" if pair else None,
            "remote_rtp": f"{pair[1][0]}:{pair[1][1]}" if pair else None,
            "direction": self.current_direction,
            "packets_sent": self.dtls.rtp_sent,
            **receive_report(t),
            "mos": score,
            "dominant_hz": self.analyser.dominant_hz(),
            "dtmf_received": self.dtmf_received,
            "send_late_p99_ms": None,  # aiortc paces the sender; not measured here
            "rtcp_sent": self.dtls.rtcp_sent,
            "rtcp_received": self.dtls.rtcp_received,
            "profile": "UDP/TLS/RTP/SAVPF",
            "ice_state": self.ice.state,
            "dtls_state": self.dtls.state,
            "dtls_role": self._role,
            **self.timings,
            "error": self.error,
        }]
