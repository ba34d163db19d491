"""The codec registry: one record per codec, read by everything that needs a codec.

The SDP offer/answer (:mod:`sipclient.media.offer_answer`: names, static payload types,
fmtp), the MOS estimate (:mod:`sipclient.media.mos`: G.113 values), the agent's default
offer, the CLI's ``--codec`` choices, ``pcap to-scenario`` (what an agent can replay) and
webrtc/ (what aiortc carries, with its payload types) all read :data:`REGISTRY`. Adding a
codec touches two files: its coder module in this package and one record below
(docs/DEVELOPING.md; ``tests/media/test_codec_registry.py`` checks the readers).

=====  ==  =====  =============  ===========  ============  ==========================
name   PT  clock  frame samples  frame bytes  bytes/20 ms   implementation
=====  ==  =====  =============  ===========  ============  ==========================
PCMU    0  8000   1              1            160           :mod:`.g711` (numpy tables)
GSM     3  8000   160            33           33            :mod:`.gsm` (libgsm1)
PCMA    8  8000   1              1            160           :mod:`.g711` (numpy tables)
G729   18  8000   80             10           20            :mod:`.g729` (libbcg729-0)
=====  ==  =====  =============  ===========  ============  ==========================

The other records (G723, G722, CN, telephone-event, opus, iLBC, speex) are known to SDP
(offered, answered, matched) without a coder here. G.711 is stateless; GSM and G.729 keep
state, so the one-shot :meth:`Codec.encode` / :meth:`Codec.decode` (a fresh state per call)
suit whole clips; streams use :meth:`Codec.encoder` / :meth:`Codec.decoder`. Native
libraries load lazily: a missing one raises :class:`CodecUnavailable` (naming the Debian
package) when the codec is first used. A payload that is not whole frames raises
``ParseError``; samples that are not whole frames raise ``LocalProtocolError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:  # the table loads without numpy (the CLI reads it); the coders need it
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CODECS", "REGISTRY", "Codec", "CodecImpairment", "CodecUnavailable", "Decoder", "Encoder",
    "by_name", "by_payload_type", "default_names", "lookup", "playable_names", "webrtc_codecs",
]


class CodecUnavailable(RuntimeError):
    """The native library behind a codec cannot be loaded.

    ``codec`` is the codec name ("GSM"), ``library`` the shared object that was looked for,
    ``package`` the Debian package that provides it.
    """

    def __init__(self, codec: str, library: str, package: str, detail: str = "") -> None:
        self.codec = codec
        self.library = library
        self.package = package
        message = (
            f"codec {codec} is unavailable: {library} cannot be loaded; "
            f"install the Debian package {package} (make lab-deps)"
        )
        super().__init__(f"{message} [{detail}]" if detail else message)


@dataclass(frozen=True)
class CodecImpairment:
    """G.113 appendix I values: equipment impairment, packet-loss robustness with PLC and
    without, and look-ahead delay (ms)."""

    ie: float
    bpl: float
    bpl_no_plc: float
    lookahead_ms: float = 0.0


class Encoder(Protocol):
    """Stream encoder: int16 samples (whole frames) -> payload bytes."""

    def encode(self, samples: npt.ArrayLike) -> bytes: ...

    def close(self) -> None: ...


class Decoder(Protocol):
    """Stream decoder: payload bytes -> int16 samples."""

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray: ...

    def close(self) -> None: ...


class _G711Encoder:
    def __init__(self, encode: Callable[[npt.ArrayLike], bytes]) -> None:
        self.encode = encode

    def close(self) -> None:
        """Nothing to free: G.711 is stateless."""


class _G711Decoder:
    def __init__(self, decode: Callable[[bytes | bytearray | memoryview], np.ndarray]) -> None:
        self.decode = decode

    def close(self) -> None:
        """Nothing to free: G.711 is stateless."""


def _ulaw_encoder() -> Encoder:
    from sipclient.media.codecs import g711

    return _G711Encoder(g711.ulaw_encode)


def _ulaw_decoder() -> Decoder:
    from sipclient.media.codecs import g711

    return _G711Decoder(g711.ulaw_decode)


def _alaw_encoder() -> Encoder:
    from sipclient.media.codecs import g711

    return _G711Encoder(g711.alaw_encode)


def _alaw_decoder() -> Decoder:
    from sipclient.media.codecs import g711

    return _G711Decoder(g711.alaw_decode)


def _gsm_encoder() -> Encoder:
    from sipclient.media.codecs.gsm import GsmEncoder

    return GsmEncoder()


def _gsm_decoder() -> Decoder:
    from sipclient.media.codecs.gsm import GsmDecoder

    return GsmDecoder()


def _g729_encoder() -> Encoder:
    from sipclient.media.codecs.g729 import G729Encoder

    return G729Encoder()


def _g729_decoder() -> Decoder:
    from sipclient.media.codecs.g729 import G729Decoder

    return G729Decoder()


@dataclass(frozen=True)
class Codec:
    """One audio codec: its RTP identity (RFC 3551 table 4), framing and coder factories.

    ``frame_samples`` / ``frame_bytes`` describe one codec frame (G.711 is sample-based:
    1 and 1); packets carry whole frames. ``package`` names the Debian package of the native
    library (``None`` for pure Python codecs).
    """

    name: str                       # the SDP encoding name (RFC 4566 6, RFC 3551 table 4)
    payload_type: int | None        # static payload type; None: dynamic (96 and up)
    clock_rate: int
    frame_samples: int = 0          # 0: no coder here (SDP only)
    frame_bytes: int = 0
    stateful: bool = False
    package: str | None = None      # the Debian package of its native library
    make_encoder: Callable[[], Encoder] | None = None
    make_decoder: Callable[[], Decoder] | None = None
    fmtp: str | None = None         # offered by default (RFC 4566 6 a=fmtp)
    channels: int = 1
    impairment: CodecImpairment | None = None   # G.113 values for the MOS estimate
    webrtc_pt: int | None = None    # its payload type in a WebRTC offer; None: aiortc lacks it
    default: bool = False           # in an agent's offer unless codecs are given
    aliases: tuple[str, ...] = ()   # other spellings users write (G.729, G729A)

    @property
    def playable(self) -> bool:
        """True when sipclient can encode and decode it (an agent can send and receive it)."""
        return self.make_encoder is not None

    @property
    def rtpmap(self) -> str:
        """The SDP ``a=rtpmap`` encoding, e.g. ``PCMU/8000`` (RFC 4566 sec. 6)."""
        return f"{self.name}/{self.clock_rate}"

    @property
    def frame_ms(self) -> float:
        """Duration of one codec frame in milliseconds."""
        return 1000.0 * self.frame_samples / self.clock_rate

    def samples_per_packet(self, ptime_ms: int = 20) -> int:
        """Samples (= RTP timestamp increment) in a packet of ``ptime_ms``."""
        samples = self.clock_rate * ptime_ms // 1000
        if samples % self.frame_samples:
            raise ValueError(f"{self.name}: ptime {ptime_ms} ms is not whole {self.frame_ms} ms frames")
        return samples

    def bytes_per_packet(self, ptime_ms: int = 20) -> int:
        """Payload bytes in a packet of ``ptime_ms`` (160 for G.711, 33 GSM, 20 G.729 at 20 ms)."""
        return self.samples_per_packet(ptime_ms) // self.frame_samples * self.frame_bytes

    @property
    def samples_per_20ms(self) -> int:
        return self.samples_per_packet(20)

    @property
    def bytes_per_20ms(self) -> int:
        return self.bytes_per_packet(20)

    def encoder(self) -> Encoder:
        """A new encoder state for one stream direction."""
        return self._coder(self.make_encoder)()

    def decoder(self) -> Decoder:
        """A new decoder state for one stream direction."""
        return self._coder(self.make_decoder)()

    def _coder(self, make: Callable[[], Any] | None) -> Callable[[], Any]:
        if make is None:
            raise KeyError(f"{self.name}: sipclient has no coder for it (known to SDP only)")
        return make

    def encode(self, samples: npt.ArrayLike) -> bytes:
        """Encode a whole clip with a fresh encoder state."""
        encoder = self.encoder()
        try:
            return encoder.encode(samples)
        finally:
            encoder.close()

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray:
        """Decode a whole clip with a fresh decoder state."""
        decoder = self.decoder()
        try:
            return decoder.decode(payload)
        finally:
            decoder.close()

    def available(self) -> bool:
        """True when the codec can be used here (it has a coder and its library loads)."""
        if not self.playable:
            return False
        try:
            self.decoder().close()
        except CodecUnavailable:
            return False
        return True


_G113_G711 = CodecImpairment(0.0, 25.1, 4.3)

#: every codec sipclient knows, by upper-case name, in the order lists show them
REGISTRY: dict[str, Codec] = {codec.name.upper(): codec for codec in (
    Codec("PCMU", 0, 8000, 1, 1, False, None, _ulaw_encoder, _ulaw_decoder,
          impairment=_G113_G711, webrtc_pt=0, default=True),
    Codec("PCMA", 8, 8000, 1, 1, False, None, _alaw_encoder, _alaw_decoder,
          impairment=_G113_G711, webrtc_pt=8, default=True),
    # Bpl assumed for GSM: see sipclient.media.mos
    Codec("GSM", 3, 8000, 160, 33, True, "libgsm1", _gsm_encoder, _gsm_decoder,
          impairment=CodecImpairment(20.0, 10.0, 10.0), default=True),
    # opt-in: Debian's Asterisk has no G.729 transcoder (docs/agent.md)
    Codec("G729", 18, 8000, 80, 10, True, "libbcg729-0", _g729_encoder, _g729_decoder,
          fmtp="annexb=no", impairment=CodecImpairment(11.0, 19.0, 19.0, 5.0),
          aliases=("G.729", "G729A")),
    Codec("G723", 4, 8000, impairment=CodecImpairment(15.0, 16.1, 16.1, 7.5)),
    Codec("G722", 9, 8000, impairment=_G113_G711),
    Codec("CN", 13, 8000),
    Codec("telephone-event", None, 8000, fmtp="0-15", webrtc_pt=101),
    Codec("opus", None, 48000, fmtp="minptime=10;useinbandfec=1", channels=2, webrtc_pt=111),
    Codec("iLBC", None, 8000, fmtp="mode=30"),
    Codec("speex", None, 8000),
)}

#: the codecs sipclient can encode and decode, by upper-case name
CODECS: dict[str, Codec] = {key: c for key, c in REGISTRY.items() if c.playable}


def lookup(name: str) -> Codec | None:
    """The record for ``name`` (any case, an alias, ``PCMU/8000``), or None."""
    key, _, rate = name.strip().upper().partition("/")
    codec = REGISTRY.get(key) or next(
        (c for c in REGISTRY.values() if key in (a.upper() for a in c.aliases)), None)
    if codec is None or (rate and rate.split("/")[0] != str(codec.clock_rate)):
        return None
    return codec


def playable_names() -> tuple[str, ...]:
    """What an agent can send and receive (the CLI's ``--codec`` choices)."""
    return tuple(c.name for c in REGISTRY.values() if c.playable)


def default_names() -> tuple[str, ...]:
    """An agent's offer when no codecs are given."""
    return tuple(c.name for c in REGISTRY.values() if c.default)


def webrtc_codecs() -> tuple[Codec, ...]:
    """The audio codecs a WebRTC endpoint (aiortc) carries, telephone-event excluded."""
    return tuple(c for c in REGISTRY.values()
                 if c.webrtc_pt is not None and c.name != "telephone-event")


def by_name(name: str) -> Codec:
    """The playable codec for an SDP encoding name (``pcmu``, ``PCMU/8000``, ``G729/8000/1``):
    else KeyError."""
    codec = lookup(name)
    if codec is None or not codec.playable:
        raise KeyError(f"unknown codec {name!r}; known: "
                       f"{', '.join(c.rtpmap for c in REGISTRY.values() if c.playable)}")
    return codec


def by_payload_type(payload_type: int) -> Codec:
    """The playable codec of a static RTP payload type (0, 3, 8, 18): KeyError if unknown."""
    codec = next((c for c in REGISTRY.values()
                  if c.payload_type == payload_type and c.playable), None)
    if codec is None:
        raise KeyError(f"no codec for static payload type {payload_type}")
    return codec
