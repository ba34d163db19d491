"""The limits table (sipclient.proto.limits) is what docs/limits.md says, and the environment
changes a limit without code."""

from __future__ import annotations

import re
from pathlib import Path

from sipclient.proto.limits import LIMITS, LimitExceeded, env_name, limit

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def test_every_limit_is_documented_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", DOC.read_text(), re.M))
    assert set(rows) == set(LIMITS)
    for name, (default, _) in LIMITS.items():
        shown = str(LimitExceeded(name, "x")).split("limit of ")[1].split(" (")[0]
        assert rows[name].strip() in (shown, f"{default:g}"), name


def test_the_environment_changes_a_limit_and_garbage_does_not():
    name = "yaml_aliases"
    assert limit(name, {}) == 100
    assert limit(name, {env_name(name): "7"}) == 7
    assert limit(name, {env_name(name): "lots"}) == 100
    assert limit(name, {env_name(name): "-1"}) == 100
