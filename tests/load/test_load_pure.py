"""The pure parts of the load engine: option values, the pacer, merging, thresholds."""

from __future__ import annotations

import pytest

from sipclient.load.pacer import Pacer
from sipclient.load.spec import (LoadSpec, Thresholds, parse_address_range,
                                 parse_duration_ms, parse_number_range, parse_share)
from sipclient.load.stats import LoadStats, merge, summary
from sipclient.load.thresholds import check


def test_option_values():
    assert parse_share("0.1%", "--max-failed") == pytest.approx(0.001)
    assert parse_share("0.02", "--max-loss") == 0.02
    assert parse_duration_ms("200ms", "x") == 200 and parse_duration_ms("1.5s", "x") == 1500
    assert parse_number_range("1001-1003,1010", "--users") == ("1001", "1002", "1003", "1010")
    assert parse_number_range("0008-0010", "--users") == ("0008", "0009", "0010")
    assert parse_address_range("127.0.0.1-3") == ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    for bad, fn in (("5%%", parse_share), ("150%", parse_share), ("soon", parse_duration_ms),
                    ("20-10", parse_number_range), ("abc", parse_number_range)):
        with pytest.raises(ValueError, match="--opt"):
            fn(bad, "--opt")
    with pytest.raises(ValueError, match="ascending"):
        parse_address_range("127.0.0.9-127.0.0.1")


def test_pacer_ramp_and_inverse():
    p = Pacer(100, ramp=10)
    assert p.due(10) == pytest.approx(500)          # half of 100/s over the 10 s ramp
    assert p.due(11) == pytest.approx(600)
    assert p.rate_at(5) == pytest.approx(50)
    for n in (1, 250, 500, 501, 1000):
        assert p.due(p.time_of(n)) == pytest.approx(n)
    assert Pacer(None).due(0.001) == float("inf")
    with pytest.raises(ValueError):
        Pacer(0)


def test_share_splits_rate_calls_users_and_addresses():
    spec = LoadSpec(kind="register", target="x", rate=10, calls=7, concurrency=5,
                    users=("1", "2", "3", "4", "5"), local_addresses=("127.0.0.2", "127.0.0.3"))
    parts = [spec.share(k, 2) for k in range(2)]
    assert [p.calls for p in parts] == [4, 3]
    assert [p.rate for p in parts] == [5, 5]
    assert [p.users for p in parts] == [("1", "3", "5"), ("2", "4")]
    assert [p.local_addresses for p in parts] == [("127.0.0.2",), ("127.0.0.3",)]
    assert LoadSpec.from_json(parts[0].to_json()) == parts[0]


def test_merge_adds_counts_and_histograms():
    snaps = []
    for k, setups in enumerate(([10, 20, 30], [40, 1000])):
        s = LoadStats(epoch=100.0)
        for ms in setups:
            s.started(100.5 + k)
            s.status(200)
            s.latency("setup_ms", ms, 100.6 + k)
            s.ended(101.0 + k)
        s.started(102.0)
        s.status(486)
        s.ended(102.5, "4xx", "INVITE answered 486")
        snaps.append(s.snapshot())
    r = summary(merge(snaps), kind="call", asked_rate=10, processes=2)
    assert (r["attempted"], r["completed"], r["failed"]) == (7, 5, 2)
    assert r["by_status"] == {"200": 5, "486": 2} and r["by_reason"] == {"4xx": 2}
    assert r["setup_ms"]["count"] == 5
    assert r["setup_ms"]["max"] == pytest.approx(1000, rel=0.01)
    assert r["setup_ms"]["p50"] == pytest.approx(30, rel=0.01)
    assert r["elapsed_s"] == 2.0 and r["calls_per_second"] == 2.5


def test_thresholds_name_what_broke():
    r = {"kind": "call", "attempted": 1000, "failed": 2, "setup_ms": {"p99": 250.0}}
    assert check(r, Thresholds(max_failed=0.002, max_setup_p99_ms=300)) == []
    broken = check(r, Thresholds(max_failed=0.001, max_setup_p99_ms=200, max_loss=0.005))
    assert len(broken) == 3
    assert "failed 2 of 1000" in broken[0] and "setup p99 250 ms" in broken[1]
    assert "no media" in broken[2]
    assert check({"kind": "call", "attempted": 5, "failed": 1, "setup_ms": {}},
                 Thresholds()) != []  # default: no failure allowed


def test_instance_number_is_defined_only_for_load_instances(tmp_path):
    from sipclient.scenario.loader import load_scenario
    from sipclient.scenario.model import ScenarioErrors

    f = tmp_path / "i.sip.yaml"
    f.write_text("name: per instance\nagents:\n  a: {account: 1001, display_name: 'load ${i}'}\n"
                 "steps:\n  - register: a\n")
    with pytest.raises(ScenarioErrors, match="only defined inside repeat"):
        load_scenario(f)
    assert load_scenario(f, instance=True).agents["a"].fields["display_name"] == "load ${i}"


def test_latencies_counted_before_recording_give_the_same_histogram():
    import random

    from sipclient.load.stats import _histogram

    rng = random.Random(7)
    stats = LoadStats(0.0)
    direct = _histogram()
    for _ in range(20000):
        ms = rng.expovariate(1 / 20.0) + rng.choice((0.0, 0.5, 900.0))
        stats.latency("setup_ms", ms, 3.0)
        direct.record_value(max(1, int(ms * 1000.0)))
    h = stats.histograms["setup_ms"]
    for p in (50.0, 90.0, 99.0, 99.9, 100.0):
        assert h.get_value_at_percentile(p) == direct.get_value_at_percentile(p)
    assert (h.get_min_value(), h.get_max_value(), h.get_total_count()) == (
        direct.get_min_value(), direct.get_max_value(), 20000)
    row = stats.snapshot()["seconds"]["3"]
    assert row["setup"] is not None and stats.seconds[3].setup.get_total_count() == 20000
