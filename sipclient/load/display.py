"""What a load run shows while it runs: a live table (PyPI ``rich``) on a terminal, a plain
line a second otherwise (CI logs, pipes). Both go to the stream given (stderr by default,
so ``--json`` on stdout stays one object)."""

from __future__ import annotations

import time
from typing import Any, TextIO

__all__ = ["LiveDisplay", "plain_line"]


def plain_line(live: dict[str, Any], elapsed: float, asked: float | None) -> str:
    p99 = live.get("setup_p99_ms")
    rate = live.get("completed", 0) / elapsed if elapsed > 0 else 0.0
    return (f"[{elapsed:6.1f}s] attempted {live.get('attempted', 0)} "
            f"completed {live.get('completed', 0)} failed {live.get('failed', 0)} "
            f"in flight {live.get('in_flight', 0)} | {rate:.1f}/s"
            + (f" (asked {asked:g}/s)" if asked else "")
            + (f" | setup p99 {p99:.1f} ms" if p99 is not None else ""))


class LiveDisplay:
    def __init__(self, stream: TextIO, *, title: str, asked: float | None,
                 enabled: bool = True) -> None:
        self.stream = stream
        self.title = title
        self.asked = asked
        self.enabled = enabled
        self.t0 = time.monotonic()
        isatty = getattr(stream, "isatty", None)
        self.rich = enabled and bool(isatty and isatty())
        self._live: Any = None
        self._last = ""

    def __enter__(self) -> "LiveDisplay":
        if self.rich:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._table({}), console=Console(file=self.stream),
                              refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, live: dict[str, Any]) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t0
        if self._live is not None:
            self._live.update(self._table(live, elapsed))
            return
        line = plain_line(live, elapsed, self.asked)
        if line != self._last:
            self._last = line
            print(line, file=self.stream, flush=True)

    def _table(self, live: dict[str, Any], elapsed: float = 0.0) -> Any:
        from rich.table import Table

        table = Table(title=self.title, show_header=True)
        for col in ("elapsed", "attempted", "completed", "failed", "in flight", "rate/s",
                    "setup p99"):
            table.add_column(col, justify="right")
        rate = live.get("completed", 0) / elapsed if elapsed > 0 else 0.0
        p99 = live.get("setup_p99_ms")
        failed = live.get("failed", 0)
        table.add_row(f"{elapsed:.1f}s", str(live.get("attempted", 0)),
                      str(live.get("completed", 0)),
                      f"[red]{failed}[/red]" if failed else "0",
                      str(live.get("in_flight", 0)),
                      f"{rate:.1f}" + (f" / {self.asked:g}" if self.asked else ""),
                      f"{p99:.1f} ms" if p99 is not None else "-")
        return table
