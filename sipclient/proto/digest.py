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
and is re-exported here, as are the header values (:mod:`.digest_headers`) and the
algorithms (:mod:`.digest_alg`) this module builds on. The cnonce source is injectable so tests are exact. Remote garbage
raises :class:`ParseError`, local misuse :class:`LocalProtocolError`; nothing else escapes
on bad input.
"""

from __future__ import annotations

import secrets
from typing import Callable, Iterable, Sequence

from sipclient.proto.digest_alg import (_BASE, ALGORITHMS, canonical_algorithm, compute_response,
                                        userhash)
from sipclient.proto.digest_headers import (Challenge, Credentials, parse_challenge,
                                            parse_credentials)
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
