"""The codec registry is the one table of codecs: a record added there (with its coder) is
offered in SDP, accepted by the CLI's --codec, replayed by pcap to-scenario, scored by the
MOS estimate and, when WebRTC carries it, used by webrtc/ (docs/DEVELOPING.md: "adding a
codec touches 2 files")."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest

from sipclient.agent.media import RealMedia
from sipclient.cli import Env, UsageError, main
from sipclient.cli._common import media_config
from sipclient.media import mos
from sipclient.media.codecs import registry
from sipclient.media.offer_answer import MediaConfig, build_offer
from sipclient.media.sdp import Origin


class _Linear:
    """A stand-in coder: 16-bit linear samples, big-endian (as L16, RFC 3551 4.5.11)."""

    def encode(self, samples) -> bytes:
        return np.asarray(samples, dtype=">i2").tobytes()

    def decode(self, payload) -> np.ndarray:
        return np.frombuffer(bytes(payload), dtype=">i2").astype(np.int16)

    def close(self) -> None:
        pass


NEW = registry.Codec("L16X", None, 8000, 1, 2, False, None, _Linear, _Linear,
                     fmtp="x=1", impairment=registry.CodecImpairment(3.0, 20.0, 5.0))


@pytest.fixture
def added(monkeypatch):
    """NEW registered the way a developer adds a codec: one record in the registry."""
    monkeypatch.setitem(registry.REGISTRY, "L16X", NEW)
    monkeypatch.setitem(registry.CODECS, "L16X", NEW)
    return NEW


def test_a_new_record_is_offered_with_a_dynamic_payload_type_and_its_fmtp(added) -> None:
    offer = build_offer(MediaConfig("10.0.0.5", 12000, codecs=("PCMU", "L16X")),
                        Origin("-", "1", 1, address="10.0.0.5"))
    m = offer.media[0]
    assert m.payload_types == (0, 96)
    assert m.rtpmap(96).encoding == "L16X" and m.rtpmap(96).clock_rate == 8000
    assert m.fmtp(96) == "x=1"


def test_the_cli_codec_choices_are_the_registry(added) -> None:
    args = argparse.Namespace(codec="l16x,pcmu", webrtc=False)
    assert media_config(args)["codecs"] == ("L16X", "PCMU")
    with pytest.raises(UsageError) as err:
        media_config(argparse.Namespace(codec="AMR", webrtc=False))
    # every playable record, and only those, is named: SDP-only ones (G722) cannot be sent
    assert "PCMU, PCMA, GSM, G729" in str(err.value) and "L16X" in str(err.value)
    assert "G722" not in str(err.value)
    out = io.StringIO()
    assert main(["call", "--help"], Env(stdout=out, stderr=io.StringIO())) == 0
    assert "L16X" in " ".join(out.getvalue().split())


def test_webrtc_choices_are_the_records_webrtc_carries() -> None:
    with pytest.raises(UsageError) as err:
        media_config(argparse.Namespace(codec="GSM", webrtc=True))
    assert "(known: PCMU, PCMA, OPUS)" in str(err.value)


def test_media_sessions_and_mos_read_the_registry(added) -> None:
    media = RealMedia("127.0.0.1", ("L16X",))
    assert media.codecs == ("L16X",)
    with pytest.raises(ValueError, match="unknown codec 'G722'"):
        RealMedia("127.0.0.1", ("G722",))  # known to SDP, but no coder to send it with
    assert mos.estimate_mos("L16X").ie_eff == pytest.approx(3.0)
    assert registry.by_name("l16x/8000").encode([1, -2]) == b"\x00\x01\xff\xfe"


def test_to_scenario_replays_what_the_registry_can_play(added) -> None:
    from sipclient.pcap import to_scenario

    assert "L16X" in {n.upper() for n in to_scenario.playable_names()}
    assert "G722" not in registry.playable_names()


def test_the_scenario_check_reads_the_registry(added, tmp_path) -> None:
    from sipclient.scenario.loader import load_text
    from sipclient.scenario.model import ScenarioErrors

    text = ("agents:\n  alice: {account: 1001, codecs: [l16x, PCMU]}\nsteps:\n"
            "  - call: {from: alice, to: '600', codecs: [%s]}\n")
    load_text(text % "L16X", tmp_path / "ok.sip.yaml", env={})
    with pytest.raises(ScenarioErrors) as err:
        load_text(text % "AMR", tmp_path / "bad.sip.yaml", env={})
    assert str(err.value) == (f"{tmp_path / 'bad.sip.yaml'}:4: step 1 (call): \"codecs\": unknown "
                              f"codec \"AMR\" (known: PCMU, PCMA, GSM, G729, L16X)")


def test_the_agent_default_offer_comes_from_the_registry() -> None:
    from sipclient.agent.config import DEFAULT_CODECS

    assert DEFAULT_CODECS == ("PCMU", "PCMA", "GSM")  # G.729 is opt-in (the lab cannot transcode it)
    assert DEFAULT_CODECS == tuple(c.name for c in registry.REGISTRY.values() if c.default)


def test_webrtc_reads_its_codecs_from_the_registry() -> None:
    pytest.importorskip("aiortc")
    from webrtc import sdp as wsdp

    assert {k: (c.name, c.payload_type) for k, c in wsdp.CODECS.items()} == {
        "PCMU": ("PCMU", 0), "PCMA": ("PCMA", 8), "OPUS": ("opus", 111)}
    assert [c.name for c in wsdp.codecs_named(["pcma", "opus"])] == ["PCMA", "opus"]
    with pytest.raises(ValueError, match="GSM"):
        wsdp.codecs_named(["GSM"])


def test_the_table_loads_without_the_coders() -> None:
    """The CLI builds --codec's help from the registry: reading it loads neither numpy nor a
    codec library (a command's start stays quick); the coders load with the first use."""
    import subprocess
    import sys

    code = ("import sys, io; from sipclient.cli import main, Env; "
            "main(['call', '--help'], Env(stdout=io.StringIO(), stderr=io.StringIO())); "
            "print(sorted(m for m in ('numpy', 'sipclient.media.codecs.g711', "
            "'sipclient.media.codecs._native') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert registry.by_name("PCMU").encode([0]) == b"\xff"  # and they do load when used
