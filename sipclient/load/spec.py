"""What a load run is asked to do, as plain values (no I/O, no clock).

``LoadSpec`` is what ``sipclient load`` parses from its options and what each worker process
receives (as JSON); the parse helpers turn the user's spellings into numbers and raise
``ValueError`` with a message that names the option:

* shares: ``0.1%`` or ``0.001`` (``--max-failed``, ``--max-loss``);
* durations: ``200ms``, ``1.5s``, ``2`` (seconds) (``--max-setup-p99``);
* number ranges: ``1001-1020`` or ``1001,1005,1010-1012`` (``--users``);
* address ranges: ``127.0.0.1-127.0.0.4`` or ``10.0.0.5,10.0.0.6`` (``--local-address``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["LoadSpec", "Thresholds", "MEDIA_LEVELS", "MAX_RANGE", "parse_share",
           "parse_duration_ms", "parse_number_range", "parse_address_range",
           "request_uri_for", "ENGINES"]

MEDIA_LEVELS = ("none", "packets", "full")
#: ``--engine``: auto = lean for UDP calls at --media none, core otherwise
ENGINES = ("auto", "lean", "core")
#: the longest --users or --local-address range accepted (an explicit limit, not a guess)
MAX_RANGE = 1_000_000


@dataclass(frozen=True)
class Thresholds:
    """Exit-code thresholds: a share of failed instances, a setup p99 in ms, a media loss."""

    max_failed: float | None = None
    max_setup_p99_ms: float | None = None
    max_loss: float | None = None


@dataclass(frozen=True)
class LoadSpec:
    """One load run (all processes together; :meth:`share` cuts it per process)."""

    kind: str                       # "call" | "register" | "run"
    target: str                     # where to send (any sipclient target form)
    number: str | None = None       # call: the number or URI dialled
    scenario: str | None = None     # run: the .sip.yaml file
    rate: float | None = 10.0       # new instances per second (None: as fast as allowed)
    ramp: float = 0.0               # seconds to reach --rate linearly
    concurrency: int = 1000         # cap on instances in flight
    calls: int | None = None        # stop after N instances (None: --duration or Ctrl-C)
    duration: float | None = None   # stop starting instances after S seconds
    hold: float = 0.0               # seconds between 200/ACK and BYE
    media: str = "none"
    user: str | None = None         # call: From user / digest user
    password: str | None = None     # never printed (see to_json)
    users: tuple[str, ...] = ()     # register/run: the account range
    expires: int = 3600             # register: Expires asked for
    refresh: bool = False           # register: keep refreshing until the end
    local_addresses: tuple[str, ...] = ()
    timeout: float = 32.0           # an instance that takes longer fails with "timeout"
    start_epoch: float = 0.0        # wall-clock start shared by the processes (per-second rows)
    process_index: int = 0
    processes: int = 1
    variables: dict[str, str] = field(default_factory=dict)
    engine: str = "auto"            # call: "lean" | "core" | "auto" (see ENGINES)

    def share(self, index: int, count: int) -> "LoadSpec":
        """This spec cut for process ``index`` of ``count``: rate, concurrency and calls
        split as evenly as whole numbers allow, its own local address when a range was
        given, and every ``count``-th user of the range."""
        def part(total: int) -> int:
            return total // count + (1 if index < total % count else 0)

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(
            rate=None if self.rate is None else self.rate / count,
            concurrency=max(1, part(self.concurrency)),
            calls=None if self.calls is None else part(self.calls),
            users=self.users[index::count] if self.kind in ("register", "run") else self.users,
            local_addresses=(self.local_addresses[index % len(self.local_addresses)],)
            if self.local_addresses else (),
            process_index=index, processes=count)
        return LoadSpec(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LoadSpec":
        data = dict(data)
        for name in ("users", "local_addresses"):
            data[name] = tuple(data.get(name) or ())
        return cls(**data)


def parse_share(text: str, option: str) -> float:
    """``0.1%`` -> 0.001, ``0.02`` -> 0.02; 0..1 only."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a share such as 0.1% or 0.001") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{option} {text!r}: a share is between 0% and 100%")
    return value


def parse_duration_ms(text: str, option: str) -> float:
    """``200ms`` -> 200.0, ``1.5s`` -> 1500.0, ``2`` -> 2000.0 (seconds without a unit)."""
    raw = text.strip().lower()
    scale = 1000.0
    if raw.endswith("ms"):
        raw, scale = raw[:-2], 1.0
    elif raw.endswith("s"):
        raw = raw[:-1]
    try:
        value = float(raw) * scale
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a duration such as 200ms or 1.5s") \
            from None
    if value < 0:
        raise ValueError(f"{option} {text!r}: a duration cannot be negative")
    return value


def parse_number_range(text: str, option: str) -> tuple[str, ...]:
    """``1001-1020`` or ``1001,1005,1010-1012`` -> the user names, in order, keeping the
    width of the first number (``0001-0003`` -> 0001, 0002, 0003)."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"{option} {text!r}: {part!r} is not N or N-M (digits)")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"{option} {text!r}: {part!r} ends before it starts")
        if len(out) + last - first + 1 > MAX_RANGE:
            raise ValueError(f"{option} {text!r}: more than {MAX_RANGE} names")
        out.extend(str(n).zfill(len(lo)) for n in range(first, last + 1))
    if not out:
        raise ValueError(f"{option} {text!r}: no names in the range")
    return tuple(out)


def parse_address_range(text: str, option: str = "--local-address") -> tuple[str, ...]:
    """``127.0.0.1-127.0.0.4`` or ``127.0.0.1-4`` or a comma list -> IP addresses."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first = ipaddress.ip_address(lo)
            if not sep:
                out.append(str(first))
                continue
            if hi.isdigit() and first.version == 4:
                hi = lo.rsplit(".", 1)[0] + "." + hi
            last = ipaddress.ip_address(hi)
        except ValueError:
            raise ValueError(f"{option} {text!r}: {part!r} is not an IP address or "
                             "a range A-B") from None
        if last.version != first.version or int(last) < int(first):
            raise ValueError(f"{option} {text!r}: {part!r} is not an ascending range")
        if int(last) - int(first) + 1 + len(out) > MAX_RANGE:
            raise ValueError(f"{option} {text!r}: more than {MAX_RANGE} addresses")
        out.extend(str(ipaddress.ip_address(n)) for n in range(int(first), int(last) + 1))
    if not out:
        raise ValueError(f"{option} {text!r}: no addresses")
    return tuple(out)


def request_uri_for(number: str, server: tuple[str, int], domain: str) -> tuple[str, str]:
    """(Request-URI, To URI) for what the user dialled: a SIP URI as given, else
    ``sip:NUMBER@domain:port``."""
    if number.startswith(("sip:", "sips:", "tel:")):
        return number, number
    host = f"[{server[0]}]" if ":" in server[0] else server[0]
    uri = f"sip:{number}@{host}:{server[1]}"
    return uri, f"sip:{number}@{domain}"
