"""Digest authentication for SIP (RFC 3261 sec. 22.4; RFC 2617; RFC 7616; RFC 8760).

Header values (RFC 3261 sec. 25.1, RFC 7235 sec. 2.1)::

    ch = parse_challenge('Digest realm="asterisk", nonce="1609521111/e77e...", qop="auth"')
    cr = parse_credentials(msg_value_of_Authorization)
    str(ch), str(cr)                       # valid header values again

Algorithms MD5, SHA-256, SHA-512-256 and their "-sess" variants; qop ``auth``, ``auth-int``
and none (RFC 2069). :func:`choose_challenge` picks among several challenges; the client
(:class:`DigestClient`) answers one, keeping nonce counts and telling a stale nonce from a
wrong password. The server side (:func:`make_challenge`, :func:`verify`,
:class:`NonceTracker`, :class:`DigestServer`) lives in :mod:`sipclient.proto.digest_server`
and is re-exported here. The cnonce source is injectable so tests are exact. Remote garbage
raises :class:`ParseError`, local misuse :class:`LocalProtocolError`; nothing else escapes
on bad input.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence
from urllib.parse import unquote_to_bytes

from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = [
    "ALGORITHMS", "Challenge", "Credentials", "DigestClient", "UnsupportedChallenge",
    "canonical_algorithm", "choose_challenge", "challenge_header_for", "compute_response",
    "header_name_for", "is_auth_failure", "parse_challenge", "parse_credentials", "userhash",
    # server side, from sipclient.proto.digest_server (loaded on first use):
    "NONCE_LIFETIME", "DigestServer", "NonceState", "NonceTracker", "VerifyReason",
    "VerifyResult", "check_nonce", "make_challenge", "make_nonce", "verify",
]
_SERVER_NAMES = frozenset(__all__[__all__.index("NONCE_LIFETIME"):])


def __getattr__(name: str) -> object:
    """Re-export the server side (PEP 562) without an import cycle."""
    if name in _SERVER_NAMES:
        from sipclient.proto import digest_server

        return getattr(digest_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- algorithms (RFC 7616 sec. 3.2, 6.1; RFC 8760 sec. 2.2, 2.3) -----------------------------

# canonical token -> (hashlib name, strength); "-sess" variants share the strength.
_BASE = {"MD5": ("md5", 1), "SHA-256": ("sha256", 2), "SHA-512-256": ("sha512_256", 3)}


def _available(name: str) -> bool:
    try:
        hashlib.new(name)
    except ValueError:  # an OpenSSL build without SHA-512/256
        return False
    return True


#: Supported algorithm tokens, canonical spelling (a hashlib without SHA-512/256 drops it).
ALGORITHMS: tuple[str, ...] = tuple(
    n + s for n, (h, _) in _BASE.items() if _available(h) for s in ("", "-sess"))
_BY_LOWER = {a.lower(): a for a in ALGORITHMS}


def canonical_algorithm(token: str | None) -> str | None:
    """The canonical spelling of an ``algorithm`` token, matched case-insensitively.

    Absent (``None``) means MD5 (RFC 2617 sec. 3.2.1). Returns ``None`` if unsupported.
    """
    if token is None:
        return "MD5"
    return _BY_LOWER.get(token.strip().lower())


def _alg(token: str | None) -> tuple[str, bool]:
    canon = canonical_algorithm(token)
    if canon is None:
        raise LocalProtocolError(f"unsupported digest algorithm {token!r}; supported: "
                                 + ", ".join(ALGORITHMS))
    sess = canon.endswith("-sess")
    return _BASE[canon[:-5] if sess else canon][0], sess


def _enc(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise LocalProtocolError(f"text cannot be encoded as UTF-8: {exc.reason}") from None


def _h(hname: str, data: str | bytes) -> str:
    return hashlib.new(hname, _enc(data)).hexdigest()


def userhash(username: str, realm: str, algorithm: str | None = None) -> str:
    """The hashed user name, ``H(username ":" realm)`` (RFC 7616 sec. 3.4.4)."""
    return _h(_alg(algorithm)[0], f"{username}:{realm}")


def _nc_text(nc: int | str) -> str:
    if isinstance(nc, int):
        if not 0 < nc <= 0xFFFFFFFF:
            raise LocalProtocolError(f"nonce count out of range: {nc}")
        return f"{nc:08x}"
    if not _NC_RE.fullmatch(nc):
        raise LocalProtocolError(f"nonce count must be 1 to 8 hex digits, got {nc!r}")
    return nc


def compute_response(*, username: str, realm: str, password: str | None = None, method: str,
                     uri: str, nonce: str, algorithm: str | None = None, qop: str | None = None,
                     nc: int | str | None = None, cnonce: str | None = None, body: bytes = b"",
                     ha1: str | None = None) -> str:
    """The ``response`` hex digest (RFC 7616 sec. 3.4.1-3.4.3, RFC 2617 sec. 3.2.2.1-3).

    ``qop`` None gives the RFC 2069 form ``KD(HA1, nonce:HA2)``; ``auth`` / ``auth-int``
    give ``KD(HA1, nonce:nc:cnonce:qop:HA2)``, with ``HA2 = H(method:uri[:H(body)])``.
    "-sess" algorithms use ``HA1 = H(H(user:realm:pass):nonce:cnonce)``. ``username`` is the
    real name, never its userhash. ``ha1`` (precomputed ``H(user:realm:pass)``) may replace
    ``password``.
    """
    hname, sess = _alg(algorithm)
    if ha1 is None:
        if password is None:
            raise LocalProtocolError("a password (or ha1) is required")
        ha1 = _h(hname, f"{username}:{realm}:{password}")
    if sess:
        if not cnonce:
            raise LocalProtocolError(f"{algorithm} needs a cnonce")
        ha1 = _h(hname, f"{ha1}:{nonce}:{cnonce}")
    q = qop.lower() if qop is not None else None
    if q == "auth-int":
        ha2 = _h(hname, f"{method}:{uri}:{_h(hname, body)}")
    elif q in (None, "auth"):
        ha2 = _h(hname, f"{method}:{uri}")
    else:
        raise LocalProtocolError(f"unsupported qop {qop!r} (auth or auth-int)")
    if qop is None:
        return _h(hname, f"{ha1}:{nonce}:{ha2}")
    if nc is None or not cnonce:
        raise LocalProtocolError("qop needs nc and cnonce")
    return _h(hname, f"{ha1}:{nonce}:{_nc_text(nc)}:{cnonce}:{qop}:{ha2}")


# --- header values (RFC 3261 sec. 25.1; RFC 7235 sec. 2.1; RFC 7616 sec. 3.3-3.4) -------------

_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_WS = " \t\r\n"
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_NC_RE = re.compile(r"[0-9a-fA-F]{1,8}")
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


@dataclass(frozen=True)
class Challenge:
    """A WWW-Authenticate / Proxy-Authenticate value (RFC 3261 sec. 22.4, RFC 7616 sec. 3.3).

    ``algorithm`` is the token as sent (``None``: absent, meaning MD5); ``qop`` the offered
    options, lower-cased (empty: an RFC 2069 server); ``params`` every parameter in order as
    received. Schemes other than Digest parse too (so :func:`choose_challenge` can skip them).
    """

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

    @property
    def algorithm_name(self) -> str | None:
        """Canonical algorithm name, or ``None`` if unsupported."""
        return canonical_algorithm(self.algorithm)

    @property
    def extra(self) -> tuple[tuple[str, str], ...]:
        """The parameters this module does not interpret, in order."""
        return tuple((n, v) for n, v in self.params if n.lower() not in _CH_KNOWN)

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
class Credentials:
    """An Authorization / Proxy-Authorization value (RFC 3261 sec. 22.4, RFC 7616 sec. 3.4).

    ``username`` is as sent (the hash when ``userhash``; decoded when sent as ``username*``).
    ``algorithm``, ``qop`` and ``nc`` are kept as sent, since the response was computed over
    them; ``params`` holds every parameter in order as received.
    """

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

    @property
    def algorithm_name(self) -> str | None:
        return canonical_algorithm(self.algorithm)

    @property
    def extra(self) -> tuple[tuple[str, str], ...]:
        return tuple((n, v) for n, v in self.params if n.lower() not in _CR_KNOWN)

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


# --- choosing a challenge, header names ------------------------------------------------------

class UnsupportedChallenge(ParseError):
    """No challenge offered a scheme / algorithm / qop this module supports."""


def _unsupported_why(ch: Challenge) -> str | None:
    if not ch.is_digest:
        return f"scheme {ch.scheme}"
    if ch.algorithm_name is None:
        return f"algorithm {ch.algorithm}"
    if ch.qop and not set(ch.qop) & {"auth", "auth-int"}:
        return f"qop {','.join(ch.qop)}"
    return None


def choose_challenge(challenges: Iterable[Challenge | str], *, policy: str = "strongest",
                     header: str = "WWW-Authenticate") -> Challenge:
    """Pick the challenge to answer among several (RFC 7616 sec. 3.7, RFC 8760 sec. 2.4).

    ``policy="strongest"`` (default): SHA-512-256 > SHA-256 > MD5 ("-sess" variants rank with
    their base), ties keep header order; ``policy="first"``: the topmost supported one, as
    RFC 8760 sec. 2.4 recommends absent a local policy. Strings are parsed (unparsable ones
    skipped). Unsupported schemes, algorithms and qops are skipped; when nothing is left
    :class:`UnsupportedChallenge` (a :class:`ParseError`) names what was offered.
    """
    if policy not in ("strongest", "first"):
        raise LocalProtocolError(f"unknown policy {policy!r}")
    best: Challenge | None = None
    rejected: list[str] = []
    for ch in challenges:
        if isinstance(ch, str):
            try:
                ch = parse_challenge(ch, header=header)
            except ParseError as exc:
                rejected.append(f"malformed ({exc.reason})")
                continue
        why = _unsupported_why(ch)
        if why is not None:
            rejected.append(why)
            continue
        if best is None:
            best = ch
            if policy == "first":
                break
        elif _BASE[_strip_sess(ch.algorithm_name)][1] > _BASE[_strip_sess(best.algorithm_name)][1]:
            best = ch
    if best is None:
        offered = "; ".join(rejected) or "no challenge"
        raise UnsupportedChallenge(f"no supported Digest challenge (offered: {offered})",
                                   header=header)
    return best


def _strip_sess(name: str | None) -> str:
    assert name is not None
    return name[:-5] if name.endswith("-sess") else name


def header_name_for(status: int) -> str:
    """The credentials header answering a 401 (Authorization) or 407 (RFC 3261 sec. 22.2-3)."""
    names = {401: "Authorization", 407: "Proxy-Authorization"}
    if status not in names:
        raise LocalProtocolError(f"status {status} is not a challenge (401 or 407)")
    return names[status]


def challenge_header_for(status: int) -> str:
    """The challenge header of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate)."""
    names = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}
    if status not in names:
        raise LocalProtocolError(f"status {status} is not a challenge (401 or 407)")
    return names[status]


def is_auth_failure(challenge: Challenge, sent: Credentials | Iterable[Credentials] | None) -> bool:
    """Whether a new challenge means "wrong credentials, stop retrying" (RFC 2617 sec. 3.2.1).

    True when the request that drew ``challenge`` already carried credentials for its realm
    and the challenge is not ``stale=true`` with a new nonce (``stale`` means only the nonce
    expired: retry without asking for the password again).
    """
    if sent is None:
        return False
    for cr in [sent] if isinstance(sent, Credentials) else sent:
        if cr.realm == challenge.realm:
            return not (challenge.stale and challenge.nonce != cr.nonce)
    return False


# --- client ----------------------------------------------------------------------------------

class DigestClient:
    """Answers challenges for one user (RFC 3261 sec. 22.2-22.3, RFC 7616 sec. 3.4).

    Counts nonce uses (``nc`` = 00000001, 00000002 ... per nonce, RFC 7616 sec. 3.4) and makes
    a fresh cnonce per request from ``cnonce_source``. The password never appears in repr.
    """

    def __init__(self, username: str, password: str, *,
                 cnonce_source: Callable[[], str] | None = None,
                 qop_preference: Sequence[str] = ("auth", "auth-int"),
                 max_nonces: int = 64) -> None:
        self.username = username
        self._password = password
        self._cnonce = cnonce_source or (lambda: secrets.token_hex(8))
        self.qop_preference = tuple(q.lower() for q in qop_preference)
        self._nc: dict[str, int] = {}
        self._max_nonces = max_nonces
        self._sent: dict[str | None, Credentials] = {}

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r}, password='***')"

    __str__ = __repr__

    def nonce_count(self, nonce: str) -> int:
        """How many times ``nonce`` was used so far."""
        return self._nc.get(nonce, 0)

    def respond(self, challenge: Challenge | str, method: str, uri: str,
                body: bytes = b"") -> Credentials:
        """Credentials answering ``challenge`` for a request ``method uri`` with ``body``."""
        ch = parse_challenge(challenge) if isinstance(challenge, str) else challenge
        why = _unsupported_why(ch)
        if why is not None or ch.realm is None or ch.nonce is None:
            raise UnsupportedChallenge(f"cannot answer this challenge ({why or 'no nonce'})",
                                       header="WWW-Authenticate")
        qop = next((q for q in self.qop_preference if q in ch.qop), None)
        if ch.qop and qop is None:
            raise LocalProtocolError(f"qop preference {self.qop_preference} excludes {ch.qop}")
        alg = ch.algorithm_name
        assert alg is not None
        cnonce = self._cnonce() if (qop or alg.endswith("-sess")) else None
        nc = None
        if qop is not None:
            count = self._nc.pop(ch.nonce, 0) + 1
            self._nc[ch.nonce] = count  # re-inserted: most recently used last
            while len(self._nc) > self._max_nonces:
                del self._nc[next(iter(self._nc))]
            nc = f"{count:08x}"
        response = compute_response(
            username=self.username, realm=ch.realm, password=self._password, method=method,
            uri=uri, nonce=ch.nonce, algorithm=alg, qop=qop, nc=nc, cnonce=cnonce, body=body)
        name = userhash(self.username, ch.realm, alg) if ch.userhash else self.username
        cr = Credentials(username=name, realm=ch.realm, nonce=ch.nonce, uri=uri,
                         response=response, algorithm=ch.algorithm, cnonce=cnonce,
                         opaque=ch.opaque, qop=qop, nc=nc, userhash=ch.userhash)
        self._sent[ch.realm] = cr
        return cr

    def authorization(self, challenge: Challenge | str, method: str, uri: str,
                      body: bytes = b"") -> str:
        """The Authorization / Proxy-Authorization header value (see :meth:`respond`)."""
        return str(self.respond(challenge, method, uri, body))

    def auth_failed(self, challenge: Challenge, sent: Credentials | None = None) -> bool:
        """Whether ``challenge`` (answering our credentials) means "stop retrying".

        ``sent`` defaults to the last credentials this client made for the challenge's realm;
        call :meth:`forget` once a request succeeded. See :func:`is_auth_failure`.
        """
        return is_auth_failure(challenge, sent if sent is not None else self._sent.get(
            challenge.realm))

    def forget(self, realm: str | None = None) -> None:
        """Forget the credentials sent (for ``realm``, or all) after a success."""
        if realm is None:
            self._sent.clear()
        else:
            self._sent.pop(realm, None)
