"""Server side of SIP digest authentication (RFC 3261 sec. 22.4; RFC 2617; RFC 7616).

Issues Asterisk-style nonces ``"<unix time>/<hex>"`` that can later be recognised as ours
and aged, and checks credentials, saying exactly why they are refused
(:class:`VerifyReason`, printed by ``pcap auth-check``)::

    server = DigestServer("lab", secret=b"...")
    ch = server.challenge(now)                       # -> 401 WWW-Authenticate: str(ch)
    result = server.verify(authorization, "REGISTER", password, now)
    if result.reason is VerifyReason.STALE_NONCE:    # right password, old nonce
        ch = server.challenge(now, stale=True)

``now`` is always a parameter; the nonce salt source is injectable.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from sipclient.proto.digest import (Challenge, Credentials, canonical_algorithm,
                                    compute_response, parse_credentials, userhash)
from sipclient.proto.errors import LocalProtocolError, ParseError

__all__ = ["NONCE_LIFETIME", "DigestServer", "NonceState", "NonceTracker", "VerifyReason",
           "VerifyResult", "check_nonce", "make_challenge", "make_nonce", "verify"]

#: Nonce lifetime in seconds, Asterisk's default (res_pjsip ``nonce_lifetime``).
NONCE_LIFETIME = 32.0
_NONCE_RE = re.compile(r"([0-9]{1,12})/([0-9a-f]{8})([0-9a-f]{32})")


class NonceState(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    UNKNOWN = "unknown"


def _secret(secret: str | bytes) -> bytes:
    try:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    except (UnicodeEncodeError, TypeError):
        raise LocalProtocolError("the nonce secret must be text or bytes") from None
    if not key:
        raise LocalProtocolError("the nonce secret must not be empty")
    return key


def _mac(key: bytes, ts: str, salt: str) -> str:
    return hmac.new(key, f"{ts}/{salt}".encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce(now: float, secret: str | bytes, *,
               random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """An Asterisk-style nonce ``"<int(now)>/<8 hex salt><32 hex HMAC-SHA-256>"``."""
    try:
        ts = int(now)
    except (ValueError, OverflowError, TypeError):
        raise LocalProtocolError(f"bad time {now!r}") from None
    if not 0 <= ts < 10**12:
        raise LocalProtocolError(f"time out of range: {now!r}")
    salt = random_bytes(4).hex()[:8].rjust(8, "0")
    return f"{ts}/{salt}{_mac(_secret(secret), str(ts), salt)}"


def check_nonce(nonce: str, secret: str | bytes, now: float, *,
                max_age: float = NONCE_LIFETIME) -> NonceState:
    """FRESH if ``nonce`` is ours and at most ``max_age`` seconds old, STALE if older,
    UNKNOWN if not ours (or from more than 2 s in the future)."""
    m = _NONCE_RE.fullmatch(nonce)
    if m is None or not hmac.compare_digest(_mac(_secret(secret), m.group(1), m.group(2)),
                                            m.group(3)):
        return NonceState.UNKNOWN
    age = now - int(m.group(1))
    if age < -2:
        return NonceState.UNKNOWN
    return NonceState.STALE if age > max_age else NonceState.FRESH


def make_challenge(realm: str, now: float, secret: str | bytes, *, algorithm: str = "MD5",
                   qop: Sequence[str] = ("auth",), opaque: str | None = None,
                   stale: bool = False, domain: Sequence[str] = (), userhash: bool = False,
                   random_bytes: Callable[[int], bytes] = os.urandom) -> Challenge:
    """A challenge with a fresh nonce from :func:`make_nonce` (RFC 7616 sec. 3.3)."""
    canon = canonical_algorithm(algorithm)
    if canon is None:
        raise LocalProtocolError(f"unsupported algorithm {algorithm!r}")
    qops = tuple(q.lower() for q in qop)
    if not set(qops) <= {"auth", "auth-int"}:
        raise LocalProtocolError(f"unsupported qop {qop!r} (auth, auth-int)")
    ch = Challenge(realm=realm, nonce=make_nonce(now, secret, random_bytes=random_bytes),
                   opaque=opaque, stale=stale, algorithm=canon, qop=qops, domain=tuple(domain),
                   userhash=userhash)
    str(ch)  # refuse values that cannot be sent (control characters)
    return ch


class NonceTracker:
    """The highest ``nc`` accepted per nonce, to refuse replays (RFC 7616 sec. 3.4, 5.5)."""

    def __init__(self, max_nonces: int = 4096) -> None:
        self._seen: dict[str, int] = {}
        self._max = max_nonces

    def highest(self, nonce: str) -> int | None:
        return self._seen.get(nonce)

    def update(self, nonce: str, nc: int) -> bool:
        """Record ``nc`` for ``nonce``; False (nothing recorded) if it does not increase."""
        last = self._seen.get(nonce)
        if last is not None and nc <= last:
            return False
        self._seen.pop(nonce, None)
        self._seen[nonce] = nc
        while len(self._seen) > self._max:
            del self._seen[next(iter(self._seen))]
        return True


class VerifyReason(str, enum.Enum):
    """Why credentials were accepted or refused; the values are printed to users."""

    OK = "ok"
    MALFORMED = "malformed credentials"
    WRONG_PASSWORD = "wrong password (response mismatch)"
    WRONG_USERNAME = "wrong username"
    WRONG_URI = "uri does not match the request URI"
    WRONG_REALM = "wrong realm"
    UNSUPPORTED_ALGORITHM = "unknown or unsupported algorithm"
    ALGORITHM_NOT_OFFERED = "algorithm was not offered"
    STALE_NONCE = "stale nonce (expired, password was right)"
    UNKNOWN_NONCE = "unknown nonce (not issued by us)"
    NC_NOT_INCREASING = "nonce count not increasing (replay)"
    MISSING_QOP = "qop missing although the challenge offered it"
    QOP_NOT_OFFERED = "qop was not offered"
    MISSING_CNONCE = "cnonce missing"
    MISSING_NC = "nc missing with qop"
    OPAQUE_MISMATCH = "opaque does not match the challenge"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`; true only when ``reason`` is OK."""

    reason: VerifyReason
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is VerifyReason.OK

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value


def verify(credentials: Credentials | str, method: str, password: str, body: bytes = b"", *,
           expected_realm: str | None = None, request_uri: str | None = None,
           username: str | None = None, secret: str | bytes | None = None,
           now: float | None = None, max_age: float = NONCE_LIFETIME,
           tracker: NonceTracker | None = None, offered_qop: Sequence[str] | None = None,
           offered_algorithms: Sequence[str] | None = None,
           opaque: str | None = None) -> VerifyResult:
    """Check credentials as a UAS / registrar would (RFC 3261 sec. 22.4, RFC 7616 sec. 3.4).

    Each keyword enables one check: ``expected_realm``; ``request_uri`` (uri parameter must
    equal the Request-URI); ``username`` (needed when ``userhash``); ``secret`` + ``now``
    (nonce is ours and not older than ``max_age``; a stale nonce is reported only when the
    response is right, so the UAS can answer ``stale=true``, RFC 2617 sec. 3.2.1);
    ``tracker`` (nc must increase); ``offered_qop``; ``offered_algorithms``; ``opaque``.
    """
    def no(reason: VerifyReason, detail: str = "") -> VerifyResult:
        return VerifyResult(reason, detail)

    if isinstance(credentials, str):
        try:
            credentials = parse_credentials(credentials)
        except ParseError as exc:
            return no(VerifyReason.MALFORMED, exc.reason)
    cr = credentials
    alg = cr.algorithm_name
    if alg is None:
        return no(VerifyReason.UNSUPPORTED_ALGORITHM, f"algorithm={cr.algorithm}")
    if offered_algorithms is not None and alg.lower() not in {
            (a or "MD5").lower() for a in offered_algorithms}:
        return no(VerifyReason.ALGORITHM_NOT_OFFERED, f"algorithm={cr.algorithm}")
    if expected_realm is not None and cr.realm != expected_realm:
        return no(VerifyReason.WRONG_REALM, f"expected {expected_realm!r}, got {cr.realm!r}")
    if cr.userhash and username is None:
        raise LocalProtocolError("userhash credentials: pass the real username to verify")
    real_name = username if username is not None else cr.username
    if username is not None:
        if cr.userhash:
            wrong = cr.username.lower() != userhash(username, cr.realm, alg)
        else:
            wrong = cr.username != username
        if wrong:
            return no(VerifyReason.WRONG_USERNAME, f"got {cr.username!r}")
    if request_uri is not None and cr.uri != request_uri:
        return no(VerifyReason.WRONG_URI, f"uri {cr.uri!r}, request URI {request_uri!r}")
    state = NonceState.FRESH
    if secret is not None:
        if now is None:
            raise LocalProtocolError("verify(secret=...) needs now")
        state = check_nonce(cr.nonce, secret, now, max_age=max_age)
        if state is NonceState.UNKNOWN:
            return no(VerifyReason.UNKNOWN_NONCE, f"nonce {cr.nonce!r}")
    if opaque is not None and cr.opaque != opaque:
        return no(VerifyReason.OPAQUE_MISMATCH, f"got {cr.opaque!r}")
    qop = cr.qop.lower() if cr.qop is not None else None
    if qop is not None and (qop not in ("auth", "auth-int") or (
            offered_qop is not None and qop not in {q.lower() for q in offered_qop})):
        return no(VerifyReason.QOP_NOT_OFFERED, f"qop={cr.qop}")
    if qop is None and offered_qop:
        return no(VerifyReason.MISSING_QOP, f"offered {','.join(offered_qop)}")
    if (qop is not None or alg.endswith("-sess")) and not cr.cnonce:
        return no(VerifyReason.MISSING_CNONCE, f"qop={cr.qop}, algorithm={alg}")
    if qop is not None and cr.nc is None:
        return no(VerifyReason.MISSING_NC)
    expected = compute_response(
        username=real_name, realm=cr.realm, password=password, method=method, uri=cr.uri,
        nonce=cr.nonce, algorithm=alg, qop=cr.qop, nc=cr.nc, cnonce=cr.cnonce, body=body)
    got = cr.response.lower()
    if not (got.isascii() and hmac.compare_digest(expected, got)):
        return no(VerifyReason.WRONG_PASSWORD, f"user {real_name!r}")
    if state is NonceState.STALE:
        return no(VerifyReason.STALE_NONCE, f"nonce older than {max_age:g} s")
    if tracker is not None and qop is not None:
        nc = cr.nc_value
        assert nc is not None
        last = tracker.highest(cr.nonce)
        if not tracker.update(cr.nonce, nc):
            return no(VerifyReason.NC_NOT_INCREASING, f"nc={cr.nc} after {last:08x}")
    return VerifyResult(VerifyReason.OK)


class DigestServer:
    """A registrar / UAS side for one realm: issues challenges and verifies answers.

    Remembers what it offered (algorithm, qop, opaque) and the nonce counts it accepted.
    """

    def __init__(self, realm: str, secret: str | bytes, *, algorithm: str = "MD5",
                 qop: Sequence[str] = ("auth",), opaque: str | None = None,
                 max_age: float = NONCE_LIFETIME,
                 random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self.realm, self._secret = realm, secret
        self.algorithm, self.qop, self.opaque = algorithm, tuple(qop), opaque
        self.max_age = max_age
        self.tracker = NonceTracker()
        self._random = random_bytes

    def __repr__(self) -> str:
        return f"DigestServer(realm={self.realm!r}, algorithm={self.algorithm!r}, secret='***')"

    def challenge(self, now: float, *, stale: bool = False) -> Challenge:
        return make_challenge(self.realm, now, self._secret, algorithm=self.algorithm,
                              qop=self.qop, opaque=self.opaque, stale=stale,
                              random_bytes=self._random)

    def verify(self, credentials: Credentials | str, method: str, password: str, now: float,
               body: bytes = b"", *, request_uri: str | None = None,
               username: str | None = None) -> VerifyResult:
        return verify(credentials, method, password, body, expected_realm=self.realm,
                      request_uri=request_uri, username=username, secret=self._secret,
                      now=now, max_age=self.max_age, tracker=self.tracker,
                      offered_qop=self.qop, offered_algorithms=(self.algorithm,),
                      opaque=self.opaque)
