"""Pass or fail a run's summary against ``--max-failed``, ``--max-setup-p99``, ``--max-loss``
(pure). Each broken threshold is one line saying what was measured and what was allowed."""

from __future__ import annotations

from typing import Any

from sipclient.load.spec import Thresholds

__all__ = ["check"]


def check(summary: dict[str, Any], t: Thresholds) -> list[str]:
    broken: list[str] = []
    attempted = summary.get("attempted", 0)
    failed = summary.get("failed", 0)
    max_failed = 0.0 if t.max_failed is None else t.max_failed
    share = failed / attempted if attempted else 0.0
    if share > max_failed:
        broken.append(f"failed {failed} of {attempted} ({share:.3%}) > --max-failed "
                      f"{max_failed:.3%}")
    if attempted == 0:
        broken.append("no instance was started")
    if t.max_setup_p99_ms is not None:
        key = "register_ms" if summary.get("kind") == "register" else "setup_ms"
        p99 = (summary.get(key) or {}).get("p99")
        if p99 is None:
            broken.append(f"no {key[:-3]} time was measured (--max-setup-p99 "
                          f"{t.max_setup_p99_ms:g}ms)")
        elif p99 > t.max_setup_p99_ms:
            broken.append(f"{key[:-3]} p99 {p99:g} ms > --max-setup-p99 "
                          f"{t.max_setup_p99_ms:g}ms")
    if t.max_loss is not None:
        media = summary.get("media")
        if not media:
            broken.append("--max-loss given but no media was measured (use --media packets)")
        elif media["loss"] > t.max_loss:
            broken.append(f"media loss {media['loss']:.3%} > --max-loss {t.max_loss:.3%}")
    return broken
