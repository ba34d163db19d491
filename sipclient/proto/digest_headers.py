"""Digest header values: challenges (WWW-/Proxy-Authenticate) and credentials
(Authorization, Proxy-Authorization), parsed and rendered (RFC 3261 sec. 25.1; RFC 7235
sec. 2.1; RFC 7616 sec. 3.3-3.4; RFC 8187 ``username*``)::

    ch = parse_challenge('Digest realm="asterisk", nonce="1609521111/e77e...", qop="auth"')
    str(ch)                                # a valid header value again

Remote garbage raises :class:`ParseError` naming the header; a value that cannot be sent
raises :class:`LocalProtocolError`. Re-exported by :mod:`sipclient.proto.digest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import unquote_to_bytes

from sipclient.proto.digest_alg import _NC_RE, _nc_text, canonical_algorithm
from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = ["Challenge", "Credentials", "parse_challenge", "parse_credentials"]


# --- header values (RFC 3261 sec. 25.1; RFC 7235 sec. 2.1; RFC 7616 sec. 3.3-3.4) -------------

_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_WS = " \t\r\n"
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_EXT_RE = re.compile(  # RFC 8187 ext-value: charset'language'pct-encoded
    r"([A-Za-z0-9!#$%&+\-^_`{}~]+)'[A-Za-z0-9\-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)")


def _bad_char(c: str) -> bool:
    o = ord(c)
    return (o < 0x20 and c != "\t") or o == 0x7F or 0xD800 <= o <= 0xDFFF


class _Parser:
    """``scheme [token68 | auth-param *("," auth-param)]`` with quoted-string escapes."""

    def __init__(self, value: object, header: str) -> None:
        if not isinstance(value, str):
            raise ParseError("header value is not text", header=header)
        self.s, self.i, self.header = value, 0, header

    def fail(self, reason: str, at: int | None = None) -> ParseError:
        return ParseError(f"{reason} at column {self.i if at is None else at}", header=self.header)

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WS:
            self.i += 1

    def token(self) -> str:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in _TOKEN:
            self.i += 1
        return self.s[start:self.i]

    def quoted(self) -> str:
        start, out = self.i, []
        self.i += 1
        while True:
            if self.i >= len(self.s):
                raise self.fail("unterminated quoted string", start)
            c = self.s[self.i]
            if c == "\\":
                if self.i + 1 >= len(self.s):
                    raise self.fail("unterminated quoted string", start)
                c = self.s[self.i + 1]
                self.i += 1
            elif c == '"':
                self.i += 1
                return "".join(out)
            if _bad_char(c):
                raise self.fail(f"control character {c!r} in quoted string")
            out.append(c)
            self.i += 1

    def parse(self) -> tuple[str, list[tuple[str, str, bool]], str | None]:
        s = self.s
        self.ws()
        scheme = self.token()
        if not scheme:
            raise self.fail("expected an authentication scheme (e.g. Digest)")
        rest = s[self.i:].strip(_WS)
        if rest and s[self.i] not in _WS:
            raise self.fail(f"unexpected {s[self.i]!r} after scheme")
        if _TOKEN68_RE.fullmatch(rest) and scheme.lower() != "digest":
            return scheme, [], rest
        params: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        while True:
            while self.i < len(s) and (s[self.i] in _WS or s[self.i] == ","):
                self.i += 1  # empty list elements are allowed (RFC 7230 sec. 7)
            if self.i >= len(s):
                return scheme, params, None
            at = self.i
            name = self.token()
            if not name:
                raise self.fail(f"unexpected {s[self.i]!r}, expected a parameter name")
            self.ws()
            if self.i >= len(s) or s[self.i] != "=":
                raise self.fail(f"expected '=' after parameter {name!r} (one challenge per "
                                "header value)")
            self.i += 1
            self.ws()
            if self.i < len(s) and s[self.i] == '"':
                value, quoted = self.quoted(), True
            else:
                start = self.i
                while self.i < len(s) and s[self.i] not in _WS and s[self.i] not in ',"':
                    if _bad_char(s[self.i]):
                        raise self.fail(f"control character {s[self.i]!r} in value")
                    self.i += 1
                value, quoted = s[start:self.i], False
                if not value:
                    raise self.fail(f"parameter {name!r} has no value")
            if name.lower() in seen:
                raise self.fail(f"duplicate parameter {name!r}", at)
            seen.add(name.lower())
            params.append((name, value, quoted))
            self.ws()
            if self.i < len(s) and s[self.i] != ",":
                raise self.fail(f"expected ',' after parameter {name!r}")


def _quote(value: str) -> str:
    if any(_bad_char(c) and c != "\t" for c in value):
        raise LocalProtocolError(f"control character in header parameter value {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _token_or_quote(value: str) -> str:
    return value if value and all(c in _TOKEN for c in value) else _quote(value)


def _render(scheme: str, pairs: Iterable[tuple[str, str]]) -> str:
    if not scheme or any(c not in _TOKEN for c in scheme):
        raise LocalProtocolError(f"bad authentication scheme {scheme!r}")
    return f"{scheme} " + ", ".join(f"{n}={v}" for n, v in pairs)


def _flag(value: str | None) -> bool:
    """``stale`` / ``userhash``: only "true" (any case) is true (RFC 2617 sec. 3.2.1)."""
    return value is not None and value.strip().lower() == "true"


_CH_KNOWN = ("realm", "domain", "nonce", "opaque", "stale", "algorithm", "qop", "charset",
             "userhash")


class _AuthValue:
    """What a challenge and credentials share: the algorithm named as sent, and the
    parameters kept in order as received (``_KNOWN``: the names the class interprets)."""

    _KNOWN: tuple[str, ...] = ()
    algorithm: str | None
    params: tuple[tuple[str, str], ...]

    @property
    def algorithm_name(self) -> str | None:
        """Canonical algorithm name, or ``None`` if unsupported."""
        return canonical_algorithm(self.algorithm)

    @property
    def extra(self) -> tuple[tuple[str, str], ...]:
        """The parameters this module does not interpret, in order."""
        return tuple((n, v) for n, v in self.params if n.lower() not in self._KNOWN)


@dataclass(frozen=True)
class Challenge(_AuthValue):
    """A WWW-Authenticate / Proxy-Authenticate value (RFC 3261 sec. 22.4, RFC 7616 sec. 3.3).

    ``algorithm`` is the token as sent (``None``: absent, meaning MD5); ``qop`` the offered
    options, lower-cased (empty: an RFC 2069 server); ``params`` every parameter in order as
    received. Schemes other than Digest parse too (so :func:`choose_challenge` can skip them).
    """

    _KNOWN = _CH_KNOWN
    scheme: str = "Digest"
    realm: str | None = None
    nonce: str | None = None
    opaque: str | None = None
    stale: bool = False
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    domain: tuple[str, ...] = ()
    userhash: bool = False
    charset: str | None = None
    params: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    token68: str | None = None

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    def __str__(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        p: list[tuple[str, str]] = []
        if self.realm is not None:
            p.append(("realm", _quote(self.realm)))
        if self.domain:
            p.append(("domain", _quote(" ".join(self.domain))))
        if self.nonce is not None:
            p.append(("nonce", _quote(self.nonce)))
        if self.opaque is not None:
            p.append(("opaque", _quote(self.opaque)))
        if self.stale:
            p.append(("stale", "true"))
        if self.algorithm is not None:
            p.append(("algorithm", _token_or_quote(self.algorithm)))
        if self.qop:
            p.append(("qop", _quote(",".join(self.qop))))
        if self.charset is not None:
            p.append(("charset", _token_or_quote(self.charset)))
        if self.userhash:
            p.append(("userhash", "true"))
        p.extend((n, _token_or_quote(v)) for n, v in self.extra)
        return _render(self.scheme, p)


def parse_challenge(value: str, *, header: str = "WWW-Authenticate") -> Challenge:
    """Parse one challenge (RFC 3261 sec. 25.1 ``challenge``; RFC 7616 sec. 3.3).

    A Digest challenge must carry ``realm`` and ``nonce``. Raises :class:`ParseError`.
    """
    scheme, params, token68 = _Parser(value, header).parse()
    d = {n.lower(): v for n, v, _ in params}
    if scheme.lower() == "digest":
        for need in ("realm", "nonce"):
            if need not in d:
                raise ParseError(f"Digest challenge without {need}", header=header)
    return Challenge(
        scheme=scheme, realm=d.get("realm"), nonce=d.get("nonce"), opaque=d.get("opaque"),
        stale=_flag(d.get("stale")), algorithm=d.get("algorithm"),
        qop=tuple(q.strip().lower() for q in d.get("qop", "").split(",") if q.strip()),
        domain=tuple(d.get("domain", "").split()), userhash=_flag(d.get("userhash")),
        charset=d.get("charset"), params=tuple((n, v) for n, v, _ in params), token68=token68)


_CR_KNOWN = ("username", "username*", "realm", "nonce", "uri", "response", "algorithm", "cnonce",
             "opaque", "qop", "nc", "userhash")


def _ext_value(value: str, header: str) -> str:
    """Decode ``username*`` (RFC 7616 sec. 3.4.4, RFC 8187 sec. 3.2)."""
    m = _EXT_RE.fullmatch(value)
    if not m or m.group(1).lower() not in ("utf-8", "iso-8859-1"):
        raise ParseError(f"bad username* value {value!r}", header=header)
    try:
        text = unquote_to_bytes(m.group(2)).decode(m.group(1).lower())
    except UnicodeDecodeError:
        raise ParseError("username* is not valid in its charset", header=header) from None
    if any(_bad_char(c) for c in text):
        raise ParseError("control character in username*", header=header)
    return text


@dataclass(frozen=True)
class Credentials(_AuthValue):
    """An Authorization / Proxy-Authorization value (RFC 3261 sec. 22.4, RFC 7616 sec. 3.4).

    ``username`` is as sent (the hash when ``userhash``; decoded when sent as ``username*``).
    ``algorithm``, ``qop`` and ``nc`` are kept as sent, since the response was computed over
    them; ``params`` holds every parameter in order as received.
    """

    _KNOWN = _CR_KNOWN
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    userhash: bool = False
    scheme: str = "Digest"
    params: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def nc_value(self) -> int | None:
        return int(self.nc, 16) if self.nc is not None and _NC_RE.fullmatch(self.nc) else None

    def __str__(self) -> str:
        p = [("username", _quote(self.username)), ("realm", _quote(self.realm)),
             ("nonce", _quote(self.nonce)), ("uri", _quote(self.uri)),
             ("response", _quote(self.response))]
        if self.algorithm is not None:
            p.append(("algorithm", _token_or_quote(self.algorithm)))
        if self.cnonce is not None:
            p.append(("cnonce", _quote(self.cnonce)))
        if self.opaque is not None:
            p.append(("opaque", _quote(self.opaque)))
        if self.qop is not None:
            p.append(("qop", _token_or_quote(self.qop)))
        if self.nc is not None:
            p.append(("nc", _nc_text(self.nc)))
        if self.userhash:
            p.append(("userhash", "true"))
        p.extend((n, _token_or_quote(v)) for n, v in self.extra)
        return _render(self.scheme, p)


def parse_credentials(value: str, *, header: str = "Authorization") -> Credentials:
    """Parse Digest credentials (RFC 3261 sec. 25.1 ``digest-response``; RFC 7616 sec. 3.4).

    ``username`` (or ``username*``), ``realm``, ``nonce``, ``uri`` and ``response`` are
    required; ``nc`` must be hex. Raises :class:`ParseError`.
    """
    scheme, params, _ = _Parser(value, header).parse()
    if scheme.lower() != "digest":
        raise ParseError(f"not Digest credentials (scheme {scheme!r})", header=header)
    d = {n.lower(): v for n, v, _ in params}
    if "username" not in d and "username*" in d:
        if _flag(d.get("userhash")):
            raise ParseError("username* with userhash=true", header=header)
        d["username"] = _ext_value(d["username*"], header)
    for need in ("username", "realm", "nonce", "uri", "response"):
        if need not in d:
            raise ParseError(f"Digest credentials without {need}", header=header)
    nc = d.get("nc")
    if nc is not None and not _NC_RE.fullmatch(nc):
        raise ParseError(f"nc must be 8 hex digits, got {nc!r}", header=header)
    return Credentials(
        username=d["username"], realm=d["realm"], nonce=d["nonce"], uri=d["uri"],
        response=d["response"], algorithm=d.get("algorithm"), cnonce=d.get("cnonce"),
        opaque=d.get("opaque"), qop=d.get("qop"), nc=nc, userhash=_flag(d.get("userhash")),
        scheme=scheme, params=tuple((n, v) for n, v, _ in params))
