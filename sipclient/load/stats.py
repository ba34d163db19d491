"""What a load run counts, per process, and how the processes' counts are merged (pure).

Latencies go into HDR histograms (PyPI ``hdrhistogram``, microseconds, 3 significant
digits, 1 us .. 1 h; measured with ``time.perf_counter``, not the event loop's clock, which
uvloop keeps in whole milliseconds): call setup (INVITE to 200), post-dial delay (INVITE to the first 18x),
the REGISTER round trip (first REGISTER to its final 2xx, challenge included) and, for
scenarios, each instance's duration. A
process's :meth:`LoadStats.snapshot` is plain JSON (histograms base64-encoded), so the
parent merges what its worker processes print with :func:`merge`, and :func:`summary` turns
the merged counts into the object ``--json`` prints.

Failures are counted by final status (``by_status``: "486": 3) and by reason
(``by_reason``: ``timeout``, ``4xx``, ``5xx``, ``6xx``, ``transport``, ``error``), plus
one row per second of the run (started, completed, failed, setup times) for the CSV and the
HTML charts. ``now`` is always given by the caller.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["LoadStats", "merge", "summary", "reason_for_status", "HISTOGRAMS",
           "PERCENTILES"]

#: the latency histograms a run keeps, by their JSON key
HISTOGRAMS = ("setup_ms", "pdd_ms", "register_ms", "instance_ms")
#: the percentiles reported for each (p99.9 is written ``p99_9`` in JSON)
PERCENTILES = ((50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99_9"))
_HIGHEST_US = 3_600_000_000
#: the histograms also kept per second of the run (the CSV and the charts)
_PER_SECOND = frozenset(("setup_ms", "register_ms", "instance_ms"))


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, 3)


def _quantum(ms: float) -> int:
    """``ms`` in microseconds, rounded down to the histograms' resolution (3 significant
    digits: 2048 sub-buckets, so a unit of ``2**(bit_length - 11)``): a value the histogram
    cannot tell from ``ms``, so equal latencies can be counted before they are recorded."""
    us = int(ms * 1000.0)
    if us < 2048:  # a unit of 1 us
        return us if us > 0 else 1
    if us > _HIGHEST_US:
        us = _HIGHEST_US
    shift = us.bit_length() - 11
    return us >> shift << shift


def reason_for_status(status: int) -> str:
    """``4xx`` / ``5xx`` / ``6xx`` (and ``3xx``) for a failing final status."""
    return f"{status // 100}xx"


@dataclass
class _Second:
    started: int = 0
    completed: int = 0
    failed: int = 0
    setup: HdrHistogram = field(default_factory=_histogram)


class LoadStats:
    """Counts of one process. ``epoch`` is the run's shared wall-clock start: row ``n``
    covers ``[epoch + n, epoch + n + 1)``."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        self.attempted = 0
        self.completed = 0
        self.failed = 0
        self.in_flight = 0
        self.retransmissions = 0
        self.by_status: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self._histograms = {name: _histogram() for name in HISTOGRAMS}
        #: latencies counted by value (see _quantum), recorded into the histograms when they
        #: are read: recording one value into an HDR histogram costs microseconds
        self._pending: dict[str, Counter[int]] = {name: Counter() for name in HISTOGRAMS}
        self._pending_rows: dict[int, dict[int, int]] = {}
        self.seconds: dict[int, _Second] = {}
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.media: list[dict[str, Any]] = []
        self.errors: Counter[str] = Counter()  # reason text of "error" failures (first words)
        self._index = -1  # the row of the last second recorded into (most are the same)
        self._current: _Second | None = None
        self._current_pending: dict[int, int] | None = None  # its latencies not recorded

    def _row(self, now: float) -> _Second:
        index = int(now - self.epoch)
        if index == self._index:
            return self._current  # type: ignore[return-value]
        index = max(0, index)
        row = self.seconds.get(index)
        if row is None:
            row = self.seconds[index] = _Second()
        self._index, self._current, self._current_pending = index, row, None
        return row

    # -- recording

    def started(self, now: float) -> None:
        self.attempted += 1
        self.in_flight += 1
        if self.first_start is None:
            self.first_start = now
        row = self._current if int(now - self.epoch) == self._index else self._row(now)
        row.started += 1  # type: ignore[union-attr]

    def status(self, status: int | str) -> None:
        """A final status of the instance's main transaction (INVITE or REGISTER), or a
        scenario's verdict (``passed``, ``failed``...)."""
        self.by_status[str(status)] += 1

    def latency(self, name: str, ms: float, now: float) -> None:
        q = int(ms * 1000.0)  # _quantum(ms), inline: this runs once per instance
        if q < 2048:
            if q < 1:
                q = 1
        else:
            q = _quantum(ms)
        counts = self._pending[name]
        counts[q] = counts.get(q, 0) + 1
        if name in _PER_SECOND:
            if int(now - self.epoch) != self._index:
                self._row(now)
            row = self._current_pending
            if row is None:
                row = self._current_pending = self._pending_rows.setdefault(self._index, {})
            row[q] = row.get(q, 0) + 1

    @property
    def histograms(self) -> dict[str, HdrHistogram]:
        """The latency histograms by JSON key (everything recorded so far)."""
        self._flush()
        return self._histograms

    def _flush(self) -> None:
        for name, counts in self._pending.items():
            if counts:
                h = self._histograms[name]
                for value, n in counts.items():
                    h.record_value(value, n)
                counts.clear()
        for index, counts in self._pending_rows.items():
            h = self.seconds[index].setup
            for value, n in counts.items():
                h.record_value(value, n)
        self._pending_rows.clear()
        self._current_pending = None

    def ended(self, now: float, reason: str | None = None, detail: str = "") -> None:
        """The instance is over: ``reason`` None means it completed, else why it failed."""
        self.in_flight -= 1
        self.last_end = now
        row = self._current if int(now - self.epoch) == self._index else self._row(now)
        if reason is None:
            self.completed += 1
            row.completed += 1
        else:
            self.failed += 1
            row.failed += 1
            self.by_reason[reason] += 1
            if detail:
                self.errors[detail[:120]] += 1

    # -- export

    def live(self) -> dict[str, Any]:
        """The small per-second message for the live display."""
        h = self.histograms["setup_ms"]
        return {"attempted": self.attempted, "completed": self.completed,
                "failed": self.failed, "in_flight": self.in_flight,
                "setup_p99_ms": h.get_value_at_percentile(99.0) / 1000.0
                if h.get_total_count() else None}

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON (what a worker process prints at the end)."""
        self._flush()
        return {
            "attempted": self.attempted, "completed": self.completed, "failed": self.failed,
            "in_flight": self.in_flight, "retransmissions": self.retransmissions,
            "by_status": dict(self.by_status), "by_reason": dict(self.by_reason),
            "errors": dict(self.errors),
            "histograms": {k: _encode(h) for k, h in self.histograms.items()},
            "seconds": {str(i): {"started": r.started, "completed": r.completed,
                                 "failed": r.failed, "setup": _encode(r.setup)}
                        for i, r in sorted(self.seconds.items())},
            "first_start": self.first_start, "last_end": self.last_end,
            "media": self.media, "epoch": self.epoch,
        }


def _encode(h: HdrHistogram) -> str | None:
    return h.encode().decode("ascii") if h.get_total_count() else None


def _decode_into(target: HdrHistogram, encoded: str | None) -> None:
    if encoded:
        target.decode_and_add(encoded.encode("ascii"))


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot-shaped dict from several (counters added, histograms merged)."""
    out: dict[str, Any] = {"attempted": 0, "completed": 0, "failed": 0, "in_flight": 0,
                           "retransmissions": 0}
    by_status: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    hists = {name: _histogram() for name in HISTOGRAMS}
    seconds: dict[int, dict[str, Any]] = {}
    starts, ends, media = [], [], []
    for snap in snapshots:
        for key in ("attempted", "completed", "failed", "in_flight", "retransmissions"):
            out[key] += int(snap.get(key, 0))
        by_status.update(snap.get("by_status", {}))
        by_reason.update(snap.get("by_reason", {}))
        errors.update(snap.get("errors", {}))
        for name, encoded in snap.get("histograms", {}).items():
            if name in hists:
                _decode_into(hists[name], encoded)
        for index, row in snap.get("seconds", {}).items():
            acc = seconds.setdefault(int(index), {"started": 0, "completed": 0, "failed": 0,
                                                  "setup": _histogram()})
            for key in ("started", "completed", "failed"):
                acc[key] += row[key]
            _decode_into(acc["setup"], row.get("setup"))
        if snap.get("first_start") is not None:
            starts.append(snap["first_start"])
        if snap.get("last_end") is not None:
            ends.append(snap["last_end"])
        media.extend(snap.get("media", []))
    out.update(by_status=dict(by_status), by_reason=dict(by_reason), errors=dict(errors),
               histograms=hists, seconds=dict(sorted(seconds.items())),
               first_start=min(starts) if starts else None,
               last_end=max(ends) if ends else None, media=media,
               epoch=snapshots[0].get("epoch", 0.0) if snapshots else 0.0)
    return out


def percentiles(h: HdrHistogram) -> dict[str, float | int | None]:
    """p50/p90/p99/p99.9/max in ms (None when nothing was recorded) and the count."""
    n = h.get_total_count()
    out: dict[str, float | int | None] = {
        key: round(h.get_value_at_percentile(p) / 1000.0, 3) if n else None
        for p, key in PERCENTILES}
    out["max"] = round(h.get_max_value() / 1000.0, 3) if n else None
    out["count"] = n
    return out


def summary(merged: dict[str, Any], *, kind: str, asked_rate: float | None,
            processes: int) -> dict[str, Any]:
    """The ``--json`` object of a run from :func:`merge`'s result."""
    first, last = merged["first_start"], merged["last_end"]
    elapsed = (last - first) if first is not None and last is not None else 0.0
    rate = merged["completed"] / elapsed if elapsed > 0 else 0.0
    started_rate = merged["attempted"] / elapsed if elapsed > 0 else 0.0
    out: dict[str, Any] = {
        "kind": kind,
        "attempted": merged["attempted"], "completed": merged["completed"],
        "failed": merged["failed"], "in_flight": merged["in_flight"],
        "elapsed_s": round(elapsed, 3),
        "calls_per_second": round(rate, 2),
        "started_per_second": round(started_rate, 2),
        "asked_rate": asked_rate,
        "processes": processes,
        "by_status": dict(sorted(merged["by_status"].items())),
        "by_reason": dict(sorted(merged["by_reason"].items())),
        "retransmissions": merged["retransmissions"],
    }
    for name in HISTOGRAMS:
        out[name] = percentiles(merged["histograms"][name])
    if merged["errors"]:
        out["errors"] = dict(sorted(merged["errors"].items(), key=lambda kv: -kv[1])[:10])
    if merged["media"]:
        out["media"] = media_summary(merged["media"])
    return out


def media_summary(streams: list[dict[str, Any]]) -> dict[str, Any]:
    """Loss, jitter and send-time error over every stream of the run."""
    sent = sum(s.get("packets_sent", 0) for s in streams)
    expected = sum(s.get("expected", 0) for s in streams)
    lost = sum(max(0, s.get("lost", 0)) for s in streams)
    errors = sorted(s.get("send_error_p99_ms", 0.0) for s in streams)
    jitters = [s.get("jitter_ms", 0.0) for s in streams]
    return {
        "streams": len(streams), "packets_sent": sent,
        "packets_received": sum(s.get("packets_received", 0) for s in streams),
        "lost": lost, "loss": round(lost / expected, 6) if expected else 0.0,
        "jitter_ms_max": round(max(jitters), 3) if jitters else None,
        "send_error_p99_ms_max": round(errors[-1], 3) if errors else None,
        "tone_heard": sum(1 for s in streams if s.get("tone_heard")),
    }
