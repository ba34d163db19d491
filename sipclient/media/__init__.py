"""The pure media layer (issue 5): SDP (RFC 4566), offer/answer (RFC 3264), RTP/RTCP packets,
receive statistics and jitter (RFC 3550), a jitter buffer, an E-model MOS estimate (G.107),
RTP port choice, codecs and DTMF. No sockets, no asyncio, no clock: `now` is a parameter.
"""
