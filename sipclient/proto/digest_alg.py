"""Digest algorithms and the response computation (RFC 2617; RFC 7616 sec. 3.2, 3.4.1, 6.1;
RFC 8760 sec. 2.2, 2.3): MD5, SHA-256, SHA-512-256 and their "-sess" variants, qop
``auth``, ``auth-int`` and none (RFC 2069). Re-exported by :mod:`sipclient.proto.digest`.
"""

from __future__ import annotations

import hashlib
import re

from sipclient.proto.errors import LocalProtocolError

__all__ = ["ALGORITHMS", "canonical_algorithm", "compute_response", "userhash"]

_NC_RE = re.compile(r"[0-9a-fA-F]{1,8}")


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
