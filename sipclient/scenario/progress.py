"""What ``sipclient run`` prints: a line per scenario, a results table, the failures.

    [1/3] call the echo test over UDP and hear our own tone ... PASS 4.1 s
    [2/3] busy ... FAIL 1.2 s

    scenario                  file                                result  time
    ------------------------  ----------------------------------  ------  -----
    call the echo test ...    scenarios/calls/echo-udp.sip.yaml   PASS    4.1 s
    ...

    FAILED busy (scenarios/calls/busy.sip.yaml)
    step 3 (call) at scenarios/calls/busy.sip.yaml:14: failed
          14 | - call: {from: alice, to: "603", as: c1}
      expected 486, got 200 OK
    ...
    ladder so far:
    ...

Without workers the scenario's name is printed when it starts and its verdict when it ends
(on the same line); with workers each line is printed whole when a scenario ends, with the
worker's number. Colour only on a terminal, and never with ``NO_COLOR``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, TextIO

from .reports import counts, failure_text

__all__ = ["Progress", "results_table"]

_VERDICT = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "interrupted": "INTERRUPTED",
            "skipped": "SKIP"}
_COLOR = {"passed": "\x1b[32m", "failed": "\x1b[31m", "error": "\x1b[31m",
          "interrupted": "\x1b[33m", "skipped": "\x1b[33m"}
_RESET = "\x1b[0m"


def _seconds(value: Any) -> str:
    try:
        seconds = float(value)
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    except (TypeError, ValueError):
        return "-"


class Progress:
    """The run's terminal output (``stream``: stdout of the CLI)."""

    def __init__(self, stream: TextIO, total: int, *, color: bool = False,
                 errors: TextIO | None = None) -> None:
        self.out, self.err = stream, errors or stream
        self.total, self.color = total, color
        self._open: int | None = None  # the index whose line waits for its verdict
        self._width = len(str(total))

    def _paint(self, status: str, text: str) -> str:
        return f"{_COLOR.get(status, '')}{text}{_RESET}" if self.color else text

    def _end_open_line(self) -> None:
        if self._open is not None:
            print(file=self.out, flush=True)
            self._open = None

    def note(self, text: str) -> None:
        self._end_open_line()
        print(text, file=self.err, flush=True)

    def started(self, index: int, scenario: Any, worker: int | None) -> None:
        if worker is not None:
            return
        self._end_open_line()
        print(f"[{index + 1:{self._width}}/{self.total}] {scenario.name} ...", end=" ",
              file=self.out, flush=True)
        self._open = index

    def finished(self, index: int, result: Mapping[str, Any], worker: int | None) -> None:
        status = str(result.get("status"))
        verdict = self._paint(status, _VERDICT.get(status, status.upper()))
        tail = f"{verdict} {_seconds(result.get('duration'))}"
        if self._open == index and worker is None:
            print(tail, file=self.out, flush=True)
            self._open = None
            return
        self._end_open_line()
        who = f" [w{worker}]" if worker is not None else ""
        print(f"[{index + 1:{self._width}}/{self.total}]{who} {result.get('name')} ... {tail}",
              file=self.out, flush=True)

    def summary(self, results: Sequence[Mapping[str, Any]], *, report_dir: str | None = None,
                interrupted: str | None = None, extra: Sequence[str] = ()) -> None:
        self._end_open_line()
        out = self.out
        print(file=out)
        print(results_table(results, color=self.color), file=out)
        for r in results:
            if r.get("status") in ("failed", "error", "interrupted"):
                head = f"{_VERDICT.get(str(r.get('status')), 'FAILED')} {r.get('name')} " \
                       f"({r.get('path')})"
                print(f"\n{self._paint(str(r.get('status')), '=' * 3 + ' ' + head)}", file=out)
                print(failure_text(r), file=out)
                if r.get("report_dir"):
                    print(f"report: {r['report_dir']}", file=out)
        c = counts(results)
        parts = [f"{c[k]} {k}" for k in ("passed", "failed", "error", "interrupted", "skipped")
                 if c[k] or k in ("passed", "failed")]
        line = ", ".join(parts)
        if interrupted:
            line += f" (interrupted by {interrupted})"
        print(f"\n{line}", file=out)
        for text in extra:
            print(text, file=out)
        if report_dir:
            print(f"reports: {report_dir}", file=out)
        out.flush()


def results_table(results: Sequence[Mapping[str, Any]], *, color: bool = False) -> str:
    """scenario | file | result | time, one row per scenario."""
    rows = [("scenario", "file", "result", "time")]
    statuses = [""]
    for r in results:
        status = str(r.get("status"))
        rows.append((str(r.get("name")), str(r.get("path")), _VERDICT.get(status, status),
                     _seconds(r.get("duration"))))
        statuses.append(status)
    widths = [min(max(len(row[i]) for row in rows), 60) for i in range(4)]
    lines = []
    for n, (row, status) in enumerate(zip(rows, statuses)):
        cells = [row[i][:widths[i]].ljust(widths[i]) for i in range(4)]
        if color and status in _COLOR:
            cells[2] = f"{_COLOR[status]}{cells[2]}{_RESET}"
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
