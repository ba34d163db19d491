"""Fixtures of the load tests: a sipp UAS on a free port (sipp missing is a failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipclient.load.sipp import SippUas

HERE = Path(__file__).parent


@pytest.fixture
def sipp_uas():
    with SippUas() as uas:
        yield uas


@pytest.fixture
def sipp_uas_ringing():
    """A UAS that sends 180, waits 30 ms, then 200 (tests/load/uas_delay.xml)."""
    with SippUas(scenario=HERE / "uas_delay.xml") as uas:
        yield uas


@pytest.fixture
def sipp_uas_echo():
    """``sipp -sn uas -rtp_echo``: the RTP each call sends comes back."""
    with SippUas(extra=("-rtp_echo",)) as uas:
        yield uas
