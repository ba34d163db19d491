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

``verbose`` (``-v``): a line per step as it ends, indented under its scenario (with workers,
prefixed with the scenario's number and the worker), a failed step's message below it; the
scenario's line then comes whole when it ends::

    [1/3] call the echo test over UDP and hear our own tone ...
        step 1    register alice             PASS  0.12 s
        step 2    call c1                    PASS  3.90 s
    [1/3] call the echo test over UDP and hear our own tone ... PASS 4.1 s

``live`` (a terminal, without ``-v``): one status line - the running scenario and how many
of its steps are done - rewritten in place (``\r``) as steps end and cleared before the
scenario's own line. Never on anything but a terminal: logs stay as they were.
"""

from __future__ import annotations

import shutil
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
                 errors: TextIO | None = None, verbose: bool = False,
                 live: bool = False) -> None:
        self.out, self.err = stream, errors or stream
        self.total, self.color = total, color
        self.verbose = verbose
        self.live = live and not verbose  # the status line: a terminal, without -v
        self._open: int | None = None  # the index whose line waits for its verdict
        self._width = len(str(total))
        # the live status line: what runs (index -> [name, steps done, steps, worker])
        self._running: dict[int, list[Any]] = {}
        self._shown = False  # a status line is on the screen

    def _paint(self, status: str, text: str) -> str:
        return f"{_COLOR.get(status, '')}{text}{_RESET}" if self.color else text

    def _number(self, index: int) -> str:
        return f"[{index + 1:{self._width}}/{self.total}]"

    def _end_open_line(self) -> None:
        self._clear_status()
        if self._open is not None:
            print(file=self.out, flush=True)
            self._open = None

    # -- the live status line (a terminal only)

    def _clear_status(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._shown = False

    def _draw_status(self, index: int) -> None:
        if not self.live or index not in self._running:
            return
        name, done, steps, worker = self._running[index]
        who = f" [w{worker}]" if worker is not None else ""
        others = len(self._running) - 1
        more = f" (+{others} running)" if others > 0 else ""
        text = f"{self._number(index)}{who} {name} ... step {min(done + 1, steps)}/{steps}" \
               f" ({done} done){more}"
        columns = shutil.get_terminal_size((80, 24)).columns
        if len(text) >= columns:  # a wrapped line could not be rewritten in place
            text = text[:max(columns - 4, 1)] + "..."
        self.out.write("\r\x1b[K" + text)
        self.out.flush()
        self._shown = True

    # -- the listener

    def note(self, text: str) -> None:
        self._end_open_line()
        print(text, file=self.err, flush=True)

    def started(self, index: int, scenario: Any, worker: int | None) -> None:
        if self.live:
            self._running[index] = [scenario.name, 0, len(scenario.steps), worker]
            self._draw_status(index)
            return
        if worker is not None:
            return
        self._end_open_line()
        if self.verbose:
            print(f"{self._number(index)} {scenario.name} ...", file=self.out, flush=True)
            return
        print(f"{self._number(index)} {scenario.name} ...", end=" ",
              file=self.out, flush=True)
        self._open = index

    def step(self, index: int, event: Mapping[str, Any], worker: int | None) -> None:
        """A step of scenario ``index`` ended (``event``: runner.step_event)."""
        path = str(event.get("path", ""))
        if self.live:
            running = self._running.get(index)
            if running is not None and "." not in path and "#" not in path:
                running[1] += 1  # a top-level step
            self._draw_status(index)
            return
        if not self.verbose:
            return
        self._end_open_line()
        status = str(event.get("status"))
        verdict = self._paint(status, f"{_VERDICT.get(status, status.upper()):<5}")
        title, kind = str(event.get("title") or ""), str(event.get("kind") or "")
        what = kind if title in ("", kind) else f"{kind}: {title}"
        depth = path.count(".")
        who = "" if worker is None else f"{self._number(index)} [w{worker}] "
        line = f"    {who}{'  ' * depth}step {path:<4} {what:<30} {verdict} " \
               f"{_seconds(event.get('duration'))}"
        print(line.rstrip(), file=self.out, flush=True)
        message = str(event.get("message") or "")
        if message and status not in ("passed", "skipped"):
            for text in message.splitlines():
                print(f"    {'  ' * depth}      {text}", file=self.out, flush=True)

    def finished(self, index: int, result: Mapping[str, Any], worker: int | None) -> None:
        self._running.pop(index, None)
        self._clear_status()
        status = str(result.get("status"))
        verdict = self._paint(status, _VERDICT.get(status, status.upper()))
        tail = f"{verdict} {_seconds(result.get('duration'))}"
        if self._open == index and worker is None:
            print(tail, file=self.out, flush=True)
            self._open = None
            return
        self._end_open_line()
        who = f" [w{worker}]" if worker is not None else ""
        print(f"{self._number(index)}{who} {result.get('name')} ... {tail}",
              file=self.out, flush=True)
        if self._running:  # workers: the others still run
            self._draw_status(next(reversed(self._running)))

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
