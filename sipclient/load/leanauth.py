"""The digest answers of the lean REGISTER engine (:mod:`sipclient.load.leanreg`), precomputed
(pure).

What never changes is computed once: HA2 = MD5("REGISTER:" Request-URI) per registrar, and
per user and realm HA1 = MD5(user:realm:password) with the fixed start of the credentials
line. A challenge line read once (:func:`read_challenge`) is kept by its bytes
(:class:`Challenges`): a registrar such as Kamailio hands out the same nonce for a while, so
most challenges are looked up, not read. A registration then costs one MD5 (the response)
and one join (:meth:`Answerer.line`).

Answered here: MD5 with qop absent or offering ``auth`` (RFC 2617 3.2.2; ``nc=00000001``:
each nonce is answered once), no ``userhash``, one challenge of its kind in the response,
in the usual spelling (``WWW-Authenticate: Digest ...``). Anything else (SHA-256, ``-sess``,
``auth-int``, several challenges, an odd spelling) gets None and goes to the general
:class:`~sipclient.proto.digest.DigestClient`.
"""

from __future__ import annotations

import hashlib
import re
from binascii import hexlify

__all__ = ["Challenge", "Challenges", "Answerer", "read_challenge", "challenge_line",
           "CACHE_SIZE"]

_PARAM = re.compile(rb'([A-Za-z-]+)[ \t]*=[ \t]*(?:"([^"]*)"|([^\s,]+))')
_NAMES = {401: b"\r\nWWW-Authenticate: Digest ", 407: b"\r\nProxy-Authenticate: Digest "}
#: the header answering each challenge, with the start of its value
_HEADERS = {401: b'Authorization: Digest username="', 407: b'Proxy-Authorization: Digest '
            b'username="'}
#: distinct challenge lines kept (then the table starts again)
CACHE_SIZE = 256


class Challenge:
    """One challenge this module answers: its realm, nonce, whether ``qop=auth`` is used
    and the end of the credentials after the response (algorithm, opaque)."""

    __slots__ = ("realm", "nonce", "qop", "tail")

    def __init__(self, params: dict[bytes, bytes]) -> None:
        self.realm = params[b"realm"]
        self.nonce = params[b"nonce"]
        self.qop = b"qop" in params
        opaque = params.get(b"opaque")
        self.tail = b'", algorithm=MD5' + (b', opaque="%s"' % opaque if opaque is not None
                                          else b"")


def challenge_line(data: bytes, status: int) -> bytes | None:
    """The value of the one ``WWW-Authenticate: Digest`` (407: ``Proxy-Authenticate``)
    header of ``data`` after the scheme; None when there is none or several."""
    name = _NAMES[status]
    i = data.find(name)
    if i < 0 or data.find(name, i + 1) >= 0:  # missing, or several: the parser chooses
        return None
    i += len(name)
    end = data.find(b"\r\n", i)
    return data[i:end] if end >= 0 else data[i:]


def read_challenge(line: bytes) -> Challenge | None:
    """The challenge in ``line`` (see :func:`challenge_line`) when this module answers it."""
    params = {m[1].lower(): m[2] if m[2] is not None else m[3]
              for m in _PARAM.finditer(line)}
    if b"realm" not in params or b"nonce" not in params or b"userhash" in params:
        return None
    if params.get(b"algorithm", b"MD5").upper() != b"MD5":
        return None
    qop = params.get(b"qop")
    if qop is not None and b"auth" not in [q.strip() for q in qop.split(b",")]:
        return None
    return Challenge(params)


class Challenges(dict[bytes, "Challenge | None"]):
    """:func:`read_challenge` kept by line: ``challenges[line]`` (at most
    :data:`CACHE_SIZE` lines, then the table starts again)."""

    def __missing__(self, line: bytes) -> Challenge | None:
        if len(self) >= CACHE_SIZE:
            self.clear()
        ch = self[line] = read_challenge(line)
        return ch


class _Key:
    """A user's HA1 and the start of its credentials for one realm."""

    __slots__ = ("realm", "ha1", "ha1c", "head")


class Answerer:
    """The credentials lines of one registrar's users: ``uri`` is the Request-URI (bytes),
    ``cnonce_prefix`` starts every cnonce (a counter follows)."""

    def __init__(self, uri: bytes, cnonce_prefix: bytes) -> None:
        self.uri = uri
        ha2 = hexlify(hashlib.md5(b"REGISTER:" + uri).digest())
        self._ha2 = ha2
        self._ha2c = b":" + ha2
        self._mid = b'", uri="' + uri + b'", response="'
        self._cnonce = cnonce_prefix
        self._count = 0

    def key(self, user: bytes, password: bytes, realm: bytes) -> _Key:
        k = _Key()
        k.realm = realm
        k.ha1 = hexlify(hashlib.md5(b"%s:%s:%s" % (user, realm, password)).digest())
        k.ha1c = k.ha1 + b":"
        k.head = b'%s", realm="%s", nonce="' % (user, realm)
        return k

    def line(self, status: int, key: _Key, ch: Challenge) -> bytes:
        """The CRLF-ended ``Authorization`` (407: ``Proxy-Authorization``) line answering
        ``ch`` with ``key`` (of the challenge's realm)."""
        nonce = ch.nonce
        if not ch.qop:
            response = hexlify(hashlib.md5(key.ha1c + nonce + self._ha2c).digest())
            return b"".join((_HEADERS[status], key.head, nonce, self._mid, response, ch.tail,
                             b"\r\n"))
        self._count += 1
        cnonce = b"%s%x" % (self._cnonce, self._count)
        response = hexlify(hashlib.md5(b":".join(
            (key.ha1, nonce, b"00000001", cnonce, b"auth", self._ha2))).digest())
        return b"".join((_HEADERS[status], key.head, nonce, self._mid, response, ch.tail,
                         b', qop=auth, nc=00000001, cnonce="', cnonce, b'"\r\n'))
