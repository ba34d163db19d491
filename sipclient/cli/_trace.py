"""``--trace``: print every SIP message in full, as sent or received.

Each message gets one header line (direction, time, transport, addresses, size) and then the
message exactly as it went over the wire, so a trace can be read like sngrep or ``ngrep``::

    --> 12:00:01.234 UDP 127.0.0.1:40001 -> 127.0.0.1:7048 (412 bytes)
    REGISTER sip:127.0.0.1:7048 SIP/2.0
    Via: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bK...;rport
    ...

Colour (``--color auto|always|never``) is used only when the stream is a terminal (``auto``)
and ``NO_COLOR`` is unset. Nothing here can print a password: the agent's trace holds wire
bytes, where the digest response is a hash.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Iterable, TextIO

__all__ = ["TracePrinter", "use_color"]

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_COLORS = {"out": "\x1b[36m", "in": "\x1b[35m", "1": "\x1b[33m", "2": "\x1b[32m",
           "3": "\x1b[34m", "4": "\x1b[31m", "5": "\x1b[31m", "6": "\x1b[31m"}


def use_color(mode: str, stream: TextIO, no_color: str | None = None) -> bool:
    """``always``/``never`` as said; ``auto``: a terminal and no ``NO_COLOR`` variable."""
    if mode == "always":
        return True
    if mode == "never" or no_color:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def _hostport(addr: Any) -> str:
    if not addr:
        return "?"
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _clock(t: float) -> str:
    """Wall-clock time for epoch stamps, else seconds as given (a monotonic clock)."""
    if t > 1e9:
        return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
    return f"{t:.3f}"


class TracePrinter:
    """Prints trace entries (``sipclient.agent.TraceEntry``) not printed yet, in order."""

    def __init__(self, stream: TextIO, color: bool = False, clock_offset: float = 0.0) -> None:
        self.stream = stream
        self.color = color
        self.printed = 0
        #: added to an entry's time (the event loop's clock) to give wall-clock time
        self.clock_offset = clock_offset

    def print_new(self, entries: Iterable[Any]) -> None:
        if not isinstance(entries, Sequence):  # a Trace slices by absolute position
            entries = list(entries)
        for entry in entries[self.printed:]:
            self.stream.write(self.format(entry))
        self.printed = max(self.printed, len(entries))
        try:
            self.stream.flush()
        except (ValueError, OSError):
            pass

    def paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and code else text

    def format(self, entry: Any) -> str:
        out = entry.direction == "out"
        arrow = "-->" if out else "<--"
        src, dst = (entry.local, entry.remote) if out else (entry.remote, entry.local)
        data = bytes(entry.data)
        head = (f"{arrow} {_clock(entry.time + self.clock_offset)} {str(entry.transport).upper()} "
                f"{_hostport(src)} -> {_hostport(dst)} ({len(data)} bytes)")
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        first, sep, rest = text.partition("\n")
        color = _COLORS.get("out" if out else "in", "")
        if first.startswith("SIP/2.0 "):
            color_line = _COLORS.get(first[8:9], "")
        else:
            color_line = ""
        lines = [self.paint(color, head), self.paint(_BOLD + color_line, first)]
        if sep and rest.strip("\n"):
            lines.append(rest.rstrip("\n"))
        return "\n".join(lines) + "\n\n"
