"""SIP header fields kept raw, in order (RFC 3261 sec. 7.3 and 20).

A :class:`Headers` holds the ``(name, value)`` pairs of a message exactly as received
(names in their original spelling, compact or full; values with folding collapsed to one
space, RFC 3261 sec. 7.3.1). Look-ups are case-insensitive and treat a compact form as
its full name (``"i"`` == ``"Call-ID"``, sec. 7.3.3).

Comma-separated lists (sec. 7.3.1: "multiple header field rows with the same field-name
... MAY be combined into one header field row ... separated by commas") are split by
:meth:`Headers.get_all` only for the headers whose grammar is a comma list; headers such
as WWW-Authenticate, Authorization, Date, User-Agent or Server carry commas inside one
value and are never split.
"""

from __future__ import annotations

import re
from collections import abc
from typing import Any, Callable, Iterable, Iterator, Mapping

from sipclient.proto.errors import LocalProtocolError

__all__ = ["COMPACT_FORMS", "CANONICAL_NAMES", "LIST_HEADERS", "Headers", "canonical_name",
           "split_list"]

#: Compact forms (IANA "Session Initiation Protocol (SIP) Parameters: Header Fields").
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",  # RFC 3841
    "b": "Referred-By",  # RFC 3892
    "c": "Content-Type",
    "d": "Request-Disposition",  # RFC 3841
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",  # RFC 3841
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",  # RFC 4474 (obsoleted by RFC 8224)
    "o": "Event",  # RFC 6665
    "r": "Refer-To",  # RFC 3515
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",  # RFC 6665
    "v": "Via",
    "x": "Session-Expires",  # RFC 4028
    "y": "Identity",  # RFC 8224
}

_KNOWN = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
    "Alert-Info", "Allow", "Allow-Events", "Authentication-Info", "Authorization", "Call-ID",
    "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-ID",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion", "Error-Info",
    "Event", "Expires", "Flow-Timer", "From", "History-Info", "Identity", "Identity-Info",
    "In-Reply-To", "Join", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "P-Access-Network-Info",
    "P-Charging-Vector", "P-Called-Party-ID", "P-Associated-URI", "Path", "Priority", "Privacy",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route",
    "Refer-Sub", "Refer-To", "Referred-By", "Reject-Contact", "Remote-Party-ID", "Replaces",
    "Reply-To", "Request-Disposition", "Require", "Resource-Priority", "Retry-After", "Route",
    "RSeq", "Security-Client", "Security-Server", "Security-Verify", "Server", "Service-Route",
    "Session-Expires", "Session-ID", "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State",
    "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
    "WWW-Authenticate", "X-Asterisk-HangupCause", "X-Asterisk-HangupCauseCode",
]

#: Lower-cased full or compact name -> canonical spelling of the full name.
CANONICAL_NAMES: dict[str, str] = {n.lower(): n for n in _KNOWN}
CANONICAL_NAMES.update(COMPACT_FORMS)

# lower-cased name (full or compact) -> lower-cased full name, the look-up key
_KEY: dict[str, str] = {n.lower(): n.lower() for n in _KNOWN}
_KEY.update({c: full.lower() for c, full in COMPACT_FORMS.items()})

#: Headers whose grammar is a comma-separated list (RFC 3261 sec. 20 and extensions),
#: as lower-cased full names. Contact is one, except for ``Contact: *``.
LIST_HEADERS: frozenset[str] = frozenset(
    n.lower()
    for n in (
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language",
        "Accept-Resource-Priority", "Alert-Info", "Allow", "Allow-Events", "Call-Info",
        "Contact", "Content-Encoding", "Content-Language", "Diversion", "Error-Info",
        "History-Info", "In-Reply-To", "P-Asserted-Identity", "P-Associated-URI",
        "P-Preferred-Identity", "Path", "Proxy-Require", "Reason", "Record-Route",
        "Reject-Contact", "Request-Disposition", "Require", "Resource-Priority", "Route",
        "Security-Client", "Security-Server", "Security-Verify", "Service-Route", "Supported",
        "Unsupported", "Via", "Warning",
    )
)


# a name as code spells it ("Call-ID", "call-id", "i", "I") -> its key, so that look-ups
# by a known name skip lower(); the keys are the very objects held in _KEY
_NAME_KEY: dict[str, str] = dict(_KEY)
_NAME_KEY.update({n: _KEY[n.lower()] for n in _KNOWN})
_NAME_KEY.update({c.upper(): _KEY[c] for c in COMPACT_FORMS})
_NAME_KEY.update({n.upper(): _KEY[n.lower()] for n in _KNOWN})


def _key(name: str) -> str:
    """The look-up key of a header name: lower-cased full name."""
    key = _NAME_KEY.get(name)
    if key is not None:
        return key
    low = name.lower()
    return _KEY.get(low, low)


def _keys_of(items: list[tuple[str, str]]) -> list[str]:
    """The look-up keys of the names in ``items``, without a Python-level loop when the
    names are ASCII (they always are in a parsed message)."""
    if not items:
        return []
    names = next(zip(*items))
    joined = "\n".join(names)
    if not joined.isascii():  # lower() of non-ASCII text can depend on its neighbours
        return [_key(n) for n in names]
    lows = joined.lower().split("\n")
    return list(map(_KEY.get, lows, lows))


def canonical_name(name: str) -> str:
    """Canonical spelling of a header name: ``"i"`` -> ``"Call-ID"``, ``"cseq"`` -> ``"CSeq"``.

    Unknown names come back unchanged (there is no canonical spelling to restore).
    """
    return CANONICAL_NAMES.get(name.strip().lower(), name.strip())


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value (RFC 3261 sec. 7.3.1).

    Commas inside quoted strings (with backslash escapes) and inside ``<...>`` do not
    split. Elements are stripped; empty elements are dropped.
    """
    if "," not in value:
        v = value.strip(" \t")
        return [v] if v else []
    if '"' not in value and "<" not in value:
        return [p for p in (s.strip(" \t") for s in value.split(",")) if p]
    out: list[str] = []
    start = 0
    i = 0
    n = len(value)
    in_quote = False
    in_angle = False
    while i < n:
        ch = value[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif in_angle:
            if ch == ">":
                in_angle = False
        elif ch == "<":
            in_angle = True
        elif ch == ",":
            part = value[start:i].strip(" \t")
            if part:
                out.append(part)
            start = i + 1
        i += 1
    part = value[start:].strip(" \t")
    if part:
        out.append(part)
    return out


_BAD_NAME = re.compile(r"[:\r\n \t]|\Z").search  # matches at 0 only for "" or a bad char
_CRLF = re.compile(r"[\r\n]").search


# every spelling of a known name that is Content-Length (Message.serialize tests these first)
_CL_NAMES: frozenset[str] = frozenset(n for n, k in _NAME_KEY.items() if k == "content-length")

# names already found valid by _check (bounded): the common header lines of built messages
# then cost two set/substring tests and no function call (Headers.__init__)
_GOOD_NAMES: set[str] = set(_NAME_KEY)


def _check(name: object, value: object) -> None:
    if type(name) is not str or type(value) is not str:
        if not isinstance(name, str) or not isinstance(value, str):
            raise LocalProtocolError(
                f"header name and value must be str, got {name!r}: {value!r}")
    if _BAD_NAME(name).start() != len(name) or not name:  # one scan, no generator
        raise LocalProtocolError(f"invalid header name {name!r}")
    if _CRLF(value) is not None:
        raise LocalProtocolError(f"header {name} value contains CR or LF: {value!r}")
    if len(_GOOD_NAMES) < 4096:
        _GOOD_NAMES.add(name)


# -- reading a received header block without splitting it --------------------------------
# A message parsed by the fast path hands its header block over as (data, start, end): lines
# of b"\nName *WSP : value\r" (validated: a token name, no folding, no bare LF), see
# message._FAST_RE. Look-ups search that block for the lines of one header (one regex search,
# no decoding of the other lines); anything else splits it into pairs once (_load).

# one line of such a block: name, value (leading WSP skipped; trailing WSP kept, stripped later)
_BLOCK_LINE_RE = re.compile(r"\n([^: \t]++)[ \t]*+:[ \t]*+([^\n]*)\r")
# lower-cased full name -> every lower-cased name that looks it up (itself, compact forms)
_SPELLINGS: dict[str, list[str]] = {}
for _low, _k in _KEY.items():
    _SPELLINGS.setdefault(_k, []).append(_low)
# a name as given to a look-up -> (its key, the pattern of its block lines or None when no
# block line can have that name, that pattern's search); bounded, against a program looking
# up endless names
_LOOKUPS: dict[str, tuple[str, re.Pattern[bytes] | None, Callable[..., Any]]] = {}


def _no_match(*args: object) -> None:
    return None


def _lookup(name: str) -> tuple[str, re.Pattern[bytes] | None, Callable[..., Any]]:
    hit = _LOOKUPS.get(name)
    if hit is not None:
        return hit
    key = _key(name)
    if not key.isascii():  # block names are tokens (ASCII): nothing can match
        pattern = None
    else:
        names = b"|".join(re.escape(n.encode("ascii")) for n in _SPELLINGS.get(key, [key]))
        # IGNORECASE on a bytes pattern folds ASCII letters only, as str.lower() does on ASCII
        pattern = re.compile(rb"\n(?:" + names + rb")[ \t]*+:[ \t]*+([^\n]*)\r", re.IGNORECASE)
    hit = (key, pattern, _no_match if pattern is None else pattern.search)
    if len(_LOOKUPS) < 1024:
        _LOOKUPS[name] = hit
    return hit


_new = object.__new__


def _decode_value(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").rstrip(" \t")


class Headers:
    """Ordered, multi-valued, case-insensitive SIP headers kept as raw ``(name, value)`` pairs.

    ``version`` increases on every change, so an owner (a message) can tell whether the
    headers still match the bytes they were parsed from.
    """

    # _items is None while the headers are still the received block _src (see above)
    __slots__ = ("_items", "_keys", "version", "_src")

    def __init__(self, items: Headers | Iterable[tuple[str, str]] | Mapping[str, str] | None = None
                 ) -> None:
        self.version = 0
        self._keys: list[str] | None = None
        self._src: tuple[bytes, int, int] | None = None
        if items is None:
            self._items: list[tuple[str, str]] | None = []
        elif isinstance(items, Headers):
            if items._items is None:
                self._items = None
                self._src = items._src
            else:
                self._items = list(items._items)
                self._keys = None if items._keys is None else list(items._keys)
        else:
            if type(items) is not list and isinstance(items, abc.Mapping):  # list: the rule
                items = items.items()
            pairs = []
            append = pairs.append
            good = _GOOD_NAMES
            for pair in items:
                name, value = pair
                if (type(name) is not str or name not in good or type(value) is not str
                        or "\n" in value or "\r" in value):
                    _check(name, value)
                append((name, value))
            self._items = pairs

    @classmethod
    def _trusted(cls, items: list[tuple[str, str]], keys: list[str] | None = None) -> Headers:
        """Build from already-validated pairs (the parser's slow path)."""
        h = cls.__new__(cls)
        h._items = items
        h._keys = keys
        h._src = None
        h.version = 0
        return h

    @classmethod
    def _from_block(cls, data: bytes, start: int, end: int) -> Headers:
        """Headers over a validated header block of received bytes (the parser's fast path)."""
        h = cls.__new__(cls)
        h._items = None
        h._keys = None
        h._src = (data, start, end)
        h.version = 0
        return h

    def _load(self) -> list[tuple[str, str]]:
        """The pairs, splitting the received block on first need."""
        items = self._items
        if items is None:
            data, lo, hi = self._src  # type: ignore[misc]
            text = data[lo:hi].decode("utf-8", "surrogateescape")
            items = _BLOCK_LINE_RE.findall(text)
            if " \r" in text or "\t\r" in text:  # trailing whitespace somewhere (sec. 7.3.1)
                items = [(n, v.rstrip(" \t")) for n, v in items]
            self._items = items
            self._src = None
        return items

    def _get_keys(self) -> list[str]:
        keys = self._keys
        if keys is None:
            keys = self._keys = _keys_of(self._load())
        return keys

    # -- reading ---------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (full or compact, any case), or ``default``.

        For a comma-list header (see :data:`LIST_HEADERS`) this is the first element of
        the list, so ``get("Via")`` is the top Via even when several share one line.
        """
        if self._items is None:
            k, _, search = _LOOKUPS[name] if name in _LOOKUPS else _lookup(name)
            m = search(*self._src)  # type: ignore[misc]
            if m is None:
                return default
            value = m[1].decode("utf-8", "surrogateescape").rstrip(" \t")
        else:
            k = _NAME_KEY[name] if name in _NAME_KEY else _key(name)
            keys = self._keys
            if keys is None:
                keys = self._get_keys()
            if k not in keys:
                return default
            value = self._items[keys.index(k)][1]
        if "," in value and k in LIST_HEADERS:
            parts = split_list(value)
            return parts[0] if parts else value
        return value

    def _values(self, name: str) -> tuple[str, list[str]]:
        """The key of ``name`` and every stored value of it, one per line."""
        if self._items is None:
            k, pattern, _ = _LOOKUPS[name] if name in _LOOKUPS else _lookup(name)
            if pattern is None:
                return k, []
            return k, [_decode_value(v) for v in pattern.findall(*self._src)]  # type: ignore[misc]
        k = _NAME_KEY[name] if name in _NAME_KEY else _key(name)
        keys = self._keys
        if keys is None:
            keys = self._get_keys()
        if k not in keys:
            return k, []
        items = self._items
        return k, [items[i][1] for i, key in enumerate(keys) if key == k]

    def get_all(self, name: str) -> list[str]:
        """All values of ``name``, across repeated lines and, for comma-list headers,
        across comma-separated elements (``Contact: *`` is never split)."""
        if self._items is None:  # one pass over the lines found (Via, Route ... each message)
            k, pattern, _ = _LOOKUPS[name] if name in _LOOKUPS else _lookup(name)
            out: list[str] = []
            if pattern is not None:
                is_list = k in LIST_HEADERS
                for raw in pattern.findall(*self._src):  # type: ignore[misc]
                    value = raw.decode("utf-8", "surrogateescape").rstrip(" \t")
                    if is_list and "," in value:
                        out.extend(split_list(value))
                    elif value or not is_list:  # (split_list drops empty elements)
                        out.append(value)
            return out
        k, values = self._values(name)
        if values and k in LIST_HEADERS:
            out = []
            for value in values:
                if "," in value:
                    out.extend(split_list(value))
                else:
                    value = value.strip(" \t")
                    if value:
                        out.append(value)
            return out
        return values

    def get_lines(self, name: str) -> list[str]:
        """The stored values of ``name``, one per header line, never split."""
        return self._values(name)[1]

    def __contains__(self, name: object) -> bool:
        if type(name) is not str and not isinstance(name, str):
            return False
        if self._items is None:
            return (_LOOKUPS[name] if name in _LOOKUPS else _lookup(name))[2](*self._src) is not None  # type: ignore[misc]
        return (_NAME_KEY[name] if name in _NAME_KEY else _key(name)) in self._get_keys()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._load()))

    def items(self) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs as stored (a copy)."""
        return list(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._load() == other._load()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._load()!r})"

    def copy(self) -> Headers:
        h = _new(Headers)  # Headers(self) written out: every message sent is a copy
        items = self._items
        h._src = self._src
        h._items = None if items is None else list(items)
        keys = self._keys
        h._keys = None if keys is None or items is None else list(keys)
        h.version = 0
        return h

    # -- changing --------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1

    def add(self, name: str, value: str) -> None:
        """Append a header line."""
        if (type(name) is not str or name not in _GOOD_NAMES or type(value) is not str
                or "\n" in value or "\r" in value):
            _check(name, value)
        self._load().append((name, value))
        if self._keys is not None:
            self._keys.append(_key(name))
        self._changed()

    def insert(self, index: int, name: str, value: str) -> None:
        """Insert a header line at ``index`` (0 puts it first, e.g. a new top Via)."""
        if (type(name) is not str or name not in _GOOD_NAMES or type(value) is not str
                or "\n" in value or "\r" in value):
            _check(name, value)
        self._load().insert(index, (name, value))
        if self._keys is not None:
            self._keys.insert(index, _key(name))
        self._changed()

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` (compact or full) by one line at the place of
        the first; append when absent. The stored name keeps the first line's spelling
        unless it was absent."""
        _check(name, value)
        k = _key(name)
        keys = self._get_keys()
        new_items: list[tuple[str, str]] = []
        new_keys: list[str] = []
        done = False
        for (n, v), key in zip(self._load(), keys):
            if key == k:
                if not done:
                    new_items.append((name, value))
                    new_keys.append(k)
                    done = True
                continue
            new_items.append((n, v))
            new_keys.append(key)
        if not done:
            new_items.append((name, value))
            new_keys.append(k)
        self._items = new_items
        self._keys = new_keys
        self._changed()

    def remove(self, name: str) -> int:
        """Remove every line of ``name``; returns how many were removed."""
        k = _key(name)
        keys = self._get_keys()
        items = self._load()
        keep = [(item, key) for item, key in zip(items, keys) if key != k]
        removed = len(items) - len(keep)
        if removed:
            self._items = [item for item, _ in keep]
            self._keys = [key for _, key in keep]
            self._changed()
        return removed

    def remove_first(self, name: str) -> bool:
        """Remove the first value of ``name`` (for a list header, the first element of
        the first line, as a proxy removes its Via). Returns whether one was removed."""
        k = _key(name)
        keys = self._get_keys()
        items = self._load()
        for i, key in enumerate(keys):
            if key == k:
                n, v = items[i]
                parts = split_list(v) if k in LIST_HEADERS else [v]
                if len(parts) > 1:
                    items[i] = (n, ", ".join(parts[1:]))
                else:
                    del items[i]
                    del keys[i]
                self._changed()
                return True
        return False

    def __delitem__(self, name: str) -> None:
        if not self.remove(name):
            raise KeyError(name)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)
