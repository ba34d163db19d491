"""What running a scenario gives: :class:`StepResult` per step, one :class:`ScenarioResult`.

Plain values; :meth:`ScenarioResult.to_dict` turns them into JSON-ready data (``result.json``
in the scenario's report folder) with every string passed through the scenario's redaction
(``Variables.redact``), so a secret never reaches a report. The ladder text is drawn from
the agents' traces by ``sipclient.pcap.ladder`` (:func:`ladder_text`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipclient.agent.trace import TraceEntry
from sipclient.io.atomic import write_atomic
from sipclient.pcap import ladder
from sipclient.proto.message import Request, Response, parse_message

from .model import Location

__all__ = ["ScenarioResult", "StepResult", "STATUSES", "flow_of", "ladder_text", "message_of",
           "trace_dicts"]

STATUSES = ("passed", "failed", "error", "skipped", "interrupted")

Redact = Callable[[str], str]


def _same(text: str) -> str:
    return text


@dataclass
class StepResult:
    """One step's outcome. ``expected``/``received`` explain a failure: the conditions in
    words, and the full text of the message that arrived instead (or what was seen)."""

    path: str
    kind: str
    title: str
    where: Location | None
    status: str = "skipped"
    started: float | None = None  # wall clock (epoch seconds)
    duration: float = 0.0
    message: str = ""
    expected: str | None = None
    received: str | None = None
    source: str | None = None  # the step's YAML lines, numbered

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "kind": self.kind, "title": self.title,
            "file": str(self.where.path) if self.where else None,
            "line": self.where.line if self.where else None,
            "end_line": self.where.end_line if self.where else None,
            "status": self.status, "started": self.started,
            "duration": round(self.duration, 6), "message": self.message,
            "expected": self.expected, "received": self.received, "source": self.source,
        }


@dataclass
class ScenarioResult:
    """The whole run of one scenario (see the module docstring)."""

    name: str
    path: Path | None
    status: str = "passed"
    started: float | None = None
    duration: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    agents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    flows: dict[str, list[str]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    ladder: str = ""
    capture: Path | None = None
    report_dir: Path | None = None
    tags: tuple[str, ...] = ()
    #: a traceback for the developers of sipclient (unexpected errors only), redacted
    debug: str | None = None
    redact: Redact = field(default=_same, repr=False, compare=False)

    @property
    def failing_step(self) -> StepResult | None:
        """The first step that failed, errored or was interrupted (the deepest one)."""
        found = None
        for step in self.steps:
            if step.status in ("failed", "error", "interrupted"):
                if found is None or step.path.startswith((found.path + ".", found.path + "[")):
                    found = step
        return found

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name, "path": str(self.path) if self.path else None,
            "status": self.status, "started": self.started,
            "duration": round(self.duration, 6), "tags": list(self.tags),
            "error": self.error,
            "failing_step": self.failing_step.path if self.failing_step else None,
            "steps": [s.to_dict() for s in self.steps],
            "agents": self.agents, "flows": self.flows, "media": self.media,
            "ladder": self.ladder,
            "capture": str(self.capture) if self.capture else None,
            "report_dir": str(self.report_dir) if self.report_dir else None,
            "debug": self.debug,
        }
        return _plain(data, self.redact)

    def write(self, folder: Path) -> None:
        """``result.json`` and ``ladder.txt`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        write_atomic(folder / "result.json", json.dumps(data, indent=2) + "\n")
        write_atomic(folder / "ladder.txt", data["ladder"] + "\n" if data["ladder"] else "")


def _plain(value: Any, redact: Redact) -> Any:
    """JSON-ready data with every string redacted (tuples become lists, keys strings)."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Mapping):
        return {redact(str(k)): _plain(v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, redact) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, Path):
        return redact(str(value))
    return redact(str(value))


# ---------------------------------------------------------------------- traces and ladders

def _addr(a: tuple[str, int]) -> str:
    host = f"[{a[0]}]" if ":" in a[0] else a[0]
    return f"{host}:{a[1]}"


def _text(entry: TraceEntry) -> str:
    return entry.data.decode("utf-8", "replace")


def message_of(entry: Any) -> Request | Response | None:
    """A trace entry's message; one sent with ``send_raw`` is recorded unparsed, so it is
    parsed here (None when it is not a SIP message at all)."""
    if entry.message is not None:
        return entry.message
    try:
        return parse_message(entry.data)
    except Exception:  # noqa: BLE001 - garbage sent on purpose stays garbage
        return None


def flow_of(trace: Any, call_id: str | None = None) -> list[str]:
    """Like ``Trace.flow`` (methods and statuses), with ``send_raw`` messages included."""
    out = []
    for entry in trace:
        msg = message_of(entry)
        if msg is None:
            continue
        if call_id is not None:
            try:
                if msg.call_id != call_id:
                    continue
            except Exception:  # noqa: BLE001 - no Call-ID: not in the call
                continue
        out.append(str(msg.status) if isinstance(msg, Response) else msg.method)
    return out


def trace_dicts(trace: Iterable[TraceEntry], wall_offset: float) -> list[dict[str, Any]]:
    """An agent's trace as plain dicts: time (wall clock), direction, transport, local,
    remote, summary (one line), text (the whole message)."""
    out = []
    for e in trace:
        msg = message_of(e)
        if msg is not None:
            summary = msg.start_line
        else:
            summary = f"<{len(e.data)} bytes unparsable>"
        out.append({"time": round(e.time + wall_offset, 6), "direction": e.direction,
                    "transport": e.transport, "local": _addr(e.local),
                    "remote": _addr(e.remote), "summary": summary, "text": _text(e)})
    return out


def ladder_text(traces: Mapping[str, Iterable[TraceEntry]], width: int = 100,
                names: Mapping[str, str] | None = None) -> str:
    """The ladder diagram of what the agents saw, each message once, our agents named
    (:func:`sipclient.pcap.ladder.from_trace` and ``render_text``; ``names`` adds others,
    e.g. the PBX's ``"ip:port"``); "" without messages."""
    known: dict[str, str] = {}
    messages = ladder.from_trace(dict(traces), known)
    names = {**(names or {}), **known}
    if not messages:
        return ""
    return ladder.render_text(messages, names, width).rstrip("\n")
