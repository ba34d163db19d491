"""The targets users write, parsed into one :class:`Target`.

Accepted forms (case-insensitive prefixes and parameters)::

    host                               udp, port 5060 (RFC 3263 sec. 4.1: UDP by default)
    host:port  [::1]:7048  ::1         udp
    udp:host[:port]  tcp:host[:port]  tls:host[:port]
    host[:port];transport=tcp          udp | tcp | tls | ws | wss
    sip:[user@]host[:port][;transport=tcp][;other-params][?headers]
    sips:[user@]host[:port]            tls, port 5061 (RFC 3261 sec. 19.1.2, 26.2)
    <sip:6961@host:7048;transport=tcp> (angle brackets, as copied from a header)
    ws://host[:port][/path]            ws,  port 80  (RFC 7118, RFC 6455 sec. 3)
    wss://host[:port][/path]           wss, port 443

Default ports: 5060 for udp/tcp, 5061 for tls, 80 for ws, 443 for wss. ``port_explicit`` and
``transport_explicit`` record what the user actually wrote, which RFC 3263 needs: a
domain name with neither is resolved with NAPTR and SRV, one with a port skips both
(see :mod:`sipclient.io.resolve`).

Anything else raises :class:`TargetError` (a ``ValueError``) whose message says which part
is wrong and which forms are expected.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sipclient.io.transport import format_hostport

__all__ = ["DEFAULT_PORTS", "Target", "TargetError", "parse_target", "EXPECTED_FORMS"]

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "ws": 80, "wss": 443}
SECURE = {"tls", "wss"}

EXPECTED_FORMS = (
    "host[:port], udp:|tcp:|tls:host[:port], host[:port];transport=udp|tcp|tls|ws|wss, "
    "sip:[user@]host[:port][;transport=...], sips:[user@]host[:port], "
    "ws://host[:port]/path or wss://host[:port]/path"
)

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


class TargetError(ValueError):
    """A target string that is not one of the accepted forms."""

    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        self.problem = problem
        super().__init__(f"bad target {text!r}: {problem}; expected {EXPECTED_FORMS}")


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: transport, host (no brackets), port, and what the user wrote.

    ``scheme`` is ``sip``, ``sips``, ``ws`` or ``wss``; ``path`` is the WebSocket resource
    (``None`` for other transports); ``secure`` is true for tls and wss.
    """

    transport: str
    host: str
    port: int
    path: str | None = None
    scheme: str = "sip"
    secure: bool = False
    user: str | None = None
    port_explicit: bool = True
    transport_explicit: bool = True

    @classmethod
    def parse(cls, text: str) -> Target:
        return parse_target(text)

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str | None:
        """The WebSocket URL (ws/wss only)."""
        if self.transport not in ("ws", "wss"):
            return None
        return f"{self.transport}://{format_hostport(self.host, self.port)}{self.path or '/'}"

    def uri(self, user: str | None = None) -> str:
        """A SIP request URI for this target: ``sip:user@host:port;transport=tcp``."""
        user = user if user is not None else self.user
        scheme = "sips" if self.scheme == "sips" else "sip"
        userinfo = f"{user}@" if user else ""
        implied = (scheme == "sip" and self.transport == "udp") or (
            scheme == "sips" and self.transport == "tls"
        )
        params = "" if implied else f";transport={self.transport}"
        return f"{scheme}:{userinfo}{format_hostport(self.host, self.port)}{params}"

    def __str__(self) -> str:
        if self.transport in ("ws", "wss"):
            return self.url or ""
        return f"{self.transport}:{format_hostport(self.host, self.port)}"


def _check_host(text: str, host: str) -> str:
    """The host without brackets, validated (RFC 3261 sec. 25.1 ``host``)."""
    if not host:
        raise TargetError(text, "the host is missing")
    if host.startswith("["):
        if not host.endswith("]"):
            raise TargetError(text, f"unclosed '[' in host {host!r}")
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner.split("%", 1)[0])
        except ValueError:
            raise TargetError(text, f"{inner!r} is not an IPv6 address") from None
        return inner
    try:
        ipaddress.IPv4Address(host)
        return host
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", host):
        raise TargetError(text, f"{host!r} is not a valid IPv4 address")
    if not _HOSTNAME.match(host):
        raise TargetError(text, f"{host!r} is not a valid host name or IP address")
    return host.rstrip(".") or host


def _check_port(text: str, port: str) -> int:
    if not port.isdigit():
        raise TargetError(text, f"port {port!r} is not a number")
    value = int(port)
    if not 1 <= value <= 65535:
        raise TargetError(text, f"port {value} is out of range 1-65535")
    return value


def _split_hostport(text: str, hostport: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise TargetError(text, f"unclosed '[' in {hostport!r}")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if not rest:
            return _check_host(text, host), None
        if not rest.startswith(":"):
            raise TargetError(text, f"unexpected {rest!r} after {host}")
        return _check_host(text, host), _check_port(text, rest[1:])
    if hostport.count(":") > 1:  # a bare IPv6 address, no port possible
        try:
            return str(ipaddress.IPv6Address(hostport)), None
        except ValueError:
            raise TargetError(
                text, f"{hostport!r} is not an address; write IPv6 as [addr]:port"
            ) from None
    host, sep, port = hostport.partition(":")
    return _check_host(text, host), (_check_port(text, port) if sep else None)


def _params(text: str, raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        name, _, value = item.partition("=")
        out[name.strip().lower()] = value.strip()
    return out


def _transport_param(text: str, value: str) -> str:
    t = value.lower()
    if t not in DEFAULT_PORTS:
        raise TargetError(text, f"unknown transport {value!r} (use udp, tcp, tls, ws or wss)")
    return t


def _make(
    transport: str,
    host: str,
    port: int | None,
    *,
    scheme: str = "sip",
    path: str | None = None,
    user: str | None = None,
    transport_explicit: bool,
) -> Target:
    return Target(
        transport=transport,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[transport],
        path=path if transport in ("ws", "wss") else None,
        scheme=scheme,
        secure=transport in SECURE,
        user=user,
        port_explicit=port is not None,
        transport_explicit=transport_explicit,
    )


def _parse_ws_url(text: str, body: str, scheme: str) -> Target:
    rest = body[len(scheme) + 3 :]
    hostport, slash, path = rest.partition("/")
    hostport = hostport.split("?", 1)[0]
    if "@" in hostport:
        raise TargetError(text, "user info is not allowed in a WebSocket URL")
    host, port = _split_hostport(text, hostport)
    return _make(scheme, host, port, scheme=scheme, path=slash + path if slash else "/",
                 transport_explicit=True)


def _parse_sip_uri(text: str, body: str, scheme: str) -> Target:
    rest = body[len(scheme) + 1 :].split("?", 1)[0]  # URI headers are irrelevant here
    rest, _, params_raw = rest.partition(";")
    user = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        user = user.split(":", 1)[0] or None  # drop a password, never keep it
    host, port = _split_hostport(text, rest)
    params = _params(text, params_raw)
    transport_raw = params.get("transport")
    if scheme == "sips":
        if transport_raw is None:
            transport = "tls"
        else:
            t = _transport_param(text, transport_raw)
            if t in ("udp",):
                raise TargetError(
                    text, "sips: needs a secure transport; transport=udp is not allowed"
                )
            transport = {"tcp": "tls", "tls": "tls", "ws": "wss", "wss": "wss"}[t]
        return _make(transport, host, port, scheme="sips", user=user,
                     path="/" if transport == "wss" else None,
                     transport_explicit=transport_raw is not None)
    transport = _transport_param(text, transport_raw) if transport_raw is not None else "udp"
    return _make(transport, host, port, scheme="sip", user=user,
                 path="/" if transport in ("ws", "wss") else None,
                 transport_explicit=transport_raw is not None)


def parse_target(text: str) -> Target:
    """Parse any accepted target form (see the module docstring) into a :class:`Target`."""
    if not isinstance(text, str):
        raise TypeError(f"target must be a str, not {type(text).__name__}")
    body = text.strip()
    if body.startswith("<") and body.endswith(">"):
        body = body[1:-1].strip()
    if not body:
        raise TargetError(text, "it is empty")
    if any(c.isspace() for c in body):
        raise TargetError(text, "it contains white space")
    lower = body.lower()

    for scheme in ("wss", "ws"):
        if lower.startswith(scheme + "://"):
            return _parse_ws_url(text, body, scheme)
    if "://" in lower:
        raise TargetError(text, f"unsupported URL scheme {body.split('://', 1)[0]!r}")
    for scheme in ("sips", "sip"):
        if lower.startswith(scheme + ":"):
            return _parse_sip_uri(text, body, scheme)
    for transport in ("udp", "tcp", "tls", "ws", "wss"):
        if lower.startswith(transport + ":"):
            rest = body[len(transport) + 1 :]
            if ";" in rest:
                raise TargetError(text, f"parameters are not allowed after {transport}:")
            if not rest:
                raise TargetError(text, "the host is missing")
            host, port = _split_hostport(text, rest)
            ws = transport in ("ws", "wss")
            return _make(transport, host, port, path="/" if ws else None,
                         scheme=transport if ws else "sip", transport_explicit=True)

    hostport, _, params_raw = body.partition(";")
    user = None
    if "@" in hostport:
        user, _, hostport = hostport.rpartition("@")
        user = user.split(":", 1)[0] or None
    if hostport.count(":") == 1:
        first, _, second = hostport.partition(":")
        if second and not second.isdigit():
            raise TargetError(
                text, f"{second!r} is not a port number and {first + ':'!r} is not a known "
                "prefix (udp:, tcp:, tls:, sip:, sips:, ws://, wss://)"
            )
    elif hostport.count(":") > 1 and not hostport.startswith("["):
        first, last = hostport.split(":", 1)[0], hostport.rsplit(":", 1)[1]
        if first.isalpha() and last.isdigit() and \
                not all(c in "0123456789abcdefABCDEF" for c in first):  # sctp:host:port
            raise TargetError(text, f"unknown transport {first + ':'!r} (known prefixes: udp:, "
                                    "tcp:, tls:, sip:, sips:, ws://, wss://)")
    host, port = _split_hostport(text, hostport)
    params = _params(text, params_raw)
    transport_raw = params.get("transport")
    transport = _transport_param(text, transport_raw) if transport_raw is not None else "udp"
    return _make(transport, host, port, user=user,
                 scheme=transport if transport in ("ws", "wss") else "sip",
                 path="/" if transport in ("ws", "wss") else None,
                 transport_explicit=transport_raw is not None)

