"""FFmpeg's own decoders (through PyAV): the independent reference our encoders are checked
against."""

from __future__ import annotations

import av
import numpy as np


def pyav_decode(codec: str, payload: bytes, packet_bytes: int) -> np.ndarray:
    """Decode ``payload`` with FFmpeg's native ``codec`` decoder ("g729", "gsm"), one packet
    of ``packet_bytes`` at a time."""
    context = av.codec.CodecContext.create(codec, "r")
    context.sample_rate = 8000
    context.layout = "mono"
    frames = []
    for offset in range(0, len(payload), packet_bytes):
        frames += context.decode(av.Packet(payload[offset : offset + packet_bytes]))
    frames += context.decode(None)
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
