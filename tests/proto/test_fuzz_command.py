"""A short run of the documented fuzz command (`make fuzz` runs 1,000,000 inputs): mutated
real messages, every typed view read, serialized again; nothing but ParseError escapes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent.parent / "bench" / "fuzz_parser.py"


def test_short_fuzz_run_finds_only_parse_errors():
    spec = importlib.util.spec_from_file_location("fuzz_parser", BENCH)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    count, crashes = fuzz.run(3000, seed=1)
    assert count == 3000
    assert crashes == [], crashes[:3]


def test_the_mutator_really_breaks_messages():
    spec = importlib.util.spec_from_file_location("fuzz_parser", BENCH)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    import random

    import sipclient

    rng = random.Random(5)
    corpus = fuzz.load_corpus()
    rejected = 0
    for _ in range(500):
        try:
            sipclient.parse_message(fuzz.mutate(rng, rng.choice(corpus)))
        except sipclient.ParseError:
            rejected += 1
    assert 50 < rejected < 500  # many inputs are malformed, not all: the run explores both
