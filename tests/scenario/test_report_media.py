"""What report.html shows of a scenario's capture (sipclient.scenario.report_media), on the
golden captures: the ladder page, each stream's figures and series, the received audio
decoded to WAV, the DTMF; and a broken capture reported in words."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import numpy as np

from sipclient.pcap.read import read_capture
from sipclient.scenario.report_media import scenario_view

REPO = Path(__file__).resolve().parents[2]


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(REPO / "captures" / name, folder / "capture.pcap")
    return folder


def test_streams_series_and_audio_of_a_golden_call(tmp_path):
    folder = _folder(tmp_path, "invite-early-media.pcap")
    capture = read_capture(str(folder / "capture.pcap"))
    streams = capture.rtp_streams
    offer = next(p.message for p in capture.sip if p.label == "INVITE" and p.message.body)
    port = int(re.search(rb"m=audio (\d+)", offer.body).group(1))     # the agent's RTP port
    theirs = next(s for s in streams if s.dst[1] == port and s.codec == "PCMU")
    local = f"{theirs.dst[0]}:{theirs.dst[1]}"          # what the agent received
    view = scenario_view(folder, {"name": "early", "media": {"c1": {"local_rtp": local}}})
    assert view.problem is None and "<svg" in view.ladder_html and "183" in view.ladder_html
    assert [s["received"] for s in view.streams] == [
        f"{s.dst[0]}:{s.dst[1]}" == local for s in streams]
    received = view.streams[streams.index(theirs)]
    series = received["series"]
    assert 10 < len(series["t"]) <= 300
    assert abs(max(series["jitter_ms"]) - theirs.max_jitter_ms) < 0.01    # RFC 3550 both
    assert sum(series["lost"]) == theirs.lost
    with wave.open(str(folder / received["audio"])) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert abs(len(samples) / 8000 - (theirs.last_time - theirs.first_time)) < 0.1
    spectrum = np.abs(np.fft.rfft(samples))
    peak = np.argmax(spectrum[1:]) * 8000 / len(samples)
    assert min(abs(peak - 440), abs(peak - 1000)) < 20, peak   # 602's tone, or our echo
    assert all(s["audio"] is None for s in view.streams if not s["received"])


def test_dtmf_sent_and_received(tmp_path):
    folder = _folder(tmp_path, "dtmf.pcap")
    view = scenario_view(folder, {"name": "dtmf",
                                  "media": {"c1": {"local_rtp": "127.0.0.1:15426"}}})
    assert "".join(d["digit"] for d in view.dtmf if not d["received"]) == "1234"
    assert "".join(d["digit"] for d in view.dtmf if d["received"]) == "1"


def test_a_broken_capture_is_said_in_words(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "capture.pcap").write_bytes(b"not a capture at all")
    view = scenario_view(folder, {"name": "x"})
    assert view.problem.startswith("capture.pcap: ") and view.ladder_html is None
    assert view.streams == [] and view.files == ["capture.pcap"]
    assert scenario_view(tmp_path / "missing", {}).problem is None


def test_the_ladder_comes_from_the_redacted_traces_with_the_agents_named(tmp_path):
    folder = _folder(tmp_path, "busy.pcap")
    capture = read_capture(str(folder / "capture.pcap"))
    trace = []
    for p in capture.sip:
        out = p.src == capture.sip[0].src                   # the agent sent the INVITE
        local, remote = (p.src, p.dst) if out else (p.dst, p.src)
        trace.append({"time": p.time, "direction": "out" if out else "in", "transport": "udp",
                      "local": f"{local[0]}:{local[1]}", "remote": f"{remote[0]}:{remote[1]}",
                      "text": p.raw.decode().replace(p.message.call_id, "***")})
    view = scenario_view(folder, {"name": "busy", "agents": {"alice": trace}})
    assert view.ladder_html.count('class="arrow') == len(capture.sip)
    assert capture.sip[0].message.call_id not in view.ladder_html     # redacted, as result.json
    assert ">alice<" in view.ladder_html
