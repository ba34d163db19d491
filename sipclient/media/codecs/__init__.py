"""Audio codecs: the one codec registry (:mod:`.registry`) and the codec modules.

    codec = by_name("PCMU")            # or by_payload_type(0), or CODECS["G729"]
    codec.payload_type, codec.clock_rate, codec.frame_samples, codec.bytes_per_packet(20)
    enc, dec = codec.encoder(), codec.decoder()     # one of each per stream direction

:data:`REGISTRY` holds every codec sipclient knows, one record each (SDP name, clock,
static payload type, fmtp, G.113 values, whether WebRTC carries it, its coder): the SDP
offer/answer, the CLI's ``--codec`` choices, ``pcap to-scenario``, the MOS estimate and
webrtc/ all read it. :data:`CODECS` is the part of it we can encode and decode.
Adding a codec: its module here (encoder/decoder) and one record in :mod:`.registry`.
"""

from sipclient.media.codecs.registry import (
    CODECS, REGISTRY, Codec, CodecImpairment, CodecUnavailable, Decoder, Encoder, by_name,
    by_payload_type, default_names, lookup, playable_names, webrtc_codecs,
)

__all__ = [
    "CODECS", "REGISTRY", "Codec", "CodecImpairment", "CodecUnavailable", "Decoder",
    "Encoder", "by_name", "by_payload_type", "default_names", "lookup", "playable_names",
    "webrtc_codecs",
]
