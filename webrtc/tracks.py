"""Audio between our sources/sinks (``sipclient.media.audio``) and aiortc's frames.

:class:`SourceTrack` is the ``MediaStreamTrack`` aiortc's ``RTCRtpSender`` pulls from: 20 ms
frames of 8 kHz mono int16 from a :class:`~sipclient.media.audio.Source` (tone, WAV,
silence), paced on the loop clock against an absolute start (no drift), with in-band DTMF
tones mixed in on demand. aiortc's encoders resample to the negotiated codec (G.711 8 kHz,
opus 48 kHz).

:func:`frame_to_pcm8k` turns a decoded ``av.AudioFrame`` into the int16 8 kHz mono samples
our analysers (dominant frequency, Goertzel DTMF, WAV recorder) take.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipclient.media import audio, dtmf

__all__ = ["SourceTrack", "frame_to_pcm8k"]

RATE = 8000


class SourceTrack(MediaStreamTrack):
    """An audio track reading ``source``; ``ptime`` ms per frame."""

    kind = "audio"

    def __init__(self, source: audio.Source, ptime: int = 20) -> None:
        super().__init__()
        self.source = source
        self.samples = RATE * ptime // 1000
        self._start: float | None = None
        self._pts = 0
        self._inband: deque[np.ndarray] = deque()
        self._inband_done: asyncio.Future[None] | None = None
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            wait = self._start + self._pts / RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._next()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += self.samples
        self.frames_sent += 1
        return frame

    def _next(self) -> np.ndarray:
        data = self.source.read(self.samples)
        if self._inband:
            tone = self._inband.popleft()
            data = tone[: self.samples]
            if not self._inband and self._inband_done is not None:
                if not self._inband_done.done():
                    self._inband_done.set_result(None)
        return data

    def play_dtmf(self, digits: str, duration_ms: int = 100, gap_ms: int = 100
                  ) -> asyncio.Future[None]:
        """Replace the source by Q.23 tone pairs for ``digits`` (in-band DTMF); the future is
        done when the last frame was handed to the sender."""
        for digit in digits:
            pair = dtmf.DTMF_FREQUENCIES[digit.upper()]
            tone = audio.tone(pair, -8.0, duration_ms / 1000)
            gap = np.zeros(RATE * gap_ms // 1000, dtype=np.int16)
            signal = np.concatenate([tone, gap])
            pad = (-len(signal)) % self.samples
            signal = np.concatenate([signal, np.zeros(pad, dtype=np.int16)])
            self._inband.extend(signal.reshape(-1, self.samples))
        self._inband_done = asyncio.get_running_loop().create_future()
        return self._inband_done


def frame_to_pcm8k(frame: av.AudioFrame, resampler: av.AudioResampler | None = None
                   ) -> np.ndarray:
    """int16 mono 8 kHz samples of a decoded frame (G.711 frames pass through as they are)."""
    if frame.sample_rate == RATE and frame.format.name == "s16" and \
            frame.layout.name == "mono":
        return frame.to_ndarray().reshape(-1).astype(np.int16, copy=False)
    resampler = resampler or av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)
