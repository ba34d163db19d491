"""Locating a SIP server: RFC 3263 (NAPTR -> SRV -> A/AAAA), with an injectable DNS.

    resolver = Resolver()                                  # dnspython's async resolver
    for hop in await resolver.resolve(parse_target("sip:example.com")):
        hop.transport, hop.ip, hop.port                    # in the order to try them

Rules (RFC 3263 sec. 4.1 transport, 4.2 port and address; RFC 7118 sec. 7 for WebSocket):

* An IP literal, or ``localhost``, needs no DNS: the target's transport and port (explicit or
  default) are used as they are.
* A WebSocket URL (``ws://``, ``wss://``) names its host and port: A/AAAA only.
* A domain with an explicit port: no NAPTR, no SRV; A/AAAA on that port, transport as given
  (or UDP for ``sip:``, TLS for ``sips:``, sec. 4.1).
* A domain with an explicit transport but no port: SRV for that transport
  (``_sip._udp``, ``_sip._tcp``, ``_sips._tcp``, ``_sip._ws``, ``_sips._ws``), falling back to
  A/AAAA on the default port.
* A domain with neither: NAPTR, keeping the services we support (``SIP+D2U``, ``SIP+D2T``,
  ``SIPS+D2T``, ``SIP+D2W``, ``SIPS+D2W``; only ``SIPS+`` ones for a ``sips:`` target), sorted by
  order then preference, each followed through SRV. No usable NAPTR: SRV for each supported
  transport (``_sips._tcp`` only for ``sips:``). No SRV either: A/AAAA on the default port
  with UDP (TLS for ``sips:``).

SRV records are ordered by priority, and within one priority by the weighted random
selection of RFC 2782 (seeded RNG injectable for reproducible tests). A target of ``.``
means "service not available here" and is skipped.

The DNS is any object with the :class:`Dns` methods; :class:`DnspythonDns` is the real one,
tests pass a fake returning canned records so no query ever leaves the process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from sipclient.io.target import DEFAULT_PORTS, Target
from sipclient.io.transport import is_ip_literal

__all__ = [
    "Dns",
    "DnspythonDns",
    "Naptr",
    "ResolveError",
    "Resolved",
    "Resolver",
    "Srv",
    "NAPTR_SERVICES",
    "SRV_PREFIX",
]


class ResolveError(LookupError):
    """No address could be found for a target."""


class Resolved(NamedTuple):
    """One place to try: ``(transport, ip, port)``."""

    transport: str
    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class Naptr:
    """A NAPTR record (RFC 3403) as RFC 3263 uses it."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


@dataclass(frozen=True, slots=True)
class Srv:
    """An SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


class Dns(Protocol):
    """What the resolver needs from DNS; every method returns [] when the name has no data."""

    async def naptr(self, name: str) -> list[Naptr]: ...

    async def srv(self, name: str) -> list[Srv]: ...

    async def addresses(self, name: str) -> list[str]: ...


#: NAPTR service field -> our transport (RFC 3263 sec. 4.1, RFC 7118 sec. 7).
NAPTR_SERVICES: dict[str, str] = {
    "SIP+D2U": "udp",
    "SIP+D2T": "tcp",
    "SIPS+D2T": "tls",
    "SIP+D2W": "ws",
    "SIPS+D2W": "wss",
}

#: Transport -> SRV owner-name prefix (RFC 3263 sec. 4.1; ``_ws`` by analogy for RFC 7118).
SRV_PREFIX: dict[str, str] = {
    "udp": "_sip._udp.",
    "tcp": "_sip._tcp.",
    "tls": "_sips._tcp.",
    "ws": "_sip._ws.",
    "wss": "_sips._ws.",
}

#: Transports tried, in this order, when a domain has no NAPTR (sec. 4.1).
SRV_FALLBACK_ORDER = ("udp", "tcp", "tls")


class DnspythonDns:
    """:class:`Dns` on top of ``dns.asyncresolver`` (the system's resolv.conf by default)."""

    def __init__(self, nameservers: list[str] | None = None, lifetime: float = 5.0,
                 port: int = 53) -> None:
        self._nameservers = nameservers
        self._lifetime = lifetime
        self._port = port
        self._resolver = None

    def _get(self):  # created lazily: reading resolv.conf is not free
        if self._resolver is None:
            import dns.asyncresolver

            r = dns.asyncresolver.Resolver(configure=self._nameservers is None)
            if self._nameservers is not None:
                r.nameservers = list(self._nameservers)
                r.port = self._port
            r.lifetime = self._lifetime
            self._resolver = r
        return self._resolver

    async def _query(self, name: str, rdtype: str) -> list:
        import dns.exception
        import dns.resolver

        try:
            answer = await self._get().resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout as exc:
            raise ResolveError(f"DNS {rdtype} query for {name} timed out") from exc
        return list(answer)

    async def naptr(self, name: str) -> list[Naptr]:
        return [
            Naptr(r.order, r.preference, r.flags.decode(), r.service.decode(),
                  r.regexp.decode(), r.replacement.to_text(omit_final_dot=True))
            for r in await self._query(name, "NAPTR")
        ]

    async def srv(self, name: str) -> list[Srv]:
        return [
            Srv(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True) or ".")
            for r in await self._query(name, "SRV")
        ]

    async def addresses(self, name: str) -> list[str]:
        out = [r.address for r in await self._query(name, "A")]
        out += [r.address for r in await self._query(name, "AAAA")]
        return out


def order_srv(records: list[Srv], rng: random.Random) -> list[Srv]:
    """RFC 2782 order: ascending priority; weighted random choice within a priority."""
    out: list[Srv] = []
    for prio in sorted({r.priority for r in records}):
        # zero-weight records first, so they get a (small) chance, as RFC 2782 says
        group = sorted((r for r in records if r.priority == prio), key=lambda r: r.weight != 0)
        while group:
            total = sum(r.weight for r in group)
            pick = rng.uniform(0, total) if total else 0
            running = 0
            for i, r in enumerate(group):
                running += r.weight
                if running >= pick:
                    out.append(group.pop(i))
                    break
            else:  # pragma: no cover - float edge
                out.append(group.pop())
    return out


class Resolver:
    """RFC 3263 server location; see the module docstring."""

    def __init__(self, dns: Dns | None = None, *, rng: random.Random | None = None) -> None:
        self.dns: Dns = dns if dns is not None else DnspythonDns()
        self.rng = rng or random.Random()

    async def resolve(self, target: Target) -> list[Resolved]:
        """The ordered list of (transport, ip, port) to try; raises ResolveError if none."""
        host = target.host
        if is_ip_literal(host):
            return [Resolved(target.transport, host, target.port)]
        if host.lower() in ("localhost", "localhost."):
            return [Resolved(target.transport, "127.0.0.1", target.port)]

        sips = target.scheme == "sips"
        if target.transport in ("ws", "wss") and target.scheme in ("ws", "wss"):
            hops = await self._addresses(target.transport, host, target.port)
        elif target.port_explicit:
            hops = await self._addresses(target.transport, host, target.port)
        elif target.transport_explicit:
            hops = await self._srv(target.transport, host)
            if not hops:
                hops = await self._addresses(target.transport, host, target.port)
        else:
            hops = await self._naptr(host, sips)
            if not hops:
                for transport in ("tls",) if sips else SRV_FALLBACK_ORDER:
                    hops += await self._srv(transport, host)
            if not hops:
                hops = await self._addresses(target.transport, host, target.port)
        if not hops:
            raise ResolveError(f"no address found for {host} ({target})")
        return _dedup(hops)

    async def _naptr(self, domain: str, sips: bool) -> list[Resolved]:
        records = [
            r for r in await self.dns.naptr(domain)
            if r.service.upper() in NAPTR_SERVICES
            and (not sips or r.service.upper().startswith("SIPS+"))
            and r.flags.upper() in ("S", "")
        ]
        records.sort(key=lambda r: (r.order, r.preference))
        hops: list[Resolved] = []
        for r in records:
            transport = NAPTR_SERVICES[r.service.upper()]
            hops += await self._srv_name(transport, r.replacement)
        return hops

    async def _srv(self, transport: str, domain: str) -> list[Resolved]:
        return await self._srv_name(transport, SRV_PREFIX[transport] + domain)

    async def _srv_name(self, transport: str, name: str) -> list[Resolved]:
        hops: list[Resolved] = []
        for rec in order_srv(await self.dns.srv(name), self.rng):
            if rec.target in (".", ""):
                continue
            hops += await self._addresses(transport, rec.target, rec.port)
        return hops

    async def _addresses(self, transport: str, host: str, port: int | None) -> list[Resolved]:
        port = port if port is not None else DEFAULT_PORTS[transport]
        if is_ip_literal(host):
            return [Resolved(transport, host, port)]
        return [Resolved(transport, ip, port) for ip in await self.dns.addresses(host)]


def _dedup(hops: list[Resolved]) -> list[Resolved]:
    seen: set[Resolved] = set()
    out = []
    for h in hops:
        if h not in seen:
            seen.add(h)
            out.append(h)
    return out


async def resolve(target: Target, dns: Dns | None = None) -> list[Resolved]:
    """Shortcut: ``await resolve(parse_target("sip:example.com"))``."""
    return await Resolver(dns).resolve(target)
