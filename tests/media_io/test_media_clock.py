"""The process's one media clock, driven by a fake loop: no sleeps, exact times."""

from __future__ import annotations

import heapq

import pytest

from sipclient.io.media_clock import MediaClock


class FakeLoop:
    """``time()``, ``call_at`` and ``run_until(t)``: timers fire in order, on time or
    ``lag`` seconds late."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lag = 0.0
        self.timers: list[tuple[float, int, "Handle"]] = []
        self.seq = 0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback) -> "Handle":
        self.seq += 1
        handle = Handle(callback)
        heapq.heappush(self.timers, (when, self.seq, handle))
        return handle

    def run_until(self, t: float) -> None:
        while self.timers and self.timers[0][0] <= t:
            when, _, handle = heapq.heappop(self.timers)
            if handle.cancelled:
                continue
            self.now = max(self.now, when + self.lag)
            handle.callback()
        self.now = max(self.now, t)


class Handle:
    def __init__(self, callback) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Stream:
    def __init__(self, log: list, name: str, ptime: float = 0.02) -> None:
        self.ptime = ptime
        self.name = name
        self.log = log
        self.sent: list[tuple[float, float]] = []  # (now, deadline)

    def send_due(self, now: float, deadline: float) -> None:
        self.sent.append((now, deadline))
        self.log.append(("send", self.name))

    def after_send(self, now: float) -> None:
        self.log.append(("analyse", self.name))


def test_streams_are_spread_over_the_period_and_paced_without_drift() -> None:
    loop = FakeLoop()
    clock = MediaClock(loop)
    log: list = []
    streams = [Stream(log, f"s{i}") for i in range(40)]
    firsts = [clock.add(s) for s in streams]
    # 40 streams of 20 ms over 20 slots of 1 ms: two per slot, never 40 at once
    slots = [round((f - clock.epoch) / clock.SLOT) % 20 for f in firsts]
    assert sorted(slots.count(p) for p in range(20)) == [2] * 20
    loop.run_until(101.0)
    for s in streams:
        deadlines = [d for _, d in s.sent]
        assert len(deadlines) in (49, 50)
        steps = {round(b - a, 9) for a, b in zip(deadlines, deadlines[1:])}
        assert steps == {0.02}  # absolute deadlines: no drift
        assert all(-clock.EARLY - 1e-9 <= now - d <= 1e-9 for now, d in s.sent)
    assert clock.ticks <= 1000  # one timer per busy slot, not one per packet per call


def test_every_due_packet_goes_out_before_any_analysis() -> None:
    loop = FakeLoop()
    clock = MediaClock(loop)
    clock.SLOT = 0.02  # one slot per period: every stream due in the same pass
    log: list = []
    for i in range(3):
        clock.add(Stream(log, f"s{i}"))
    loop.run_until(100.05)
    first_pass = log[:6]
    assert [k for k, _ in first_pass] == ["send"] * 3 + ["analyse"] * 3


def test_a_stalled_loop_skips_frames_and_measures_the_lateness() -> None:
    loop = FakeLoop()
    clock = MediaClock(loop)
    s = Stream([], "s")
    clock.add(s)
    loop.run_until(100.1)
    loop.lag = 0.25  # the next timer fires a quarter of a second late
    loop.run_until(100.4)
    lates = [now - d for now, d in s.sent]
    assert max(lates) == pytest.approx(0.25, abs=0.021)
    # the frames of the stall were skipped, not sent in a burst: ~15 frames for 0.3 s
    assert len(s.sent) < 12


def test_removed_streams_stop_and_a_readded_stream_gets_a_new_phase() -> None:
    loop = FakeLoop()
    clock = MediaClock(loop)
    a, b = Stream([], "a"), Stream([], "b")
    clock.add(a)
    clock.add(b)
    loop.run_until(100.1)
    clock.remove(a)
    n = len(a.sent)
    loop.run_until(100.2)
    assert len(a.sent) == n and len(b.sent) >= 9 and len(clock) == 1
    clock.add(Stream([], "c", ptime=0.03))  # another ptime on the same grid
    loop.run_until(100.5)
    assert len(clock) == 2


def test_a_timer_fired_early_still_sends_its_slot_instead_of_spinning() -> None:
    loop = FakeLoop()
    loop.lag = -0.0009  # uvloop rounds timers to whole ms: they may fire early
    clock = MediaClock(loop)
    s = Stream([], "s")
    clock.add(s)
    loop.run_until(100.2)
    assert len(s.sent) == 10 and clock.ticks == 10  # one pass per packet, no empty passes
