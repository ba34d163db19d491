"""SIP requests and responses as values (RFC 3261 sec. 7).

A message is parsed by :func:`parse_message` (``sipclient/proto/parsing.py``, re-exported
here), which does the least work that lets a message be trusted and leaves the rest to
these classes: a header look-up searches the received header block for that header's
lines, and the block is split into raw ``(name, value)`` pairs only when the headers are
iterated or changed. Every typed view (``msg.cseq``, ``msg.via`` ...) is parsed when first
read, cached until the headers change, and raises :class:`ParseError` naming the header.

The received bytes are kept: ``bytes(msg)`` gives them back byte for byte until the
message changes (headers, body, Request-URI, method, status, reason or version). After a
change, or for a message built in code, the message is rendered as start line, headers
as stored (``Name: value``), a Content-Length computed from the body (added if missing,
corrected if stale; ``serialize(fix_content_length=False)`` keeps what is stored) and
the body.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.headers import _CL_NAMES, _NAME_KEY, Headers, _key
from sipclient.proto.reasons import REASON_PHRASES
from sipclient.proto.uri import AbsoluteUri, SipUri, TelUri, parse_uri
from sipclient.proto.views import (_TOKEN_RE, REQUEST_VIEWS, TYPED_VIEWS, HeaderViews,
                                   _build_headers)

__all__ = ["Message", "Request", "Response", "parse_message", "REASON_PHRASES", "TYPED_VIEWS",
           "REQUEST_VIEWS"]

_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+\Z")


class Message(HeaderViews):
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


def __getattr__(name: str) -> Any:
    # parse_message lives in parsing.py, which builds on the classes above; imported on
    # first use so that either module can be imported first
    if name == "parse_message":
        from sipclient.proto.parsing import parse_message
        return parse_message
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
