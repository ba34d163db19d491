"""The typed views of a message's headers (``msg.cseq``, ``msg.via``, ``msg.from_`` ...).

Each view is parsed when first read, from the raw header value, and cached until the headers
change; a malformed value raises :class:`ParseError` naming the header (and its offset in
the received bytes). Values a call repeats (From, To, Call-ID, CSeq, Via) are parsed once
per process (``_MEMO``). :class:`HeaderViews` is the base of
:class:`sipclient.proto.message.Message`, whose state (``_headers``, ``_m``, ``_cache``)
it reads.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from sipclient.proto.digest_headers import parse_challenge, parse_credentials
from sipclient.proto.errors import ParseError
from sipclient.proto.fields import CSeq, Contact, ContentType, NameAddr, Via
from sipclient.proto.headers import _LOOKUPS, Headers, _key, _lookup

__all__ = ["HeaderViews", "TYPED_VIEWS", "REQUEST_VIEWS", "clear_memo"]

#: Every typed view of a message (what ``sipclient message check`` and the fuzz tests touch).
TYPED_VIEWS: tuple[str, ...] = (
    "call_id", "cseq", "via", "top_via", "from_", "to", "contact", "max_forwards", "expires",
    "route", "record_route", "content_type", "content_length", "allow", "supported",
    "require", "user_agent", "www_authenticate", "proxy_authenticate", "authorization",
    "proxy_authorization",
)
REQUEST_VIEWS: tuple[str, ...] = ("uri_parsed",)

_TOKEN_RE = re.compile(r"[A-Za-z0-9.!%*_+`'~\-]+\Z")
_TOKENS_RE = re.compile(r"[A-Za-z0-9.!%*_+`'~\-]++(?:,[A-Za-z0-9.!%*_+`'~\-]++)*+\Z")
_DIGITS_RE = re.compile(r"[0-9]+\Z")

_MISSING = object()

# Parsed header values shared by every message: the values are frozen, and a call's
# From, To, Call-ID, CSeq and Via come back verbatim in its responses and its next
# requests, so each is parsed once, not once per message. Keyed by header name (each
# name has one parser and one limit) and value; bounded (emptied when full).
_MEMO: dict[tuple[str, str], Any] = {}
_MEMO_MAX = 4096


def _memo_parse(header: str, parser: Callable[[str], Any], value: str) -> Any:
    key = (header, value)
    result = _MEMO.get(key, _MISSING)
    if result is _MISSING:
        result = parser(value)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = result
    return result


def clear_memo() -> None:
    """Forget every memoised value. :func:`sipclient.io.memory.release` calls it when a
    burst is over: entries made during the burst sit among its freed memory, and each one
    keeps a whole allocator arena (1 MiB) from going back to the system."""
    _MEMO.clear()


def _parse_call_id(value: str) -> str:
    if not value or " " in value or "\t" in value:
        raise ParseError(f"bad Call-ID {value!r}", header="Call-ID")
    return value


# -- how each kind of view reads its header (the class body declares one view a line) ------
def _one(header: str, parser: Callable[[str], Any], required: bool = False,
         doc: str | None = None) -> property:
    """A single-valued header, parsed; ``None`` when absent (a ParseError when required)."""
    return property(lambda self: self._parse_one(header, parser, required), doc=doc)


def _listed(header: str, parser: Callable[[str], Any], doc: str | None = None) -> property:
    """Every value of a comma-list header, each parsed; empty when absent."""
    return property(lambda self: self._parse_list(header, parser), doc=doc)


def _number(header: str, limit: int, doc: str | None = None) -> property:
    """A header of digits, at most ``limit``; ``None`` when absent."""
    def parse(value: str) -> int:
        if not _DIGITS_RE.match(value) or int(value) > limit:
            raise ParseError(f"bad {header}: expected a number up to {limit}, got {value!r}",
                             header=header)
        return int(value)
    return _one(header, parse, False, doc)


def _tokens(header: str, doc: str | None = None) -> property:
    """A comma list of tokens (Allow, Supported ...), as written; empty when absent."""
    return property(lambda self: self._token_list(header), doc=doc)


def _text(header: str) -> property:
    """A header's first value as text, unparsed; ``None`` when absent."""
    return property(lambda self: self.headers.get(header))


def _lines(header: str, parser: Callable[[str], Any], doc: str | None = None) -> property:
    """A header that is never comma-split (the auth headers): one parsed value a line."""
    return property(lambda self: self._parse_lines(header, parser), doc=doc)



_new = object.__new__


def _build_headers(m: re.Match[bytes] | None) -> Headers:
    """The headers of the block the fast path matched (read lazily: Headers._from_block)."""
    if m is None:  # a message made with __new__ and no headers
        return Headers._trusted([])
    h = _new(Headers)  # Headers._from_block written out: once per message
    h._items = None
    h._keys = None
    h._src = (m.string, m.start(5), m.end() - 3)
    h.version = 0
    return h


class HeaderViews:
    """Typed header views over a message's headers (see the module docstring)."""

    # -- the cache ------------------------------------------------------------------------
    def _view_cache(self) -> dict[str, Any]:
        """The cache of parsed views, emptied whenever the headers changed since."""
        h = self._headers
        if h is None:
            h = self.headers
        cache = self._cache
        if cache is None or self._cache_hv != h.version:
            cache = self._cache = {}
            self._cache_hv = h.version
        return cache

    def _cached(self, key: str, compute: Callable[[], Any]) -> Any:
        cache = self._view_cache()
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            cache[key] = value
        return value

    def header_offset(self, name: str) -> int | None:
        """Byte offset of the first line of header ``name`` in the received bytes (``None``
        when the message was built in code or changed since)."""
        raw = self._raw
        if raw is None or self._raw_hv != self.headers.version:
            return None
        k = _key(name)
        cut = raw.find(b"\n\r\n")
        cut2 = raw.find(b"\n\n")
        cut = min(c for c in (cut, cut2, len(raw)) if c >= 0)
        head = raw[:cut]
        pos = 0
        for line in head.split(b"\n"):
            n = line.split(b":", 1)[0].strip().decode("utf-8", "replace")
            if pos and line[:1] not in (b" ", b"\t") and _key(n) == k:
                return pos
            pos += len(line) + 1
        return None

    def _error(self, header: str, exc: Exception, what: str | None = None) -> ParseError:
        reason = exc.reason if isinstance(exc, ParseError) else str(exc)
        if what and not reason.startswith("bad "):
            reason = f"bad {what}: {reason}"
        return ParseError(reason, header=header, offset=self.header_offset(header),
                          status_hint=getattr(exc, "status_hint", 400))

    def _parse_one(self, header: str, parser: Callable[[str], Any], required: bool) -> Any:
        h = self._headers
        if h is None:
            h = self._headers = _build_headers(self._m)
        cache = self._cache
        if cache is None or self._cache_hv != h.version:
            cache = self._cache = {}
            self._cache_hv = h.version
        elif header in cache:  # (in and [] cost less than a .get call)
            return cache[header]
        if h._items is None:  # Headers.get of a received block, written out (hot path)
            found = (_LOOKUPS[header] if header in _LOOKUPS
                     else _lookup(header))[2](*h._src)  # type: ignore[misc]
            value = None
            if found is not None:
                value = found[1].decode("utf-8", "surrogateescape").rstrip(" \t")
                if "," in value:
                    value = h.get(header)  # a comma list: Headers.get takes the first element
        else:
            value = h.get(header)
        if value is None:
            if required:
                raise ParseError(f"missing {header} header", header=header)
            result = None
        else:
            try:
                result = _memo_parse(header, parser, value)
            except (ParseError, ValueError, IndexError, TypeError) as exc:
                raise self._error(header, exc, header) from None
        cache[header] = result
        return result

    def _parse_tuple(self, header: str, parser: Callable[[str], Any]) -> tuple:
        key = header + "[]"
        h = self._headers
        if h is None:
            h = self._headers = _build_headers(self._m)
        cache = self._cache
        if cache is None or self._cache_hv != h.version:
            cache = self._cache = {}
            self._cache_hv = h.version
        elif key in cache:
            return cache[key]
        out = []
        for value in h.get_all(header):
            try:
                out.append(_memo_parse(header, parser, value))
            except (ParseError, ValueError, IndexError, TypeError) as exc:
                raise self._error(header, exc, header) from None
        cache[key] = result = tuple(out)
        return result

    def _parse_list(self, header: str, parser: Callable[[str], Any]) -> list:
        return list(self._parse_tuple(header, parser))

    def _parse_lines(self, header: str, parser: Callable[[str], Any]) -> list:
        """Like _parse_list for headers that are never comma-split (auth headers)."""
        def compute():
            out = []
            for value in self.headers.get_lines(header):
                try:
                    out.append(parser(value))
                except (ParseError, ValueError, IndexError, TypeError, AttributeError) as exc:
                    raise self._error(header, exc, header) from None
            return tuple(out)
        return list(self._cached(header + "[lines]", compute))

    # -- the views: one line each, the header and how its value is read ------------------
    call_id = _one("Call-ID", _parse_call_id, True,
                   "Call-ID (RFC 3261 sec. 20.8): required, one ``word[@word]`` without spaces.")
    cseq = _one("CSeq", CSeq.parse, True, "CSeq (RFC 3261 sec. 20.16), required.")
    via = _listed("Via", Via.parse,
                  "All Via values, top first (RFC 3261 sec. 20.42); empty when there is none.")
    from_ = _one("From", NameAddr.parse, True, "From (RFC 3261 sec. 20.20), required.")
    to = _one("To", NameAddr.parse, True, "To (RFC 3261 sec. 20.39), required.")
    contact = _listed("Contact", Contact.parse, "Contact values (RFC 3261 sec. 20.10); "
                      "``[Contact(is_star=True)]`` for ``*``.")
    route = _listed("Route", NameAddr.parse)
    record_route = _listed("Record-Route", NameAddr.parse)
    max_forwards = _number("Max-Forwards", 2**31 - 1,
                           "Max-Forwards (RFC 3261 sec. 20.22), 0..255 tolerated up to 2**31.")
    expires = _number("Expires", 2**32 - 1, "Expires (RFC 3261 sec. 20.19), delta-seconds.")
    min_expires = _number("Min-Expires", 2**32 - 1)
    content_length = _number("Content-Length", 2**31 - 1, "Content-Length as stored "
                             "(RFC 3261 sec. 20.14); ``None`` when absent.")
    content_type_parsed = _one("Content-Type", ContentType.parse)
    allow = _tokens("Allow", "Allow (RFC 3261 sec. 20.5): methods as written.")
    supported = _tokens("Supported")
    require = _tokens("Require")
    unsupported = _tokens("Unsupported")
    user_agent = _text("User-Agent")
    server = _text("Server")
    www_authenticate = _lines("WWW-Authenticate", parse_challenge, "WWW-Authenticate "
                              "challenges (RFC 3261 sec. 20.44), one per header line.")
    proxy_authenticate = _lines("Proxy-Authenticate", parse_challenge)
    authorization = _lines("Authorization", parse_credentials, "Authorization credentials "
                           "(RFC 3261 sec. 20.7), one per header line.")
    proxy_authorization = _lines("Proxy-Authorization", parse_credentials)

    @property
    def top_via(self) -> Via:
        vias = self._parse_tuple("Via", Via.parse)
        if not vias:
            raise ParseError("missing Via header", header="Via")
        return vias[0]

    @property
    def content_type(self) -> str | None:
        """Media type of the body, lower-cased, without parameters (``"application/sdp"``)."""
        ct = self.content_type_parsed
        return None if ct is None else ct.media_type

    def _token_list(self, header: str) -> list[str]:
        def compute():
            out = self.headers.get_all(header)
            if not out or _TOKENS_RE.match(",".join(out)):  # all tokens: one match
                return tuple(out)
            for value in out:  # find the bad one
                if not _TOKEN_RE.match(value):
                    raise ParseError(f"bad {header}: {value!r} is not a token", header=header,
                                     offset=self.header_offset(header))
            return tuple(out)
        return list(self._cached(header + "[]", compute))

    def check_views(self) -> None:
        """Touch every typed view, so a malformed known header raises :class:`ParseError`."""
        for name in TYPED_VIEWS:
            getattr(self, name)
        if self.is_request:
            for name in REQUEST_VIEWS:
                getattr(self, name)
