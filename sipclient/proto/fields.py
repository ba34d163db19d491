"""Typed header values (RFC 3261 sec. 20, 25.1): Via, name-addr, Contact, CSeq, Content-Type.

Each is a frozen dataclass with ``parse(text)`` and a ``__str__`` that round-trips: a
value parsed from text renders as that exact text; one built or changed in code
(``with_param``, ``with_tag``, :func:`dataclasses.replace`) renders from its fields.

Header parameters (``;name=value``) are kept in order in a ``dict`` with lower-cased
names (they compare case-insensitively) and the value *as written*, quotes included
(``params["+sip.instance"] == '"<urn:uuid:...>"'``); a parameter without ``=`` maps to
``None``. Properties such as ``Contact.instance`` return the unquoted value.

``parse`` raises :class:`ParseError` without ``header``; the message's typed views
re-raise it naming the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping

from sipclient.proto.errors import ParseError
from sipclient.proto.uri import (_HOSTNAME, _SIP_FAST, AbsoluteUri, SipUri, TelUri,
                                 _parse_host_port, fast_params, parse_uri)

__all__ = ["Via", "NameAddr", "Contact", "CSeq", "ContentType", "parse_params",
           "render_params", "quote_string", "unquote_string", "BRANCH_MAGIC_COOKIE"]

BRANCH_MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 sec. 8.1.1.7

_TOKEN = r"[A-Za-z0-9.!%*_+`'~\-]+"
_TOKEN_RE = re.compile(_TOKEN + r"\Z")
_PARAM_RE = re.compile(
    r"[ \t]*(" + r"[^\s=;\"]+" + r")[ \t]*(?:=[ \t]*(\"(?:[^\"\\]|\\.)*\"|[^\s;\"]*))?[ \t]*"
)
# Parameters without whitespace (outside quotes), escapes or quoted ';': what parse_params
# reads, split with str.split (its fast path: the same dict as the loop for all this accepts).
_SIMPLE_PARAMS_RE = re.compile(r'(?:;[^\s=;"]++(?:=(?:"[^"\\;]*+"|[^\s;"]*+))?)*+\Z')
# The same for the fast paths below, with explicit ASCII classes (cheaper to match): a subset.
_PNAME_CH = r"A-Za-z0-9\-_.!~*'()%+`:\[\]/?&$,@<>"
# values may be quoted (+sip.instance="<urn:...>") when the quotes hold no ';' nor '\\'
_FAST_PARAMS = (r'((?:;[' + _PNAME_CH + r']++(?:=(?:"[^"\\;]*+"|[' + _PNAME_CH + r"=]*+))?)*+)")
_new = object.__new__
_UNESCAPE_RE = re.compile(r"\\(.)")
_QUOTED_DISPLAY_RE = re.compile(r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"[ \t]*')
_Q_RE = re.compile(r"[01](?:\.[0-9]{0,3})?\Z")


def quote_string(text: str) -> str:
    """``a "b"`` -> ``"a \\"b\\""`` (RFC 3261 sec. 25.1 quoted-string)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_string(text: str) -> str:
    """The inverse of :func:`quote_string`; text without quotes comes back unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        return _UNESCAPE_RE.sub(r"\1", inner) if "\\" in inner else inner
    return text


def parse_params(text: str) -> dict[str, str | None]:
    """Parse header parameters ``;a=b;c;d="x;y"`` (text starting at the first ``;``,
    or empty). Names lower-cased, values as written (quotes kept)."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    if _SIMPLE_PARAMS_RE.match(text):  # the common case: ;a=b;c without spaces or quotes
        for part in text[1:].split(";"):
            name, eq, value = part.partition("=")
            params[name.lower()] = value if eq else None
        return params
    return _parse_params_general(text)


def _parse_params_general(text: str) -> dict[str, str | None]:
    """parse_params without its fast path: LWS, quoted values, every error."""
    params: dict[str, str | None] = {}
    pos = 0
    n = len(text)
    while pos < n:
        # skip LWS, expect ';'
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n:
            break
        if text[pos] != ";":
            raise ParseError(f"expected ';' before parameter at {text[pos:pos + 20]!r}")
        pos += 1
        m = _PARAM_RE.match(text, pos)
        if m is None:
            raise ParseError(f"bad parameter at {text[pos:pos + 20]!r}")
        name, value = m.group(1), m.group(2)
        params[name.lower()] = value
        pos = m.end()
    return params


def render_params(params: Mapping[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _set_param(params: Mapping[str, str | None], name: str, value: str | None
               ) -> dict[str, str | None]:
    out = dict(params)
    out[name.lower()] = value
    return out


# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Via:
    """Via header value (RFC 3261 sec. 20.42, 18.2.1; RFC 3581 rport).

    ``transport`` as written (``"UDP"``, ``"TLS"``, ``"WSS"``), ``port`` ``None`` when the
    sent-by has no port, ``params`` ordered (``branch``, ``rport``, ``received`` ...).
    ``protocol`` is the ``SIP/2.0`` part (an addition: it keeps odd values visible).
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    _RE = re.compile(
        r"[ \t]*(" + _TOKEN + r")[ \t]*/[ \t]*(" + _TOKEN + r")[ \t]*/[ \t]*(" + _TOKEN
        + r")[ \t]+(\[[^\]\s]*\]|[^;:\s\[]+)(?:[ \t]*:[ \t]*([^;\s]*))?"
    )

    # The common shape, one match: SIP/2.0/<transport> <hostname>[:<port>][;params] without
    # LWS or an IPv6 reference, parameters as _FAST_PARAMS. Anything else takes the general
    # path below, which gives the same value for everything this accepts.
    _FAST_RE = re.compile(
        r"SIP/2\.0/(" + _TOKEN + r"+) (" + _HOSTNAME + r")(?::([0-9]{1,5}))?" + _FAST_PARAMS
        + r"\Z"
    )

    @classmethod
    def parse(cls, text: str) -> Via:
        m = cls._FAST_RE.match(text)
        if m is not None:
            transport, host, port_text, ptext = m.groups()
            port = None if port_text is None else int(port_text)
            if port is None or port <= 65535:
                params = fast_params(ptext) if ptext else {}  # no call when none
                via = _new(cls)
                d = via.__dict__
                d["transport"] = transport
                d["host"] = host
                d["port"] = port
                d["params"] = params
                d["protocol"] = "SIP/2.0"
                d["_text"] = text
                return via
        return cls._parse_general(text)

    @classmethod
    def _parse_general(cls, text: str) -> Via:
        """Via.parse without the fast path (LWS anywhere, IPv6, quoted parameters)."""
        m = cls._RE.match(text)
        if m is None:
            raise ParseError(f"bad Via: expected 'SIP/2.0/<transport> <host>[:<port>]' in {text!r}")
        port_text = m.group(5)
        host, port = _parse_host_port(m.group(4) if port_text is None
                                      else f"{m.group(4)}:{port_text}")
        params = parse_params(text[m.end():])
        via = object.__new__(cls)  # skip the frozen __init__: fields are checked
        via.__dict__.update(transport=m.group(3), host=host, port=port, params=params,
                            protocol=f"{m.group(1)}/{m.group(2)}", _text=text.strip(" \t"))
        return via

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        hp = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.protocol}/{self.transport} {hp}{render_params(self.params)}"

    def __hash__(self) -> int:
        return hash((self.transport, self.host, self.port, tuple(self.params.items())))

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return (self.host, self.port)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def has_magic_cookie(self) -> bool:
        """Whether the branch starts with ``z9hG4bK`` (an RFC 3261 branch, sec. 8.1.1.7)."""
        branch = self.branch
        return branch is not None and branch.startswith(BRANCH_MAGIC_COOKIE)

    @property
    def rport(self) -> int | bool | None:
        """``None`` absent, ``True`` present without a value, the port when valued (RFC 3581)."""
        if "rport" not in self.params:
            return None
        value = self.params["rport"]
        if value is None or value == "":
            return True
        if not value.isdigit():
            raise ParseError(f"bad Via rport {value!r}", header="Via")
        return int(value)

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        if value is None:
            return None
        if not value.isdigit():
            raise ParseError(f"bad Via ttl {value!r}", header="Via")
        return int(value)

    def with_param(self, name: str, value: str | int | None = None) -> Via:
        """A copy with ``name`` set (``None`` = flag parameter), keeping its place."""
        return replace(self, params=_set_param(self.params, name,
                                               None if value is None else str(value)))

    def without_param(self, name: str) -> Via:
        return replace(self, params={k: v for k, v in self.params.items() if k != name.lower()})


# ----------------------------------------------------------------------------------------
# The common name-addr, one match: ["display" | token words] <sip:...> ;params, without
# escapes or LWS inside <>; the URI as uri._SIP_FAST reads it, parameters as _FAST_PARAMS.
# Groups: quoted display, token display, URI text, the six URI groups, header parameters.
_NAME_ADDR_FAST_RE = re.compile(
    r'(?:"([^"\\]*+)"[ \t]*+|(' + _TOKEN + r"+(?:[ \t]++" + _TOKEN + r"+)*+)[ \t]*+)?"
    r"<(" + _SIP_FAST + r")>" + _FAST_PARAMS + r"\Z"
)


def _split_name_addr(text: str) -> tuple[str | None, str, str, bool]:
    """-> (display_name, uri_text, params_text, bracketed)."""
    s = text.strip(" \t")
    display: str | None = None
    if s.startswith('"'):
        m = _QUOTED_DISPLAY_RE.match(s)
        if m is None:
            raise ParseError(f"unterminated quoted display name in {text!r}")
        display = unquote_string('"' + m.group(1) + '"')
        rest = s[m.end():]
        if not rest.startswith("<"):
            raise ParseError(f"expected '<' after the display name in {text!r}")
        lt = 0
        s = rest
    else:
        lt = s.find("<")
        if lt >= 0:
            token = s[:lt].strip(" \t")
            display = token or None
            if display is not None and '"' in display:
                raise ParseError(f"stray quote in display name of {text!r}")
    if lt >= 0:
        gt = s.find(">", lt)
        if gt < 0:
            raise ParseError(f"missing '>' in {text!r}")
        return display, s[lt + 1:gt], s[gt + 1:], True
    # addr-spec: every ';' parameter belongs to the header (RFC 3261 sec. 20.10)
    semi = s.find(";")
    if semi < 0:
        return None, s, "", False
    return None, s[:semi].rstrip(" \t"), s[semi:], False


@dataclass(frozen=True)
class NameAddr:
    """``[display-name] <uri>;params`` or ``uri;params`` (RFC 3261 sec. 20.10, 20.20, 20.39).

    Used for From, To, Route, Record-Route, Reply-To, Refer-To, P-Asserted-Identity ...
    ``uri`` is a parsed URI (a string given to the constructor is parsed).
    """

    display_name: str | None
    uri: SipUri | TelUri | AbsoluteUri
    params: dict[str, str | None] = field(default_factory=dict)
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.uri, str):
            object.__setattr__(self, "uri", parse_uri(self.uri))

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        # The fast path (_NAME_ADDR_FAST_RE; uri._sip_from_parts written out): the hot path
        # of From, To, Contact, Route and Record-Route. Anything else: _parse_general.
        m = _NAME_ADDR_FAST_RE.match(text)
        if m is not None:
            quoted, token, utext, scheme, user, password, host, port_text, uparams, ptext = \
                m.groups()
            port = None if port_text is None else int(port_text)
            if port is None or port <= 65535:
                uri = _new(SipUri)
                d = uri.__dict__
                d["scheme"] = scheme
                d["user"] = user
                d["password"] = password
                d["host"] = host
                d["port"] = port
                params: dict[str, str | None] = {}
                if uparams:
                    for part in uparams[1:].split(";"):
                        name, eq, value = part.partition("=")
                        params[name.lower()] = value if eq else None
                d["params"] = params
                d["headers"] = {}
                d["_text"] = utext
                params = fast_params(ptext) if ptext else {}  # no call when none
                addr = _new(cls)
                d = addr.__dict__
                d["display_name"] = quoted if token is None else token
                d["uri"] = uri
                d["params"] = params
                d["_text"] = text
                return addr
        return cls._parse_general(text)

    @classmethod
    def _parse_general(cls, text: str) -> NameAddr:
        """NameAddr.parse without the fast path."""
        display, uri_text, ptext, _ = _split_name_addr(text)
        uri = parse_uri(uri_text.strip(" \t"))
        value = object.__new__(cls)
        value.__dict__.update(display_name=display, uri=uri, params=parse_params(ptext),
                              _text=text.strip(" \t"))
        return value

    def _render(self) -> str:
        head = "" if self.display_name is None else quote_string(self.display_name) + " "
        return f"{head}<{self.uri}>{render_params(self.params)}"

    def __str__(self) -> str:
        return self._text if self._text is not None else self._render()

    def __hash__(self) -> int:
        return hash((self.display_name, str(self.uri), tuple(self.params.items())))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str):
        return replace(self, params=_set_param(self.params, "tag", tag))

    def with_param(self, name: str, value: str | None = None):
        return replace(self, params=_set_param(self.params, name, value))

    def without_param(self, name: str):
        return replace(self, params={k: v for k, v in self.params.items() if k != name.lower()})


@dataclass(frozen=True)
class Contact(NameAddr):
    """Contact header value (RFC 3261 sec. 20.10): a name-addr or ``*`` (``is_star``).

    ``instance`` is the RFC 5626 ``+sip.instance`` value without its quotes
    (typically ``"<urn:uuid:...>"``, angle brackets included).
    """

    is_star: bool = False

    __hash__ = NameAddr.__hash__

    @classmethod
    def parse(cls, text: str) -> Contact:
        if text.strip(" \t") == "*":
            value = cls(None, None, {}, is_star=True)  # type: ignore[arg-type]
            object.__setattr__(value, "_text", "*")
            return value
        value = super().parse(text)  # the fast path, or _parse_general below
        value.__dict__.setdefault("is_star", False)
        return value

    @classmethod
    def _parse_general(cls, text: str) -> Contact:
        """Contact.parse without the fast path."""
        if text.strip(" \t") == "*":
            return cls.parse(text)
        display, uri_text, ptext, _ = _split_name_addr(text)
        value = object.__new__(cls)
        value.__dict__.update(display_name=display, uri=parse_uri(uri_text.strip(" \t")),
                              params=parse_params(ptext), is_star=False,
                              _text=text.strip(" \t"))
        return value

    @classmethod
    def star(cls) -> Contact:
        return cls.parse("*")

    def _render(self) -> str:
        return "*" if self.is_star else super()._render()

    def __post_init__(self) -> None:
        if not self.is_star:
            super().__post_init__()

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        if value is None:
            return None
        value = unquote_string(value)
        if not value.isdigit():
            raise ParseError(f"bad Contact expires {value!r}", header="Contact")
        return int(value)

    @property
    def q(self) -> float | None:
        value = self.params.get("q")
        if value is None:
            return None
        if not _Q_RE.match(value):
            raise ParseError(f"bad Contact q {value!r}", header="Contact")
        return float(value)

    @property
    def instance(self) -> str | None:
        value = self.params.get("+sip.instance")
        return None if value is None else unquote_string(value)

    @property
    def reg_id(self) -> int | None:
        value = self.params.get("reg-id")
        return int(value) if value is not None and value.isdigit() else None


# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CSeq:
    """CSeq header value (RFC 3261 sec. 20.16): sequence number (< 2**31) and method."""

    seq: int
    method: str

    _RE = re.compile(r"[ \t]*([0-9]{1,10})[ \t]+(" + _TOKEN + r")[ \t]*\Z")

    @classmethod
    def parse(cls, text: str) -> CSeq:
        m = cls._RE.match(text)
        if m is None:
            raise ParseError("bad CSeq: expected '<number> <method>'", header="CSeq")
        seq = int(m[1])
        if seq >= 2**31:
            raise ParseError(f"bad CSeq: sequence number {seq} is not below 2**31", header="CSeq")
        value = _new(cls)  # skip the frozen __init__: fields are checked
        d = value.__dict__
        d["seq"] = seq
        d["method"] = m[2]
        return value

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@dataclass(frozen=True)
class ContentType:
    """Content-Type header value (RFC 3261 sec. 20.15, RFC 2045): ``type/subtype;params``."""

    type: str
    subtype: str
    params: dict[str, str | None] = field(default_factory=dict)

    _RE = re.compile(r"[ \t]*(" + _TOKEN + r")[ \t]*/[ \t]*(" + _TOKEN + r")")

    @classmethod
    def parse(cls, text: str) -> ContentType:
        m = cls._RE.match(text)
        if m is None:
            raise ParseError(f"bad Content-Type: expected 'type/subtype' in {text!r}",
                             header="Content-Type")
        value = object.__new__(cls)  # skip the frozen __init__: fields are checked
        value.__dict__.update(type=m.group(1), subtype=m.group(2),
                              params=parse_params(text[m.end():]))
        return value

    @property
    def media_type(self) -> str:
        """``"application/sdp"``: lower-cased, without parameters."""
        return f"{self.type}/{self.subtype}".lower()

    @property
    def charset(self) -> str | None:
        value = self.params.get("charset")
        return None if value is None else unquote_string(value)

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{render_params(self.params)}"

    def __hash__(self) -> int:
        return hash((self.type, self.subtype, tuple(self.params.items())))
