"""Small value conversions of the twin: AMI's H:M:S durations, AMI's empty markers,
epoch milliseconds, and a secret's value where a vendor's payload needs it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def hms_seconds(hms: str) -> int:
    try:
        parts = [int(p) for p in hms.split(":")]
    except ValueError:
        return 0
    total = 0
    for p in parts:
        total = total * 60 + p
    return total


def ami_value(value: str) -> str:
    return "" if value in ("<unknown>", "<null>") else value


def epoch_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def reveal_secret(value: Any) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else str(value)
