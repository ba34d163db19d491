"""RFC 3263 server location against a fake DNS (no query leaves the process)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from sipclient.io.resolve import Naptr, Resolved, ResolveError, Resolver, Srv, order_srv
from sipclient.io.target import parse_target


class FakeDns:
    """Canned records; remembers every query so tests can assert what was (not) asked."""

    def __init__(self, naptr=None, srv=None, addresses=None):
        self.naptr_records = naptr or {}
        self.srv_records = srv or {}
        self.address_records = addresses or {}
        self.queries: list[tuple[str, str]] = []

    async def naptr(self, name):
        self.queries.append(("NAPTR", name))
        return self.naptr_records.get(name, [])

    async def srv(self, name):
        self.queries.append(("SRV", name))
        return self.srv_records.get(name, [])

    async def addresses(self, name):
        self.queries.append(("A/AAAA", name))
        return self.address_records.get(name, [])


EXAMPLE = FakeDns(
    naptr={
        "example.com": [
            Naptr(50, 50, "s", "SIPS+D2T", "", "_sips._tcp.example.com"),
            Naptr(90, 50, "s", "SIP+D2T", "", "_sip._tcp.example.com"),
            Naptr(100, 50, "s", "SIP+D2U", "", "_sip._udp.example.com"),
            Naptr(10, 50, "s", "SIP+D2X", "", "_sip._xyz.example.com"),  # unsupported: skipped
        ]
    },
    srv={
        "_sips._tcp.example.com": [Srv(0, 0, 5061, "tls.example.com")],
        "_sip._tcp.example.com": [Srv(0, 0, 5060, "tcp.example.com")],
        "_sip._udp.example.com": [
            Srv(20, 0, 5060, "backup.example.com"),
            Srv(10, 0, 5070, "udp.example.com"),
        ],
    },
    addresses={
        "tls.example.com": ["192.0.2.1"],
        "tcp.example.com": ["192.0.2.2"],
        "udp.example.com": ["192.0.2.3", "2001:db8::3"],
        "backup.example.com": ["192.0.2.4"],
        "example.com": ["192.0.2.9"],
    },
)


async def resolve(text, dns):
    async with asyncio.timeout(10):
        return await Resolver(dns, rng=random.Random(1)).resolve(parse_target(text))


@pytest.mark.asyncio
async def test_naptr_then_srv_then_addresses_in_order():
    dns = FakeDns(EXAMPLE.naptr_records, EXAMPLE.srv_records, EXAMPLE.address_records)
    assert await resolve("sip:example.com", dns) == [
        ("tls", "192.0.2.1", 5061),
        ("tcp", "192.0.2.2", 5060),
        ("udp", "192.0.2.3", 5070),
        ("udp", "2001:db8::3", 5070),
        ("udp", "192.0.2.4", 5060),
    ]
    assert dns.queries[0] == ("NAPTR", "example.com")
    assert ("SRV", "_sip._xyz.example.com") not in dns.queries


@pytest.mark.asyncio
async def test_sips_keeps_only_secure_services():
    dns = FakeDns(EXAMPLE.naptr_records, EXAMPLE.srv_records, EXAMPLE.address_records)
    assert await resolve("sips:example.com", dns) == [("tls", "192.0.2.1", 5061)]


@pytest.mark.asyncio
async def test_explicit_transport_skips_naptr():
    dns = FakeDns(EXAMPLE.naptr_records, EXAMPLE.srv_records, EXAMPLE.address_records)
    assert await resolve("sip:example.com;transport=tcp", dns) == [("tcp", "192.0.2.2", 5060)]
    assert [q for q in dns.queries if q[0] == "NAPTR"] == []


@pytest.mark.asyncio
async def test_explicit_port_skips_naptr_and_srv():
    dns = FakeDns(EXAMPLE.naptr_records, EXAMPLE.srv_records, EXAMPLE.address_records)
    assert await resolve("example.com:7048", dns) == [("udp", "192.0.2.9", 7048)]
    assert dns.queries == [("A/AAAA", "example.com")]
    assert await resolve("tcp:example.com:7048", dns) == [("tcp", "192.0.2.9", 7048)]


@pytest.mark.asyncio
async def test_no_naptr_falls_back_to_srv_for_each_transport():
    dns = FakeDns(srv={"_sip._tcp.example.net": [Srv(0, 0, 5080, "pbx.example.net")]},
                  addresses={"pbx.example.net": ["198.51.100.7"]})
    assert await resolve("example.net", dns) == [("tcp", "198.51.100.7", 5080)]
    assert [q[1] for q in dns.queries if q[0] == "SRV"] == [
        "_sip._udp.example.net", "_sip._tcp.example.net", "_sips._tcp.example.net"]


@pytest.mark.asyncio
async def test_no_naptr_no_srv_uses_addresses_on_the_default_port():
    dns = FakeDns(addresses={"example.org": ["203.0.113.5"]})
    assert await resolve("example.org", dns) == [("udp", "203.0.113.5", 5060)]
    assert await resolve("sips:example.org", dns) == [("tls", "203.0.113.5", 5061)]
    assert await resolve("tls:example.org", dns) == [("tls", "203.0.113.5", 5061)]


@pytest.mark.asyncio
async def test_srv_dot_target_means_not_available():
    dns = FakeDns(srv={"_sip._udp.example.org": [Srv(0, 0, 0, ".")]},
                  addresses={"example.org": ["203.0.113.5"]})
    assert await resolve("udp:example.org", dns) == [("udp", "203.0.113.5", 5060)]


@pytest.mark.asyncio
async def test_ip_literals_localhost_and_websocket_urls():
    dns = FakeDns(addresses={"pbx.example.com": ["192.0.2.50"]})
    assert await resolve("udp:127.0.0.1:7048", dns) == [Resolved("udp", "127.0.0.1", 7048)]
    assert await resolve("[::1]", dns) == [("udp", "::1", 5060)]
    assert await resolve("sips:127.0.0.1", dns) == [("tls", "127.0.0.1", 5061)]
    assert await resolve("localhost", dns) == [("udp", "127.0.0.1", 5060)]
    assert dns.queries == []
    assert await resolve("wss://pbx.example.com/ws", dns) == [("wss", "192.0.2.50", 443)]
    assert dns.queries == [("A/AAAA", "pbx.example.com")]


@pytest.mark.asyncio
async def test_nothing_found_is_a_resolve_error():
    with pytest.raises(ResolveError, match="nowhere.example"):
        await resolve("nowhere.example", FakeDns())


def test_srv_weights_follow_rfc2782():
    records = [Srv(10, 90, 5060, "heavy"), Srv(10, 10, 5060, "light"), Srv(5, 0, 5060, "first")]
    rng = random.Random(42)
    firsts = Counter()
    for _ in range(2000):
        ordered = order_srv(records, rng)
        assert ordered[0].target == "first"
        firsts[ordered[1].target] += 1
    assert 0.85 < firsts["heavy"] / 2000 < 0.95


@pytest.mark.asyncio
async def test_dnspython_backend_parses_records_without_network(monkeypatch):
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    from sipclient.io.resolve import DnspythonDns

    canned = {
        ("example.com", "NAPTR"): ['10 50 "s" "SIP+D2T" "" _sip._tcp.example.com.'],
        ("_sip._tcp.example.com", "SRV"): ["0 5 5060 pbx.example.com."],
        ("pbx.example.com", "A"): ["192.0.2.10"],
        ("pbx.example.com", "AAAA"): ["2001:db8::10"],
    }

    class FakeResolver:
        async def resolve(self, name, rdtype, search=False):
            import dns.resolver

            texts = canned.get((name, rdtype))
            if texts is None:
                raise dns.resolver.NoAnswer()
            t = dns.rdatatype.from_text(rdtype)
            return [dns.rdata.from_text(dns.rdataclass.IN, t, x) for x in texts]

    backend = DnspythonDns()
    monkeypatch.setattr(backend, "_get", lambda: FakeResolver())
    assert await resolve("example.com", backend) == [
        ("tcp", "192.0.2.10", 5060), ("tcp", "2001:db8::10", 5060)]
