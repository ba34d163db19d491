"""The REGISTER traffic of a capture, as registrations and attempts (issue 17).

A *registration* is everything one address of record (the To URI of REGISTER, without
parameters) did in the capture, across Call-ID changes; a Call-ID that registered several
AORs (a phone re-provisioned with another account) appears under each. Each REGISTER
transaction (RFC 3261 17.1.3: Call-ID, CSeq, top Via branch) is one :class:`Attempt`: the
request with its retransmissions, the responses, and what was asked (Expires, Contact,
credentials) and granted. :func:`registrations` is pure: it reads parsed messages only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterable

from sipclient.proto.digest import Challenge, Credentials, parse_challenge, parse_credentials
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

if TYPE_CHECKING:
    from sipclient.pcap.read import SipPacket

__all__ = ["Attempt", "Registration", "is_private", "registrations"]

Address = tuple[str, int]


def _get(fn, default=None):
    try:
        return fn()
    except (ParseError, AttributeError, IndexError, ValueError, TypeError):
        return default


def is_private(host: str) -> bool:
    """RFC 1918, RFC 6598 (carrier-grade NAT), link-local and unique-local addresses: what
    a server on the internet cannot send to."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return False
    return ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10")


@dataclass
class Attempt:
    """One REGISTER transaction (its views are computed once, after it is complete)."""

    requests: list[SipPacket] = field(default_factory=list)   # the request, then resends
    responses: list[SipPacket] = field(default_factory=list)

    @property
    def request(self) -> SipPacket:
        return self.requests[0]

    @property
    def msg(self) -> Request:
        return self.request.message  # type: ignore[return-value]

    @property
    def frame(self) -> int:
        return self.request.frame

    @property
    def time(self) -> float:
        return self.request.time

    @cached_property
    def call_id(self) -> str:
        return _get(lambda: self.msg.call_id, "")

    @cached_property
    def final(self) -> SipPacket | None:
        return next((p for p in self.responses if p.message.status >= 200), None)

    @property
    def status(self) -> int | None:
        final = self.final
        return final.message.status if final else None

    @property
    def reason(self) -> str:
        final = self.final
        return final.message.reason if final else ""

    @cached_property
    def from_user(self) -> str | None:
        return _get(lambda: self.msg.from_.uri.user)

    @cached_property
    def to_user(self) -> str | None:
        return _get(lambda: self.msg.to.uri.user)

    @cached_property
    def user_agent(self) -> str | None:
        return _get(lambda: self.msg.user_agent)

    @cached_property
    def contacts(self) -> list:
        return _get(lambda: self.msg.contact, []) or []

    @cached_property
    def requested_expires(self) -> int | None:
        """Contact ``expires`` of the first Contact, else the Expires header; 0 for
        ``Contact: *`` with Expires 0."""
        contacts = self.contacts
        if contacts and not contacts[0].is_star:
            value = _get(lambda: contacts[0].expires)
            if value is not None:
                return value
        return _get(lambda: self.msg.expires)

    @property
    def is_removal(self) -> bool:
        return self.requested_expires == 0

    @cached_property
    def granted_expires(self) -> int | None:
        """What a 2xx granted: the ``expires`` of its Contact matching ours (else of its first
        Contact), else its Expires header."""
        final = self.final
        if final is None or not 200 <= final.message.status < 300:
            return None
        mine = {str(_get(lambda c=c: c.uri)) for c in self.contacts}
        got = _get(lambda: final.message.contact, []) or []
        for contact in sorted(got, key=lambda c: str(_get(lambda: c.uri)) not in mine):
            value = _get(lambda c=contact: c.expires)
            if value is not None:
                return value
        return _get(lambda: final.message.expires)

    @cached_property
    def credentials(self) -> tuple[str, Credentials | None, str] | None:
        """(header, parsed credentials or None when malformed, raw value) or None."""
        for header in ("Authorization", "Proxy-Authorization"):
            for value in self.msg.headers.get_lines(header):
                try:
                    return header, parse_credentials(value, header=header), value
                except ParseError:
                    return header, None, value
        return None

    @cached_property
    def challenges(self) -> list[Challenge]:
        """The digest challenges of the final 401/407."""
        final = self.final
        if final is None or final.message.status not in (401, 407):
            return []
        header = "WWW-Authenticate" if final.message.status == 401 else "Proxy-Authenticate"
        out = []
        for value in final.message.headers.get_lines(header):
            ch = _get(lambda v=value: parse_challenge(v, header=header))
            if ch is not None and ch.is_digest:
                out.append(ch)
        return out

    @cached_property
    def source(self) -> Address:
        """Where the registrar saw the request come from: the packet's source, or the
        ``received``/``rport`` the registrar wrote in its response's Via."""
        host, port = self.request.src
        for p in self.responses:
            via = _get(lambda m=p.message: m.top_via)
            if via is None:
                continue
            received = _get(lambda v=via: v.received)
            rport = _get(lambda v=via: v.rport)
            if received:
                host = received
            if isinstance(rport, int) and not isinstance(rport, bool):
                port = rport
            break
        return host, port


@dataclass
class Registration:
    """Everything one AOR did in the capture."""

    aor: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def call_ids(self) -> list[str]:
        return list(dict.fromkeys(a.call_id for a in self.attempts))

    @property
    def from_users(self) -> list[str]:
        return list(dict.fromkeys(u for a in self.attempts if (u := a.from_user)))

    @property
    def user_agents(self) -> list[str]:
        return list(dict.fromkeys(u for a in self.attempts if (u := a.user_agent)))

    @property
    def transports(self) -> list[str]:
        return list(dict.fromkeys(a.request.transport for a in self.attempts))

    @property
    def frames(self) -> tuple[int, int]:
        frames = [p.frame for a in self.attempts for p in a.requests + a.responses]
        return min(frames), max(frames)

    @property
    def state(self) -> str:
        """``registered``, ``unregistered`` (the last accepted REGISTER removed the
        binding), ``not registered`` or ``unknown`` (no final answer at all)."""
        last_ok = next((a for a in reversed(self.attempts)
                        if a.status is not None and 200 <= a.status < 300), None)
        if last_ok is not None:
            return "unregistered" if last_ok.is_removal else "registered"
        if any(a.status is not None for a in self.attempts):
            return "not registered"
        return "unknown"


def _aor(msg: Request) -> str | None:
    uri = _get(lambda: msg.to.uri)
    if uri is None:
        return None
    user = getattr(uri, "user", None)
    host = getattr(uri, "host", None)
    if host is None:
        return str(uri)
    return f"{uri.scheme}:{user + '@' if user else ''}{host.lower()}"


def _tkey(msg: Any) -> tuple | None:
    """RFC 3261 17.1.3: Call-ID, CSeq and top Via branch (a Via that cannot be read: no
    branch, the request and its responses still pair by CSeq)."""
    key = _get(lambda: (msg.call_id, msg.cseq.seq))
    return None if key is None else (*key, _get(lambda: msg.top_via.branch))


def registrations(packets: Iterable[SipPacket]) -> list[Registration]:
    """The REGISTER traffic of ``packets`` per AOR, in order of first appearance."""
    by_key: dict[tuple, Attempt] = {}
    by_aor: dict[str, Registration] = {}
    for p in packets:
        m = p.message
        if _get(lambda m=m: m.cseq.method) != "REGISTER":
            continue
        key = _tkey(m)
        if key is None:
            continue
        if isinstance(m, Request):
            attempt = by_key.get(key)
            if attempt is not None:
                attempt.requests.append(p)
                continue
            aor = _aor(m)
            if aor is None:
                continue
            attempt = by_key[key] = Attempt([p])
            by_aor.setdefault(aor, Registration(aor)).attempts.append(attempt)
        elif isinstance(m, Response):
            attempt = by_key.get(key)
            if attempt is not None:
                attempt.responses.append(p)
    return list(by_aor.values())
