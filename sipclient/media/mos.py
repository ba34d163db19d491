"""A listening-conversational quality estimate with the ITU-T G.107 E-model, simplified as
VoIP monitors commonly do (Cole and Rosenbluth, "Voice over IP performance monitoring",
ACM CCR 2001; G.107 (06/2015) 7, B).

    R = Ro - Is - Id - Ie,eff + A   becomes   R = 93.2 - Id - Ie,eff

Simplifications, on purpose:

- Ro - Is = 93.2: every other G.107 parameter at its default (send/receive loudness, noise,
  sidetone, quantizing distortion), and the advantage factor A = 0 (a wired phone).
- Id, the delay impairment, from the one-way mouth-to-ear delay ``d`` in ms alone (echo
  assumed perfectly cancelled, so Idte/Idle are dropped): the usual fit of G.107's Idd,
  ``Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)`` (H the step function).
- Ie,eff from G.107 (7-29): ``Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)``, Ppl
  the packet loss in percent, BurstR 1 for random loss.
- MOS from R by G.107 annex B (B-4): 1 for R < 0, 4.5 for R > 100, else
  ``1 + 0.035 R + R (R - 60)(100 - R) 7e-6``, clamped to 1 .. 4.5. R = 93.2 gives 4.41.

Codec values (Ie, Bpl) from ITU-T G.113 (11/2007) appendix I, tables I.1 and I.3:
G.711 Ie 0, Bpl 4.3 without packet loss concealment and 25.1 with the G.711 appendix I PLC;
G.729A (+VAD) Ie 11, Bpl 19.0; G.723.1 (6.3 kbit/s) Ie 15, Bpl 16.1; GSM-FR (06.10) Ie 20.
G.113 gives no Bpl for GSM-FR: 10.0 here is an assumption (GSM-FR's concealment is crude),
so treat its loss figures as rough; pass ``bpl=`` to use another. G.722 Ie 0 is a
narrowband simplification (G.113 rates it on the wideband scale).

Mouth-to-ear delay = network one-way delay + jitter buffer delay + codec delay, the codec
delay being one packet (ptime) plus the codec's look-ahead (G.729 5 ms, G.723.1 7.5 ms).
This is an estimate for a test report, not a G.107 planning tool.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipclient.media.codecs.registry import CodecImpairment, lookup

__all__ = ["CodecImpairment", "codec_impairment", "MosEstimate", "codec_delay_ms",
           "delay_impairment", "effective_equipment_impairment", "estimate_mos",
           "mos_from_r", "r_factor"]

R_DEFAULT = 93.2


def codec_impairment(codec: str) -> CodecImpairment | None:
    """The G.113 values of ``codec`` (its record in the codec registry), if known."""
    record = lookup(codec)
    return record.impairment if record is not None else None


def delay_impairment(delay_ms: float) -> float:
    """Id from the mouth-to-ear delay (Cole-Rosenbluth fit of G.107 Idd)."""
    d = max(0.0, delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def effective_equipment_impairment(ie: float, bpl: float, loss_percent: float,
                                   burst_ratio: float = 1.0) -> float:
    """Ie,eff (G.107 7-29) for ``loss_percent`` packet loss (0..100)."""
    ppl = min(100.0, max(0.0, loss_percent))
    return ie + (95.0 - ie) * ppl / (ppl / burst_ratio + bpl)


def r_factor(delay_ms: float, ie_eff: float, r0: float = R_DEFAULT) -> float:
    """The simplified transmission rating R = 93.2 - Id - Ie,eff."""
    return r0 - delay_impairment(delay_ms) - ie_eff


def mos_from_r(r: float) -> float:
    """MOS (conversational quality estimate) from R, G.107 annex B (B-4), 1 .. 4.5."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    return min(4.5, max(1.0, mos))


def codec_delay_ms(codec: str, ptime_ms: float = 20.0) -> float:
    """Packetization (one ptime) plus the codec's look-ahead."""
    info = codec_impairment(codec)
    return ptime_ms + (info.lookahead_ms if info else 0.0)


@dataclass(frozen=True)
class MosEstimate:
    r: float
    mos: float
    delay_ms: float          # mouth-to-ear delay used
    id: float
    ie_eff: float


def estimate_mos(codec: str, loss_percent: float = 0.0, *, network_delay_ms: float = 0.0,
                 jitter_buffer_ms: float = 0.0, ptime_ms: float = 20.0, plc: bool = True,
                 burst_ratio: float = 1.0, ie: float | None = None,
                 bpl: float | None = None) -> MosEstimate:
    """Estimate R and MOS for a call leg: ``codec`` by its SDP name (PCMU, PCMA, G729, GSM,
    G723, G722), ``loss_percent`` packet loss, one-way ``network_delay_ms``, the jitter
    buffer's delay and the ptime. ``ie``/``bpl`` override the G.113 table."""
    info = codec_impairment(codec)
    if info is None and (ie is None or bpl is None):
        raise ValueError(f"no G.113 values for {codec!r}: pass ie= and bpl=")
    ie_v = ie if ie is not None else info.ie  # type: ignore[union-attr]
    bpl_v = bpl if bpl is not None else (info.bpl if plc else info.bpl_no_plc)  # type: ignore
    delay = network_delay_ms + jitter_buffer_ms + codec_delay_ms(codec, ptime_ms)
    ie_eff = effective_equipment_impairment(ie_v, bpl_v, loss_percent, burst_ratio)
    id_ = delay_impairment(delay)
    r = R_DEFAULT - id_ - ie_eff
    return MosEstimate(r, mos_from_r(r), delay, id_, ie_eff)
