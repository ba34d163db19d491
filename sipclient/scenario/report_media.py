"""What the HTML report shows of one scenario besides its result: read from the scenario's
own ``capture.pcap`` (:class:`ScenarioView`).

- the clickable ladder: today's HTML ladder page (:func:`sipclient.pcap.ladder_html.render_html`)
  of the agents' messages as ``result.json`` holds them (redacted, the agents named; the
  capture's SIP only when the result has no trace) and the capture's RTP streams, embedded
  by the report as it is;
- each RTP stream's figures (as ``sipclient pcap summary``) and its jitter and loss over
  time (after each packet, by :class:`sipclient.media.stats.StreamStats`, so they end on
  the stream's figures; loss summed per second of arrival), thinned to at most
  :data:`MAX_POINTS` points (the highest jitter always kept);
- the audio each agent received, decoded from the capture (G.711, GSM, G.729) into
  ``received-N.wav`` beside it (8 kHz 16-bit mono, at most :data:`MAX_AUDIO_S` seconds per
  stream), which the page links: the page itself carries no audio;
- the DTMF digits received (RFC 4733 events in the capture, and the agents' own count).

A stream is *received* when it goes to one of the agents' RTP addresses (``local_rtp`` of
the result's media) or carries an SSRC an agent reported as the remote one; every stream of
a capture the agents wrote either leaves or reaches an agent.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping

__all__ = ["MAX_AUDIO_S", "MAX_POINTS", "ScenarioView", "scenario_view"]

MAX_POINTS = 300
MAX_AUDIO_S = 60.0
_MAX_CAPTURE = 200 * 1024 * 1024     # a bigger capture is linked, not analysed


@dataclass
class ScenarioView:
    ladder_html: str | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)
    dtmf: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)       # relative to the scenario folder
    problem: str | None = None


def scenario_view(folder: Path, result: Mapping[str, Any], *, audio: bool = True) -> ScenarioView:
    """Everything the report shows from ``folder`` (a scenario's report folder); never
    raises for a missing or broken capture (``problem`` says what went wrong)."""
    view = ScenarioView()
    folder = Path(folder)
    view.files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    capture_path = folder / "capture.pcap"
    if not capture_path.is_file() or capture_path.stat().st_size > _MAX_CAPTURE:
        view.problem = None if not capture_path.is_file() else "capture too big to analyse"
        return view
    from sipclient.pcap.ladder import from_capture, from_trace
    from sipclient.pcap.ladder_html import render_html
    from sipclient.pcap.read import CaptureError, read_capture

    try:
        capture = read_capture(str(capture_path))
    except (CaptureError, OSError) as exc:
        view.problem = f"capture.pcap: {exc}"
        return view
    try:
        names: dict[str, str] = {}
        traces = _traces(result)
        messages = from_trace(traces, names) if traces else from_capture(capture)
        view.ladder_html = render_html(messages, capture.rtp_streams,
                                       title=str(result.get("name") or folder.name),
                                       names=names)
    except Exception as exc:  # noqa: BLE001 - a drawing bug must not lose the report
        view.problem = f"ladder: {type(exc).__name__}: {exc}"
    local, remote_ssrcs = _agents_media(result)
    packets = _stream_packets(capture_path, capture.rtp_streams)
    for n, stream in enumerate(capture.rtp_streams, 1):
        received = (f"{stream.dst[0]}:{stream.dst[1]}" in local
                    or f"0x{stream.ssrc:08X}" in remote_ssrcs)
        figures = stream.as_dict()
        figures.pop("dtmf", None)
        rows = packets.get(n - 1, [])
        entry: dict[str, Any] = {"index": n, "received": received, "figures": figures,
                                 "series": _series(rows, stream), "audio": None}
        if audio and received and rows:
            name = f"received-{n}.wav"
            if _write_wav(folder / name, rows, stream):
                entry["audio"] = name
        view.streams.append(entry)
    for ev in capture.dtmf:
        view.dtmf.append({"digit": ev.digit, "src": f"{ev.src[0]}:{ev.src[1]}",
                          "dst": f"{ev.dst[0]}:{ev.dst[1]}", "time": ev.start,
                          "duration_ms": ev.duration_ms,
                          "received": f"{ev.dst[0]}:{ev.dst[1]}" in local})
    return view


def _traces(result: Mapping[str, Any]) -> dict[str, list[SimpleNamespace]]:
    """The agents' traces of ``result.json`` (already redacted by the engine: a secret a
    scenario sent in a header is ``***`` there, not in the page) as trace entries."""
    out = {}
    for name, trace in (result.get("agents") or {}).items():
        if isinstance(trace, list):
            out[str(name)] = [SimpleNamespace(
                time=d.get("time") or 0.0, direction=d.get("direction"),
                transport=d.get("transport") or "", local=d.get("local"), remote=d.get("remote"),
                data=str(d.get("text") or "").encode("utf-8"), message=None)
                for d in trace if isinstance(d, Mapping)]
    return {k: v for k, v in out.items() if v}


def _agents_media(result: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    local, remote = set(), set()
    for stats in (result.get("media") or {}).values():
        if isinstance(stats, Mapping):
            if stats.get("local_rtp"):
                local.add(str(stats["local_rtp"]))
            if stats.get("remote_ssrc"):
                remote.add(str(stats["remote_ssrc"]).upper().replace("0X", "0x"))
    return local, remote


def _stream_packets(path: Path, streams: list[Any]) -> dict[int, list[tuple]]:
    """Per stream (index): (arrival time, seq, RTP timestamp, payload type, payload)."""
    from sipclient.pcap.read import iter_packets

    keys = {(s.src, s.dst, s.ssrc): i for i, s in enumerate(streams)}
    flows = {(s.src, s.dst) for s in streams}
    out: dict[int, list[tuple]] = {}
    for p in iter_packets(str(path)):
        if p.transport != "udp" or (p.src, p.dst) not in flows or len(p.payload) < 12:
            continue
        data = p.payload
        if data[0] >> 6 != 2 or 72 <= data[1] & 0x7F <= 95:   # not RTP, or RTCP
            continue
        ssrc = int.from_bytes(data[8:12], "big")
        i = keys.get((p.src, p.dst, ssrc))
        if i is None:
            continue
        skip = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= skip + 4:             # header extension
            skip += 4 + 4 * int.from_bytes(data[skip + 2:skip + 4], "big")
        payload = data[skip:]
        if data[0] & 0x20 and payload:                            # padding
            payload = payload[:-payload[-1]] if payload[-1] <= len(payload) else b""
        out.setdefault(i, []).append((p.time, int.from_bytes(data[2:4], "big"),
                                      int.from_bytes(data[4:8], "big"), data[1] & 0x7F,
                                      payload, bool(data[1] & 0x80), len(data)))
    return out


def _series(rows: list[tuple], stream: Any) -> dict[str, list[float]]:
    """Jitter (ms) after each packet and packets lost per second of arrival, computed by
    :class:`sipclient.media.stats.StreamStats` (RFC 3550 A.1, A.8, with Wireshark's
    handling of timestamp jumps), so the last and highest values are the stream's figures."""
    from sipclient.media.stats import StreamStats

    if not rows:
        return {"t": [], "jitter_ms": [], "loss_t": [], "lost": []}
    stats = StreamStats(stream.ssrc)
    t0 = rows[0][0]
    times, jitter = [], []
    lost: dict[int, int] = {}
    before = 0
    for arrival, seq, ts, pt, payload, marker, size in rows:
        stats.update(seq, ts, arrival, marker=marker, timed=pt == stream.payload_type,
                     size=size, payload_size=len(payload), payload_type=pt)
        times.append(arrival - t0)
        jitter.append(stats.jitter_ms)
        now = stats.lost
        if now > before:
            second = int(arrival - t0)
            lost[second] = lost.get(second, 0) + now - before
        before = max(before, now)
    step = max(1, -(-len(times) // MAX_POINTS))   # at most MAX_POINTS (+ the peak)
    keep = list(range(0, len(times), step))
    peak = max(range(len(jitter)), key=jitter.__getitem__)
    if peak not in keep:                       # thinning must not hide the highest value
        keep = sorted(keep + [peak])
    seconds = int(rows[-1][0] - t0) + 1
    return {"t": [round(times[k], 3) for k in keep],
            "jitter_ms": [round(jitter[k], 3) for k in keep],
            "loss_t": list(range(seconds)), "lost": [lost.get(s, 0) for s in range(seconds)]}


def _write_wav(path: Path, rows: list[tuple], stream: Any) -> bool:
    """Decode the stream's media packets in sequence order into ``path``; False when its
    codec cannot be decoded here."""
    import numpy as np

    from sipclient.media.codecs import CODECS, CodecUnavailable

    codec = CODECS.get(str(stream.codec).upper())
    if codec is None:
        return False
    media = sorted((r for r in rows if r[3] == stream.payload_type),
                   key=lambda r: (r[2] - rows[0][2]) & 0xFFFFFFFF)
    limit = int(MAX_AUDIO_S * codec.clock_rate)
    try:
        decoder = codec.decoder()
    except CodecUnavailable:
        return False
    chunks, total = [], 0
    try:
        for r in media:
            try:
                samples = decoder.decode(r[4])
            except (ValueError, CodecUnavailable):
                continue
            chunks.append(samples)
            total += len(samples)
            if total >= limit:
                break
    finally:
        decoder.close()
    if not chunks:
        return False
    pcm = np.clip(np.concatenate(chunks)[:limit], -32768, 32767).astype("<i2")
    try:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(codec.clock_rate)
            out.writeframes(pcm.tobytes())
    except OSError:
        return False
    return True
