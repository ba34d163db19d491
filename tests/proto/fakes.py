"""A fake clock and a fake network for driving :class:`SipCore` instances without sockets.

``FakeNetwork`` moves datagrams between cores attached at addresses, records every one with
its timestamp, and can drop chosen datagrams (by predicate) or a share of them (seeded RNG).
Time only moves when :meth:`FakeNetwork.run` jumps to the next core deadline, so timer tests
are exact and instant.

Each :class:`Endpoint` keeps the events its core produced (with the time) and may have a
``handler(endpoint, event, now)`` playing the application (TU): it can send from inside.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from sipclient.proto.core import CoreConfig, SipCore
from sipclient.proto.message import parse_message

Addr = tuple[str, int]


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class Record:
    """One datagram seen on the link."""

    t: float
    src: Addr
    dst: Addr
    data: bytes
    dropped: bool = False

    @property
    def message(self):
        return parse_message(self.data)

    @property
    def label(self) -> str:
        """``"INVITE"`` for a request, ``"401"`` for a response."""
        first = self.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        if first.startswith("SIP/"):
            return first.split(" ")[1]
        return first.split(" ")[0]


@dataclass
class Endpoint:
    core: SipCore
    addr: Addr
    handler: Callable[["Endpoint", object, float], None] | None = None
    events: list[tuple[float, object]] = field(default_factory=list)
    net: "FakeNetwork | None" = None

    def of_type(self, cls) -> list:
        return [e for _, e in self.events if isinstance(e, cls)]

    @property
    def now(self) -> float:
        assert self.net is not None
        return self.net.clock.now


class FakeNetwork:
    def __init__(self, clock: FakeClock | None = None, *, loss: float = 0.0, seed: int = 0,
                 transport: str = "udp") -> None:
        self.clock = clock or FakeClock()
        self.loss = loss
        self.rng = random.Random(seed)
        self.transport = transport
        self.endpoints: dict[Addr, Endpoint] = {}
        self.records: list[Record] = []
        self._drops: list[list] = []  # [predicate, remaining]

    def add(self, addr: Addr, handler=None, *, seed: int = 1, **config) -> Endpoint:
        core = SipCore(CoreConfig(host=addr[0], port=addr[1], rng=random.Random(seed),
                                  **config))
        ep = Endpoint(core, addr, handler, net=self)
        self.endpoints[addr] = ep
        return ep

    def drop(self, predicate: Callable[[Record], bool], times: int = 1) -> None:
        """Drop the next ``times`` datagrams matching ``predicate`` (a Record)."""
        self._drops.append([predicate, times])

    def drop_label(self, label: str, times: int = 1) -> None:
        self.drop(lambda r: r.label == label, times)

    # -- moving things

    def _should_drop(self, rec: Record) -> bool:
        for rule in self._drops:
            if rule[1] > 0 and rule[0](rec):
                rule[1] -= 1
                return True
        return self.loss > 0 and self.rng.random() < self.loss

    def pump(self) -> None:
        """Deliver datagrams and events until everything is quiet (no time passes)."""
        now = self.clock.now
        busy = True
        while busy:
            busy = False
            for ep in list(self.endpoints.values()):
                while (event := ep.core.next_event()) is not None:
                    busy = True
                    ep.events.append((now, event))
                    if ep.handler is not None:
                        ep.handler(ep, event, now)
                for data, dst in ep.core.datagrams_to_send(now):
                    busy = True
                    rec = Record(now, ep.addr, dst, data)
                    rec.dropped = self._should_drop(rec)
                    self.records.append(rec)
                    target = self.endpoints.get(dst)
                    if not rec.dropped and target is not None:
                        target.core.receive_datagram(data, ep.addr, now, self.transport)

    def next_deadline(self) -> float | None:
        timers = [t for ep in self.endpoints.values() if (t := ep.core.get_timer()) is not None]
        return min(timers, default=None)

    def run(self, until: float = float("inf")) -> None:
        """Pump, then jump from deadline to deadline up to ``until`` (inclusive)."""
        self.pump()
        while True:
            t = self.next_deadline()
            if t is None or t > until:
                break
            self.clock.now = max(self.clock.now, t)
            for ep in self.endpoints.values():
                deadline = ep.core.get_timer()
                if deadline is not None and deadline <= self.clock.now:
                    ep.core.handle_timer(self.clock.now)
            self.pump()
        if until != float("inf"):
            self.clock.now = max(self.clock.now, until)

    # -- looking at what happened

    def flow(self, *, dropped: bool = True) -> list[str]:
        return [r.label for r in self.records if dropped or not r.dropped]

    def times(self, label: str) -> list[float]:
        return [r.t for r in self.records if r.label == label]


# -- building requests the way an application would

UAC_ADDR: Addr = ("10.0.0.1", 5060)
UAS_ADDR: Addr = ("10.0.0.2", 5060)


def make_request(method: str, uri: str = "sip:bob@10.0.0.2", *, call_id: str = "call-1",
                 from_tag: str = "uac-tag", cseq: int = 1, to: str = "<sip:bob@10.0.0.2>",
                 contact: str | None = "<sip:alice@10.0.0.1:5060>", headers=(),
                 body: bytes = b""):
    """A request outside a dialog, without Via (the core adds it)."""
    from sipclient.proto.message import Request

    h = [("From", f"<sip:alice@10.0.0.1>;tag={from_tag}"), ("To", to), ("Call-ID", call_id),
         ("CSeq", f"{cseq} {method}")]
    if contact:
        h.append(("Contact", contact))
    h += list(headers)
    return Request(method, uri, headers=h, body=body)
