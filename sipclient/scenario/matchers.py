"""``expect``: does one SIP message satisfy the conditions a step wrote? Pure.

:class:`Conditions` is built from an ``expect`` step's (already resolved) arguments:
``method`` or ``status`` (``200``, ``"1xx"``, ``[180, 183]``) select the message; ``call``
(a Call-ID) limits the search to one dialog; ``headers`` (name -> regular expression,
searched in each value of the header) and ``sdp`` (``codecs``: in this order, others may be
between; ``direction``) must then hold. :meth:`Conditions.describe` says it all in words
for a failure report, :meth:`Conditions.problems` what a given message got wrong.

``capture`` (name -> ``{header: X, regex: R}``) takes values out of a matched message: the
header's first value, or the regex's first group (the whole match when it has none).

Regular expressions run on the ``regex`` engine with a time bound (``regex_seconds``,
docs/limits.md): a catastrophic pattern (``(a|aa)+$`` on a long value) fails the step with a
:class:`MatchError` that names it, instead of blocking the event loop past every timeout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from sipclient.media.sdp import STATIC_PAYLOAD_TYPES, parse_sdp
from sipclient.proto.limits import limit
from sipclient.proto.message import Request, Response

__all__ = ["Conditions", "MatchError", "StatusSpec", "capture_values", "sdp_summary"]

Message = Request | Response

_NOT_CODECS = {"TELEPHONE-EVENT", "CN"}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def _static_name(pt: int) -> str:
    """The RFC 3551 name of a static payload type, else the number."""
    static = STATIC_PAYLOAD_TYPES.get(pt)
    return static[0] if static else str(pt)


class MatchError(ValueError):
    """A condition that cannot be used (a bad regex, a bad status): says which."""


@dataclass(frozen=True)
class StatusSpec:
    """``200``, ``"1xx"``, ``[180, 183]``: which statuses are accepted."""

    items: tuple[str, ...]

    @classmethod
    def parse(cls, value: Any, what: str = "status") -> StatusSpec:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        items = []
        for v in values:
            text = str(v).strip().lower()
            if isinstance(v, bool) or not re.fullmatch(r"[1-6](?:xx|[0-9]{2})", text):
                raise MatchError(f"{what}: {v!r} is not a status (100-699) or a class like 4xx")
            items.append(text)
        if not items:
            raise MatchError(f"{what}: an empty list")
        return cls(tuple(items))

    def matches(self, status: int) -> bool:
        s = str(status)
        return any(s == i or (i.endswith("xx") and s[0] == i[0]) for i in self.items)

    def __str__(self) -> str:
        return " or ".join(self.items)


def _label(msg: Message) -> str:
    return str(msg.status) if isinstance(msg, Response) else msg.method


def sdp_summary(body: bytes) -> tuple[list[str], str] | None:
    """The first audio stream's codec names (in order, telephone-event and CN left out)
    and its direction; None when there is no readable SDP with audio."""
    if not body:
        return None
    try:
        sdp = parse_sdp(body, lenient=True)
    except Exception:  # noqa: BLE001 - a broken body is reported as "no SDP"
        return None
    for index, media in enumerate(sdp.media):
        if not media.m_value.startswith("audio"):
            continue
        maps = media.rtpmaps
        names = []
        for pt in media.payload_types:
            name = maps[pt].encoding if pt in maps else _static_name(pt)
            if name.upper() not in _NOT_CODECS:
                names.append(name.upper())
        return names, sdp.media_direction(index)
    return None


def _in_order(wanted: Sequence[str], have: Sequence[str]) -> bool:
    it = iter(have)
    return all(any(w == h for h in it) for w in wanted)


@dataclass(frozen=True)
class Conditions:
    """What one ``expect`` asks of a message (see the module docstring)."""

    direction: str = "in"  # "in" | "out"
    method: str | None = None
    status: StatusSpec | None = None
    call_id: str | None = None
    call_name: str | None = None
    headers: tuple[tuple[str, Any], ...] = ()  # (name, compiled ``regex`` pattern)
    codecs: tuple[str, ...] = ()
    sdp_direction: str | None = None
    sdp_required: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], *, call_id: str | None = None) -> Conditions:
        """From an ``expect`` step's resolved arguments (``call`` already turned into
        ``call_id`` by the caller)."""
        direction = "out" if args.get("out") else "in"
        if args.get("in") is False and not args.get("out"):
            direction = "out"
        method = args.get("method")
        status = StatusSpec.parse(args["status"]) if args.get("status") is not None else None
        if method is not None and status is not None:
            raise MatchError("expect: give method or status, not both")
        headers = []
        for name, pattern in (args.get("headers") or {}).items():
            try:
                headers.append((str(name), regex.compile(str(pattern))))
            except regex.error as exc:
                raise MatchError(f"expect: headers.{name}: bad regular expression "
                                 f"{pattern!r}: {exc}") from None
        sdp = args.get("sdp") or {}
        codecs = sdp.get("codecs") or ()
        if isinstance(codecs, str):
            codecs = [codecs]
        sdp_dir = sdp.get("direction")
        if sdp_dir is not None and sdp_dir not in DIRECTIONS:
            raise MatchError(f"expect: sdp.direction {sdp_dir!r}: one of {', '.join(DIRECTIONS)}")
        return cls(direction=direction, method=str(method).upper() if method else None,
                   status=status, call_id=call_id, call_name=args.get("call"),
                   headers=tuple(headers), codecs=tuple(str(c).upper() for c in codecs),
                   sdp_direction=sdp_dir, sdp_required=bool(sdp))

    # ------------------------------------------------------------------ selection

    def selects(self, msg: Message | None, direction: str) -> bool:
        """Is this the kind of message the step waits for (direction, method/status, dialog)?"""
        if msg is None or direction != self.direction:
            return False
        if self.call_id is not None:
            try:
                if msg.call_id != self.call_id:
                    return False
            except Exception:  # noqa: BLE001 - no Call-ID: not ours
                return False
        if self.method is not None:
            return isinstance(msg, Request) and msg.method.upper() == self.method
        if self.status is not None:
            return isinstance(msg, Response) and self.status.matches(msg.status)
        return True

    def problems(self, msg: Message) -> list[str]:
        """What ``msg`` gets wrong (empty: it satisfies every condition)."""
        out = []
        for name, pattern in self.headers:
            values = msg.headers.get_all(name)
            if not values:
                out.append(f"no {name} header (wanted one matching /{pattern.pattern}/)")
            elif not any(bounded_search(pattern, v, f"header {name}") for v in values):
                shown = " | ".join(values)
                out.append(f"{name}: {shown!r} does not match /{pattern.pattern}/")
        if self.sdp_required:
            summary = sdp_summary(msg.body)
            if summary is None:
                out.append("no SDP with an audio stream in the body")
            else:
                names, direction = summary
                if self.codecs and not _in_order(self.codecs, names):
                    out.append(f"SDP codecs {names} do not include {list(self.codecs)} "
                               "in that order")
                if self.sdp_direction and direction != self.sdp_direction:
                    out.append(f"SDP direction is {direction}, not {self.sdp_direction}")
        return out

    def what(self) -> str:
        """``INVITE request received``, ``200 response sent``, ``message received``."""
        if self.method:
            what = f"{self.method} request"
        elif self.status:
            what = f"{self.status} response"
        else:
            what = "message"
        return f"{what} {'received' if self.direction == 'in' else 'sent'}"

    def describe(self) -> str:
        """The conditions in words: ``a 200 response received, in call c1, with Contact
        matching /x/``."""
        parts = [f"a {self.what()}"]
        if self.call_name or self.call_id:
            parts.append(f"in call {self.call_name or self.call_id}")
        for name, pattern in self.headers:
            parts.append(f"with {name} matching /{pattern.pattern}/")
        if self.codecs:
            parts.append(f"with SDP codecs {', '.join(self.codecs)} (in that order)")
        if self.sdp_direction:
            parts.append(f"with SDP direction {self.sdp_direction}")
        elif self.sdp_required and not self.codecs:
            parts.append("with SDP")
        return ", ".join(parts)


def capture_values(msg: Message, spec: Mapping[str, Any]) -> dict[str, str]:
    """``{name: {header: H, regex: R}}`` -> ``{name: value}``. Raises :class:`MatchError`
    (naming the capture) when the header is missing or the regex does not match."""
    out: dict[str, str] = {}
    for name, how in spec.items():
        if isinstance(how, str):
            how = {"header": how}
        header = how.get("header")
        if header:
            value = msg.headers.get(str(header))
            if value is None:
                raise MatchError(f"capture {name}: the message has no {header} header")
            source = f"the {header} header"
        elif how.get("body"):
            value = msg.body.decode("utf-8", "replace")
            source = "the body"
        elif how.get("start_line"):
            value = msg.start_line
            source = "the start line"
        else:
            raise MatchError(f"capture {name}: say where from (header: NAME, body: true or "
                             "start_line: true)")
        pattern = how.get("regex")
        if pattern is not None:
            try:
                compiled = regex.compile(str(pattern))
            except regex.error as exc:
                raise MatchError(f"capture {name}: bad regular expression {pattern!r}: "
                                 f"{exc}") from None
            found = bounded_search(compiled, value, f"capture {name}")
            if found is None:
                raise MatchError(f"capture {name}: {source} {value!r} does not match "
                                 f"/{pattern}/")
            value = found.group(1) if found.re.groups else found.group(0)
        out[str(name)] = value
    return out


def bounded_search(pattern: Any, text: str, what: str) -> Any:
    """``pattern.search(text)`` within the ``regex_seconds`` limit; MatchError past it."""
    seconds = limit("regex_seconds")
    try:
        return pattern.search(text, timeout=seconds)
    except TimeoutError:
        raise MatchError(f"{what}: the regular expression /{pattern.pattern}/ took more than "
                         f"{seconds:g} s on a {len(text)}-character value (it backtracks "
                         f"catastrophically; SIPCLIENT_LIMIT_REGEX_SECONDS sets the limit)") \
            from None
