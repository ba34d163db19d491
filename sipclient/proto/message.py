"""SIP requests and responses as values (RFC 3261 sec. 7).

:func:`parse_message` does the least work that lets a message be trusted: it checks the
start line and every header line (a garbage line is a :class:`ParseError` right away),
finds the end of the headers and frames the body with Content-Length (sec. 18.3, 20.14).
The common message takes one regex match (``_FAST_RE``) and nothing is decoded or split
until it is read: a header look-up searches the received header block for that header's
lines, and the block is split into raw ``(name, value)`` pairs only when the headers are
iterated or changed. Other messages (folded lines, bare LF ...) take a careful parser that
splits the header lines at once (unfolding continuation lines, sec. 7.3.1); both give the
same message. Every typed view (``msg.cseq``, ``msg.via`` ...) is parsed when first read,
cached until the headers change, and raises :class:`ParseError` naming the header.

The received bytes are kept: ``bytes(msg)`` gives them back byte for byte until the
message changes (headers, body, Request-URI, method, status, reason or version). After a
change, or for a message built in code, the message is rendered as start line, headers
as stored (``Name: value``), a Content-Length computed from the body (added if missing,
corrected if stale; ``serialize(fix_content_length=False)`` keeps what is stored) and
the body.

Input tolerance: leading CRLFs before the start line are skipped (keep-alives, sec. 7.5);
bare LF line endings are accepted (a message pasted from a ticket); header text is
decoded as UTF-8, and bytes that are not valid UTF-8 are kept as lone surrogates
(``surrogateescape``) so that they re-encode to the very same bytes.
Framing of a datagram (sec. 18.3): a Content-Length shorter than what follows the headers
truncates the body to it, a longer one is a :class:`ParseError`, none means the rest of
the datagram is the body.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.fields import CSeq, Contact, ContentType, NameAddr, Via
from sipclient.proto.headers import _KEY as _KEY_LOWER
from sipclient.proto.headers import _CL_NAMES, _LOOKUPS, _NAME_KEY, Headers, _key, _lookup
from sipclient.proto.uri import AbsoluteUri, SipUri, TelUri, parse_uri

__all__ = ["Message", "Request", "Response", "parse_message", "REASON_PHRASES", "TYPED_VIEWS"]

#: Default reason phrases (RFC 3261 sec. 21 and the IANA response-code registry).
REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
    438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}

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
_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+\Z")
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


def _bad(reason: str, header: str | None = None, offset: int | None = None) -> ParseError:
    return ParseError(reason, header=header, offset=offset)


def _parse_call_id(value: str) -> str:
    if not value or " " in value or "\t" in value:
        raise ParseError(f"bad Call-ID {value!r}", header="Call-ID")
    return value


class Message:
    """What requests and responses share: headers, body, version and the typed views."""

    # Class-level defaults keep parsing cheap: a parsed message sets only what it has.
    is_request: bool = False
    _headers: Headers | None = None
    # a message from the fast path keeps the match of _FAST_RE over the received bytes: its
    # headers (see _build_headers), body and start line's fields are read from it when first
    # used (the fields stay None until then)
    _m: re.Match[bytes] | None = None
    _body: bytes | None = None
    _raw: bytes | None = None
    _raw_hv = 0  # headers version the received bytes match (a new Headers starts at 0)
    _version = "SIP/2.0"
    _built: bytes | None = None
    _built_hv = -1
    _cache: dict[str, Any] | None = None
    _cache_hv = -1

    def __init__(self, headers: Headers | Iterable[tuple[str, str]] | None = None,
                 body: bytes = b"", version: str = "SIP/2.0") -> None:
        if type(body) is not bytes:  # (bytes, the rule, needs no isinstance nor copy)
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise LocalProtocolError(f"body must be bytes, not {type(body).__name__}")
            body = bytes(body)
        self._headers = headers if type(headers) is Headers or isinstance(
            headers, Headers) else Headers(headers)
        self._body = body
        self._version = version

    # -- state that invalidates the cached bytes -------------------------------------------
    def _touch(self) -> None:
        self._raw = None
        self._built = None

    @property
    def headers(self) -> Headers:
        h = self._headers
        if h is None:
            h = self._headers = _build_headers(self._m)
        return h

    @headers.setter
    def headers(self, value: Headers | Iterable[tuple[str, str]]) -> None:
        self._headers = value if isinstance(value, Headers) else Headers(value)
        self._cache = None
        self._cache_hv = -1
        self._touch()

    @property
    def body(self) -> bytes:
        body = self._body
        if body is None:  # from the fast path: cut it out of the received bytes
            m = self._m
            length = m[6]  # type: ignore[union-attr]
            start = m.end()  # type: ignore[union-attr]
            data = m.string  # type: ignore[union-attr]
            body = self._body = data[start:start + int(length) if length else len(data)]
        return body

    @body.setter
    def body(self, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"body must be bytes, not {type(value).__name__}")
        self._body = bytes(value)
        self._touch()

    @property
    def version(self) -> str:
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        self._version = value
        self._touch()

    @property
    def start_line(self) -> str:
        raise NotImplementedError

    # -- serialization ---------------------------------------------------------------------
    def serialize(self, fix_content_length: bool = True) -> bytes:
        """The message as bytes (see the module docstring for what is kept and fixed)."""
        h = self._headers
        hv = 0 if h is None else h.version
        if self._raw is not None and self._raw_hv == hv:
            return self._raw
        if fix_content_length and self._built is not None and self._built_hv == hv:
            return self._built
        items = self.headers._load()
        lines = [self.start_line, "\r\n"]
        if fix_content_length:
            length = str(len(self.body))
            seen = False
            for name, value in items:
                if name in _CL_NAMES or (name not in _NAME_KEY and _key(name) == "content-length"):
                    if seen:
                        continue
                    seen = True
                    value = length
                lines += (name, ": ", value, "\r\n")
            if not seen:
                lines += ("Content-Length: ", length, "\r\n")
        else:
            for name, value in items:
                lines += (name, ": ", value, "\r\n")
        lines.append("\r\n")
        out = "".join(lines).encode("utf-8", "surrogateescape") + self.body
        if fix_content_length:
            self._built = out
            self._built_hv = hv
        return out

    def __bytes__(self) -> bytes:
        raw = self._raw
        if raw is not None:  # parsed, and the headers not changed since
            h = self._headers
            if h is None or h.version == self._raw_hv:
                return raw
        return self.serialize()

    def copy(self):
        """An independent copy (headers copied; the received bytes stay valid)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        if self._headers is not None:
            new._headers = self._headers.copy()
            new._headers.version = self._headers.version
        if self._cache is not None:
            new._cache = dict(self._cache)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (type(self) is type(other) and self.start_line == other.start_line
                and self.headers == other.headers and self.body == other.body)

    __hash__ = None  # type: ignore[assignment]

    # -- typed views -----------------------------------------------------------------------
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
            memo_key = (header, value)
            result = _MEMO.get(memo_key, _MISSING)
            if result is _MISSING:
                try:
                    result = parser(value)
                except (ParseError, ValueError, IndexError, TypeError) as exc:
                    raise self._error(header, exc, header) from None
                if len(_MEMO) >= _MEMO_MAX:
                    _MEMO.clear()
                _MEMO[memo_key] = result
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

    @property
    def call_id(self) -> str:
        """Call-ID (RFC 3261 sec. 20.8): required, one ``word[@word]`` without spaces."""
        return self._parse_one("Call-ID", _parse_call_id, True)

    @property
    def cseq(self) -> CSeq:
        """CSeq (RFC 3261 sec. 20.16), required."""
        return self._parse_one("CSeq", CSeq.parse, True)

    @property
    def via(self) -> list[Via]:
        """All Via values, top first (RFC 3261 sec. 20.42); empty when there is none."""
        return self._parse_list("Via", Via.parse)

    @property
    def top_via(self) -> Via:
        vias = self._parse_tuple("Via", Via.parse)
        if not vias:
            raise ParseError("missing Via header", header="Via")
        return vias[0]

    @property
    def from_(self) -> NameAddr:
        """From (RFC 3261 sec. 20.20), required."""
        return self._parse_one("From", NameAddr.parse, True)

    @property
    def to(self) -> NameAddr:
        """To (RFC 3261 sec. 20.39), required."""
        return self._parse_one("To", NameAddr.parse, True)

    @property
    def contact(self) -> list[Contact]:
        """Contact values (RFC 3261 sec. 20.10); ``[Contact(is_star=True)]`` for ``*``."""
        return self._parse_list("Contact", Contact.parse)

    @property
    def route(self) -> list[NameAddr]:
        return self._parse_list("Route", NameAddr.parse)

    @property
    def record_route(self) -> list[NameAddr]:
        return self._parse_list("Record-Route", NameAddr.parse)

    def _int_header(self, header: str, limit: int) -> int | None:
        cache = self._view_cache()
        result = cache.get(header, _MISSING)
        if result is not _MISSING:
            return result

        def parse(value: str) -> int:
            if not _DIGITS_RE.match(value) or int(value) > limit:
                raise ParseError(f"bad {header}: expected a number up to {limit}, got {value!r}",
                                 header=header)
            return int(value)
        return self._parse_one(header, parse, False)

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (RFC 3261 sec. 20.22), 0..255 tolerated up to 2**31."""
        return self._int_header("Max-Forwards", 2**31 - 1)

    @property
    def expires(self) -> int | None:
        """Expires (RFC 3261 sec. 20.19), delta-seconds."""
        return self._int_header("Expires", 2**32 - 1)

    @property
    def min_expires(self) -> int | None:
        return self._int_header("Min-Expires", 2**32 - 1)

    @property
    def content_length(self) -> int | None:
        """Content-Length as stored (RFC 3261 sec. 20.14); ``None`` when absent."""
        return self._int_header("Content-Length", 2**31 - 1)

    @property
    def content_type_parsed(self) -> ContentType | None:
        return self._parse_one("Content-Type", ContentType.parse, False)

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

    @property
    def allow(self) -> list[str]:
        """Allow (RFC 3261 sec. 20.5): methods as written."""
        return self._token_list("Allow")

    @property
    def supported(self) -> list[str]:
        return self._token_list("Supported")

    @property
    def require(self) -> list[str]:
        return self._token_list("Require")

    @property
    def unsupported(self) -> list[str]:
        return self._token_list("Unsupported")

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("User-Agent")

    @property
    def server(self) -> str | None:
        return self.headers.get("Server")

    @property
    def www_authenticate(self) -> list:
        """WWW-Authenticate challenges (RFC 3261 sec. 20.44), one per header line."""
        from sipclient.proto.digest import parse_challenge
        return self._parse_lines("WWW-Authenticate", parse_challenge)

    @property
    def proxy_authenticate(self) -> list:
        from sipclient.proto.digest import parse_challenge
        return self._parse_lines("Proxy-Authenticate", parse_challenge)

    @property
    def authorization(self) -> list:
        """Authorization credentials (RFC 3261 sec. 20.7), one per header line."""
        from sipclient.proto.digest import parse_credentials
        return self._parse_lines("Authorization", parse_credentials)

    @property
    def proxy_authorization(self) -> list:
        from sipclient.proto.digest import parse_credentials
        return self._parse_lines("Proxy-Authorization", parse_credentials)

    def check_views(self) -> None:
        """Touch every typed view, so a malformed known header raises :class:`ParseError`."""
        for name in TYPED_VIEWS:
            getattr(self, name)
        if self.is_request:
            for name in REQUEST_VIEWS:
                getattr(self, name)


class Request(Message):
    """A SIP request (RFC 3261 sec. 7.1). ``uri`` is the Request-URI text."""

    _uri_parsed: tuple[str, Any] | None = None
    is_request = True
    _method: str | None = None  # None: not yet read from the fast path's match
    _uri: str | None = None

    def __init__(self, method: str, uri: str | SipUri | TelUri | AbsoluteUri,
                 headers: Headers | Iterable[tuple[str, str]] | None = None,
                 body: bytes = b"", version: str = "SIP/2.0") -> None:
        super().__init__(headers, body, version)
        if not isinstance(method, str) or not _TOKEN_RE.match(method):
            raise LocalProtocolError(f"bad method {method!r}")
        self._method = method
        self._uri = str(uri)
        self._uri_parsed = None

    @property
    def method(self) -> str:
        method = self._method
        if method is None:
            method = self._method = self._m[3].decode("ascii")  # type: ignore[union-attr]
        return method

    @method.setter
    def method(self, value: str) -> None:
        self._method = value
        self._touch()

    @property
    def uri(self) -> str:
        uri = self._uri
        if uri is None:
            uri = self._uri = self._m[4].decode(  # type: ignore[union-attr]
                "utf-8", "surrogateescape")
        return uri

    @uri.setter
    def uri(self, value: str | SipUri | TelUri | AbsoluteUri) -> None:
        self._uri = str(value)
        self._touch()

    @property
    def uri_parsed(self) -> SipUri | TelUri | AbsoluteUri:
        """The Request-URI parsed (RFC 3261 sec. 19.1); ParseError (header None) if bad."""
        uri = self.uri
        hit = self._uri_parsed
        if hit is not None and hit[0] is uri:
            return hit[1]
        try:
            parsed = parse_uri(uri)
        except ParseError as exc:
            raise ParseError(f"bad Request-URI: {exc.reason}", status_hint=416
                             if ":" not in uri else 400) from None
        self._uri_parsed = (uri, parsed)
        return parsed

    @property
    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self._version}"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} ({len(self.headers)} headers, " \
               f"{len(self.body)} body bytes)>"


class Response(Message):
    """A SIP response (RFC 3261 sec. 7.2)."""

    is_request = False
    _status: int | None = None  # None: not yet read from the fast path's match
    _reason: str | None = None

    def __init__(self, status: int, reason: str = "",
                 headers: Headers | Iterable[tuple[str, str]] | None = None,
                 body: bytes = b"", version: str = "SIP/2.0") -> None:
        super().__init__(headers, body, version)
        if not isinstance(status, int) or not 100 <= status <= 699:
            raise LocalProtocolError(f"bad status code {status!r}")
        self._status = status
        self._reason = reason or REASON_PHRASES.get(status, "")

    @property
    def status(self) -> int:
        status = self._status
        if status is None:
            status = self._status = int(self._m[1])  # type: ignore[union-attr]
        return status

    @status.setter
    def status(self, value: int) -> None:
        self._status = value
        self._touch()

    @property
    def reason(self) -> str:
        reason = self._reason
        if reason is None:
            raw = self._m[2]  # type: ignore[union-attr]
            reason = self._reason = raw.decode("utf-8", "surrogateescape") if raw else ""
        return reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value
        self._touch()

    @property
    def start_line(self) -> str:
        return f"{self._version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} ({len(self.headers)} headers, " \
               f"{len(self.body)} body bytes)>"


# -- parsing -------------------------------------------------------------------------------
_BARE_CR = re.compile(rb"\r(?!\n)")


def _no_bare_cr(data: bytes) -> None:
    """A CR not followed by LF in the head is an error: a response would have to echo the
    header holding it, and no header may (RFC 3261 7: lines end in CRLF)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = data.find(b"\n\n")
    bare = _BARE_CR.search(data, 0, head_end if head_end >= 0 else len(data))
    if bare is not None:
        raise ParseError("a CR not followed by LF in the head (RFC 3261 7: lines end in CRLF)",
                         offset=bare.start())


def parse_message(data: bytes) -> Request | Response:
    """Parse one SIP message held in ``data`` (a datagram, or a framed stream message).

    Raises :class:`ParseError` on malformed input and nothing else.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            raise LocalProtocolError(f"parse_message wants bytes, not {type(data).__name__}")
        data = bytes(data)
    _no_bare_cr(data)
    # The fast path (see _FAST_RE): the start line's fields, the headers and the body are
    # read from the match when first used.
    m = _FAST_RE.match(data)
    if m is not None:
        length = m[6]
        if length is None:  # no Content-Length: the rest of the datagram is the body
            msg: Request | Response = _new(Request if m[1] is None else Response)
            msg._m = m
            msg._raw = data
            return msg
        body_end = m.end() + int(length)  # at most 11 digits (_FAST_RE)
        if body_end <= len(data):
            msg = _new(Request if m[1] is None else Response)
            msg._m = m
            msg._raw = data if body_end == len(data) else data[:body_end]
            return msg
    start = 0
    if data[:1] in (b"\r", b"\n"):  # CRLF keep-alives before the message (sec. 7.5)
        start = len(data) - len(data.lstrip(b"\r\n"))
    try:
        return _parse_slow(data, start)
    except ParseError:
        raise
    except (ValueError, IndexError, UnicodeError, TypeError, AttributeError) as exc:
        raise ParseError(f"malformed message: {exc}") from None


# -- the fast path -------------------------------------------------------------------------
# One match of _FAST_RE reads the common message: a start line with SIP/2.0 (no CRLF before
# it), header lines "token *WSP : value" each ended by CRLF (a bare CR may sit inside a
# value; no folding, no bare LF), at most one Content-Length (any spelling, compact too)
# with digits for its value, then the empty line. It runs left to right without backtracking
# (possessive quantifiers) and yields the start line's parts (groups 1-4), where the header
# block starts (group 5; it ends 3 bytes before the body) and the Content-Length (group 6).
# Whatever it refuses goes to _parse_slow, which accepts a superset (folding, bare LF, LWS,
# leading CRLFs, other versions, repeated Content-Length headers that agree ...), builds the
# same message for everything the fast path accepts (tests/proto/test_fast_paths.py), and
# raises ParseError with its offset for a garbage header line: the fast path never rejects.
_TOKEN_B = rb"[A-Za-z0-9.!%*_+`'~\-]"
_CL_NAME_B = rb"(?i:content-length|l)[ \t]*+:"
# a header line: "\n" + line + "\r", the "\r" inside [^\n]*+ (a bare CR may be in the value)
_LINE_B = rb"\n(?!" + _CL_NAME_B + rb")" + _TOKEN_B + rb"++[ \t]*+:[^\n]*+(?<=\r)"
_FAST_RE = re.compile(
    rb"(?:SIP/2\.0 ([1-6][0-9][0-9])(?: ([^\r\n]*+))?|(" + _TOKEN_B + rb"++) ([^ \r\n]++) SIP/2\.0)"
    rb"\r()(?:" + _LINE_B + rb")*+"  # () marks where the header block starts
    rb"(?:\n" + _CL_NAME_B + rb"[ \t]*+([0-9]{1,11}+)[ \t]*+\r(?:" + _LINE_B + rb")*+)?"
    rb"\n\r\n"
)
_new = object.__new__


def _split_lines(head: str) -> list[str]:
    lines = head.split("\r\n")
    if len(lines) - 1 != head.count("\n"):  # bare LF line endings somewhere
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in head.split("\n")]
    return lines


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



def _parse_slow(data: bytes, start: int) -> Request | Response:
    """The careful parser: any line endings, every check with its location."""
    _no_bare_cr(data)
    if start >= len(data):
        raise ParseError("empty message" if not data else "empty message (only line breaks)",
                         offset=0)
    # End of the header section: the first empty line, CRLF or bare LF (sec. 7).
    e1 = data.find(b"\n\r\n", start)
    e2 = data.find(b"\n\n", start)
    if e1 < 0 and e2 < 0:
        raise ParseError("no empty line after the headers (truncated message?)",
                         offset=len(data))
    if e2 < 0 or 0 <= e1 < e2:
        end, body_start = e1, e1 + 3
    else:
        end, body_start = e2, e2 + 2
    head_end = end - 1 if data[end - 1] == 13 else end  # 13 = '\r'
    text = data[start:head_end].decode("utf-8", "surrogateescape")
    lines = _split_lines(text)

    # -- start line (sec. 7.1, 7.2)
    first = lines[0]
    msg: Request | Response
    if first.startswith("SIP/"):
        parts = first.split(" ", 2)
        if len(parts) < 2 or not _VERSION_RE.match(parts[0]):
            raise ParseError(f"bad status line {first!r}: expected 'SIP/2.0 <code> <reason>'",
                             offset=start)
        code = parts[1]
        if len(code) != 3 or not code.isdigit() or not "100" <= code <= "699":
            raise ParseError(f"bad status code {code!r} in status line", offset=start)
        msg = Response.__new__(Response)
        msg._status = int(code)
        msg._reason = parts[2] if len(parts) > 2 else ""
        msg._version = parts[0]
    else:
        parts = first.split(" ")
        if len(parts) != 3:
            raise ParseError(f"bad request line {first[:80]!r}: expected "
                             "'<method> <request-uri> SIP/2.0'", offset=start)
        method, uri, version = parts
        if not _TOKEN_RE.match(method):
            raise ParseError(f"bad method {method[:40]!r} in request line", offset=start)
        if not uri:
            raise ParseError("empty Request-URI", offset=start)
        if not _VERSION_RE.match(version):
            raise ParseError(f"bad SIP version {version[:40]!r} in request line",
                             offset=start, status_hint=505 if version.startswith("SIP/") else 400)
        msg = Request.__new__(Request)
        msg._method = method
        msg._uri = uri
        msg._version = version

    # -- header lines (sec. 7.3), unfolding continuation lines (sec. 7.3.1)
    items: list[tuple[str, str]] = []
    keys: list[str] = []
    append = items.append
    kappend = keys.append
    key_of = _KEY_LOWER
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        c0 = line[:1]
        if c0 == " " or c0 == "\t":
            if not items:
                raise ParseError("continuation line before the first header",
                                 offset=_line_start(data, start, _index_of(lines, line)))
            n, v = items[-1]
            items[-1] = (n, (v + " " + line.strip(" \t")).strip(" \t"))
            continue
        if not sep or not name:
            raise ParseError(f"bad header line {line[:60]!r}: expected 'Name: value'",
                             offset=_line_start(data, start, _index_of(lines, line)))
        if name[-1] == " " or name[-1] == "\t":
            name = name.rstrip(" \t")
            if not name:
                raise ParseError(f"bad header line {line[:60]!r}: empty name",
                                 offset=_line_start(data, start, _index_of(lines, line)))
        if not _TOKEN_RE.match(name):
            raise ParseError(f"bad header name {name[:40]!r}",
                             offset=_line_start(data, start, _index_of(lines, line)))
        low = name.lower()
        append((name, value.strip(" \t")))
        kappend(key_of.get(low, low))

    # -- body framing (sec. 18.3, 20.14)
    rest = len(data) - body_start
    if "content-length" in keys:
        i = keys.index("content-length")
        value = items[i][1]
        if not value.isdigit() or not value.isascii():
            raise ParseError(f"bad Content-Length {value[:40]!r}: expected a number",
                             header="Content-Length", offset=_line_start(data, start, _header_line_no(lines, i)))
        length = int(value)
        if keys.count("content-length") > 1:
            for j, k in enumerate(keys):
                if k == "content-length" and items[j][1] != value:
                    raise ParseError("conflicting Content-Length headers",
                                     header="Content-Length",
                                     offset=_line_start(data, start, _header_line_no(lines, j)))
        if length > rest:
            raise ParseError(f"Content-Length {length} but only {rest} body bytes",
                             header="Content-Length", offset=body_start)
        body_end = body_start + length
    else:
        body_end = len(data)

    msg._headers = Headers._trusted(items, keys)
    msg._body = data[body_start:body_end]
    msg._raw = data[start:body_end] if start or body_end != len(data) else data
    return msg


def _line_start(data: bytes, start: int, line_no: int) -> int:
    """Byte offset of line ``line_no`` (0 = start line) of the message starting at ``start``."""
    pos = start
    for _ in range(line_no):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            break
        pos = nxt + 1
    return pos


def _header_line_no(lines: list[str], index: int) -> int:
    """Line number (0 = start line) of the index-th header, skipping continuation lines."""
    count = -1
    for no, ln in enumerate(lines):
        if no and ln[:1] in (" ", "\t"):
            continue
        if count == index:
            return no
        count += 1
    return len(lines) - 1


def _index_of(lines: list[str], line: str) -> int:
    for i, ln in enumerate(lines):
        if ln is line:
            return i
    return 0
