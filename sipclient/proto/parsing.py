"""parse_message: bytes to a :class:`Request` or :class:`Response` (RFC 3261 sec. 7).

It does the least work that lets a message be trusted: it checks the start line and every
header line (a garbage line is a :class:`ParseError` right away), finds the end of the
headers and frames the body with Content-Length (sec. 18.3, 20.14). The common message
takes one regex match (``_FAST_RE``) and nothing is decoded or split until it is read
(see message.py). Other messages (folded lines, bare LF ...) take a careful parser that
splits the header lines at once (unfolding continuation lines, sec. 7.3.1); both give the
same message.

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

from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.headers import _KEY as _KEY_LOWER
from sipclient.proto.headers import Headers
from sipclient.proto.message import _TOKEN_RE, _VERSION_RE, Request, Response

_new = object.__new__

__all__ = ["parse_message"]

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


def _split_lines(head: str) -> list[str]:
    lines = head.split("\r\n")
    if len(lines) - 1 != head.count("\n"):  # bare LF line endings somewhere
        lines = [ln[:-1] if ln.endswith("\r") else ln for ln in head.split("\n")]
    return lines


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
