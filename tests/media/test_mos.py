"""E-model MOS estimate (G.107, simplified; G.113 appendix I values)."""

import pytest

from sipclient.media.mos import (
    delay_impairment, effective_equipment_impairment, estimate_mos, mos_from_r,
)


@pytest.mark.parametrize("r, mos", [(93.2, 4.41), (50, 2.58), (80, 4.02), (60, 3.1), (0, 1.0),
                                    (-5, 1.0), (100, 4.5), (120, 4.5)])
def test_mos_from_r_known_points(r, mos):
    assert mos_from_r(r) == pytest.approx(mos, abs=0.005)


def test_mos_from_r_monotonic():
    values = [mos_from_r(r / 10) for r in range(0, 1001)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[0] == 1.0 and values[-1] == 4.5


def test_g711_perfect_network():
    est = estimate_mos("PCMU", 0.0, ptime_ms=0)
    assert est.r == pytest.approx(93.2) and est.mos == pytest.approx(4.41, abs=0.005)


def test_delay_impairment():
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(177.3) == pytest.approx(0.024 * 177.3)
    assert delay_impairment(300) == pytest.approx(0.024 * 300 + 0.11 * (300 - 177.3))


def test_ie_eff_g107_formula():
    assert effective_equipment_impairment(0, 25.1, 0) == 0
    assert effective_equipment_impairment(0, 25.1, 1) == pytest.approx(95 / 26.1)
    assert effective_equipment_impairment(11, 19, 100) == pytest.approx(11 + 84 * 100 / 119)


def test_loss_and_delay_lower_the_mos():
    losses = [estimate_mos("PCMA", p).mos for p in (0, 1, 2, 5, 10, 20)]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    delays = [estimate_mos("PCMA", 0, network_delay_ms=d).mos for d in (0, 100, 200, 400)]
    assert all(b < a for a, b in zip(delays, delays[1:]))
    assert estimate_mos("PCMA", 2, plc=False).mos < estimate_mos("PCMA", 2).mos


def test_codec_order():
    g711, g729, gsm = (estimate_mos(c, 1, network_delay_ms=40, jitter_buffer_ms=40).mos
                       for c in ("PCMU", "G729", "GSM"))
    assert g711 > g729 > gsm
    assert estimate_mos("G729", 0).delay_ms == 25            # 20 ms packet + 5 ms look-ahead


def test_unknown_codec_needs_values():
    with pytest.raises(ValueError):
        estimate_mos("opus")
    assert estimate_mos("opus", ie=5, bpl=20).r == pytest.approx(93.2 - 5 - 0.024 * 20)
