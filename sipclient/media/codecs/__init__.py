"""Audio codecs of the static RTP payload types (RFC 3551 sec. 4.5 and table 4), by name or PT.

    codec = by_name("PCMU")            # or by_payload_type(0), or CODECS["G729"]
    codec.payload_type, codec.clock_rate, codec.frame_samples, codec.bytes_per_packet(20)
    enc, dec = codec.encoder(), codec.decoder()     # one of each per stream direction
    payload = enc.encode(samples)                   # int16 samples, whole codec frames
    samples = dec.decode(payload)                   # numpy int16 array

=====  ==  =====  =============  ===========  ============  ==========================
name   PT  clock  frame samples  frame bytes  bytes/20 ms   implementation
=====  ==  =====  =============  ===========  ============  ==========================
PCMU    0  8000   1              1            160           :mod:`.g711` (numpy tables)
GSM     3  8000   160            33           33            :mod:`.gsm` (libgsm1)
PCMA    8  8000   1              1            160           :mod:`.g711` (numpy tables)
G729   18  8000   80             10           20            :mod:`.g729` (libbcg729-0)
=====  ==  =====  =============  ===========  ============  ==========================

G.711 is stateless; GSM and G.729 keep state, so the one-shot :meth:`Codec.encode` /
:meth:`Codec.decode` (a fresh state per call) suit whole clips; streams use
:meth:`Codec.encoder` / :meth:`Codec.decoder`. Native libraries load lazily: a missing one
raises :class:`CodecUnavailable` (naming the Debian package) when the codec is first used.
A payload that is not whole frames raises ``ParseError``; samples that are not whole frames
raise ``LocalProtocolError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import numpy.typing as npt

from sipclient.media.codecs import g711
from sipclient.media.codecs._native import CodecUnavailable

__all__ = [
    "CODECS",
    "Codec",
    "CodecUnavailable",
    "Decoder",
    "Encoder",
    "by_name",
    "by_payload_type",
]


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

    name: str
    payload_type: int
    clock_rate: int
    frame_samples: int
    frame_bytes: int
    stateful: bool
    package: str | None
    make_encoder: Callable[[], Encoder]
    make_decoder: Callable[[], Decoder]

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
        return self.make_encoder()

    def decoder(self) -> Decoder:
        """A new decoder state for one stream direction."""
        return self.make_decoder()

    def encode(self, samples: npt.ArrayLike) -> bytes:
        """Encode a whole clip with a fresh encoder state."""
        encoder = self.make_encoder()
        try:
            return encoder.encode(samples)
        finally:
            encoder.close()

    def decode(self, payload: bytes | bytearray | memoryview) -> np.ndarray:
        """Decode a whole clip with a fresh decoder state."""
        decoder = self.make_decoder()
        try:
            return decoder.decode(payload)
        finally:
            decoder.close()

    def available(self) -> bool:
        """True when the codec can be used here (its native library loads)."""
        try:
            self.make_decoder().close()
        except CodecUnavailable:
            return False
        return True


CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec("PCMU", 0, 8000, 1, 1, False, None,
              lambda: _G711Encoder(g711.ulaw_encode), lambda: _G711Decoder(g711.ulaw_decode)),
        Codec("GSM", 3, 8000, 160, 33, True, "libgsm1", _gsm_encoder, _gsm_decoder),
        Codec("PCMA", 8, 8000, 1, 1, False, None,
              lambda: _G711Encoder(g711.alaw_encode), lambda: _G711Decoder(g711.alaw_decode)),
        Codec("G729", 18, 8000, 80, 10, True, "libbcg729-0", _g729_encoder, _g729_decoder),
    )
}
_BY_PT = {codec.payload_type: codec for codec in CODECS.values()}


def by_name(name: str) -> Codec:
    """The codec for an SDP encoding name (``pcmu``, ``PCMU/8000``, ``G729/8000/1``): else KeyError."""
    key, _, rate = name.strip().upper().partition("/")
    codec = CODECS.get("G729" if key in ("G.729", "G729A") else key)
    if codec is None or (rate and rate.split("/")[0] != str(codec.clock_rate)):
        raise KeyError(f"unknown codec {name!r}; known: {', '.join(c.rtpmap for c in CODECS.values())}")
    return codec


def by_payload_type(payload_type: int) -> Codec:
    """The codec of a static RTP payload type (0, 3, 8, 18): KeyError if unknown."""
    try:
        return _BY_PT[payload_type]
    except KeyError:
        raise KeyError(f"no codec for static payload type {payload_type}") from None
