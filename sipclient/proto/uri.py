"""SIP, SIPS and tel URIs (RFC 3261 sec. 19.1, 25.1; RFC 3966).

Every URI is a frozen value. :func:`parse_uri` keeps the text it was parsed from, so
``str(parse_uri(s)) == s`` for any accepted ``s``; a URI built or changed in code
(``with_params``, :func:`dataclasses.replace`) is rendered from its fields, with
%-escapes re-applied where the grammar needs them (sec. 19.1.2).

Values are decoded: ``user``, ``password``, parameter and header values hold the
%-unescaped text (invalid UTF-8 after unescaping is kept as lone surrogates, so it
re-escapes to the same bytes). Parameter names are lower-cased (they compare
case-insensitively, sec. 19.1.4); a parameter without a value maps to ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping, Union
from urllib.parse import quote, unquote

from sipclient.proto.errors import ParseError

__all__ = ["SipUri", "TelUri", "AbsoluteUri", "Uri", "parse_uri"]

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
# hostname (labels joined by single dots, an optional final dot) or an IPv6 reference. Written
# so that it runs in linear time: the naive ``(?:label\.?)*label`` backtracks exponentially
# on a long label followed by a bad character.
_HOSTNAME = r"[A-Za-z0-9_\-]++(?:\.[A-Za-z0-9_\-]++)*+\.?"
_HOST_RE = re.compile(_HOSTNAME + r"\Z|\[[0-9A-Fa-f:.]+(?:%[\w.]+)?\]\Z")
_PORT_RE = re.compile(r"[0-9]{1,5}\Z")
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TEL_NUMBER_RE = re.compile(r"[0-9A-Fa-f*#+.()\-]+\Z")
_TEL_SEPARATORS_RE = re.compile(r"[\-.()]")

# The common shape of a sip:/sips: URI, parsed with one match (see parse_uri): lower-case
# scheme, no %-escapes, no URI headers, no whitespace or other odd characters. Anything else
# goes to the general parser, which gives the same result for everything this accepts.
_USER_CH = r"A-Za-z0-9\-_.!~*'()&=+$,/"
_PARAM_CH = r"A-Za-z0-9\-_.!~*'()\[\]/:&+$"
# six groups: scheme, user, password, host, port, ";params" (fields.py embeds it in name-addr)
_SIP_FAST = (
    r"(sips?):(?:([" + _USER_CH + r"]++)(?::([" + _USER_CH + r":]*+))?@)?"
    r"(" + _HOSTNAME + r")(?::([0-9]{1,5}))?"
    r"((?:;[" + _PARAM_CH + r"]++(?:=[" + _PARAM_CH + r"=]*+)?)*+)"
)
_SIP_FAST_RE = re.compile(_SIP_FAST + r"\Z")
_new = object.__new__

_UNRESERVED = "-_.!~*'()"
_SAFE_USER = _UNRESERVED + "&=+$,;?/"
_SAFE_PASSWORD = _UNRESERVED + "&=+$,"
_SAFE_PARAM = _UNRESERVED + "[]/:&+$"
_SAFE_HEADER = _UNRESERVED + "[]/?:+$"


def _unescape(text: str, what: str) -> str:
    if "%" not in text:
        return text
    if _BAD_ESCAPE_RE.search(text):
        raise ParseError(f"bad %-escape in URI {what}: {text!r}")
    return unquote(text, errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    return quote(text, safe=safe, errors="surrogateescape")


def _parse_params(text: str, what: str = "parameter") -> dict[str, str | None]:
    """``;a=b;c`` (without the leading ``;``) -> ``{"a": "b", "c": None}``."""
    params: dict[str, str | None] = {}
    for part in text.split(";"):
        if not part:
            raise ParseError(f"empty URI {what}")
        name, eq, value = part.partition("=")
        if not name:
            raise ParseError(f"URI {what} without a name: {part!r}")
        params[_unescape(name, what).lower()] = _unescape(value, what) if eq else None
    return params


def _render_params(params: Mapping[str, str | None]) -> str:
    out = []
    for name, value in params.items():
        if value is None:
            out.append(";" + _escape(name, _SAFE_PARAM))
        else:
            out.append(";" + _escape(name, _SAFE_PARAM) + "=" + _escape(value, _SAFE_PARAM))
    return "".join(out)


def _parse_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"unterminated IPv6 reference in URI host {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ParseError(f"junk after IPv6 reference in URI host {text!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text = text.partition(":")
        if not colon:
            port_text = None
    if not _HOST_RE.match(host):
        raise ParseError(f"bad URI host {host!r}")
    port = None
    if port_text is not None:
        if not _PORT_RE.match(port_text) or int(port_text) > 65535:
            raise ParseError(f"bad URI port {port_text!r}")
        port = int(port_text)
    return host, port


def _hash_dict(d: Mapping) -> tuple:
    return tuple(d.items())


@dataclass(frozen=True)
class SipUri:
    """``sip:`` / ``sips:`` URI (RFC 3261 sec. 19.1.1).

    ``host`` keeps IPv6 references in brackets (``"[2001:db8::1]"``).
    """

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        uri = parse_uri(text)
        if not isinstance(uri, SipUri):
            raise ParseError(f"not a sip: or sips: URI: {text!r}")
        return uri

    @classmethod
    def _parse(cls, scheme: str, rest: str, text: str) -> SipUri:
        # headers: after the first '?'; the userinfo cannot contain an unescaped '@'
        # past it (sec. 25.1: '@' is not allowed unescaped in hvalue or paramchar).
        q = rest.find("?")
        head = rest if q < 0 else rest[:q]
        headers: dict[str, str] = {}
        if q >= 0:
            for part in rest[q + 1 :].split("&"):
                if not part:
                    continue
                hname, _, hvalue = part.partition("=")
                headers[_unescape(hname, "header")] = _unescape(hvalue, "header")
        user = password = None
        at = head.rfind("@")
        if at >= 0:
            userinfo, head = head[:at], head[at + 1 :]
            u, colon, p = userinfo.partition(":")
            if not u:
                raise ParseError(f"empty user in URI {text!r}")
            user = _unescape(u, "user")
            password = _unescape(p, "password") if colon else None
        hostport, semi, ptext = head.partition(";")
        host, port = _parse_host_port(hostport)
        params = _parse_params(ptext) if semi else {}
        uri = object.__new__(cls)  # fields are checked above: skip the frozen __init__
        uri.__dict__.update(scheme=scheme, user=user, password=password, host=host, port=port,
                            params=params, headers=headers, _text=text)
        return uri

    def __post_init__(self) -> None:
        if self.scheme not in ("sip", "sips"):
            raise ValueError(f"SipUri scheme must be 'sip' or 'sips', not {self.scheme!r}")

    def _render(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(_escape(self.user, _SAFE_USER))
            if self.password is not None:
                out.append(":" + _escape(self.password, _SAFE_PASSWORD))
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(_render_params(self.params))
        if self.headers:
            out.append("?")
            out.append("&".join(
                _escape(k, _SAFE_HEADER) + "=" + _escape(v, _SAFE_HEADER)
                for k, v in self.headers.items()
            ))
        return "".join(out)

    def __str__(self) -> str:
        return self._text if self._text is not None else self._render()

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, self.password, self.host, self.port,
                     _hash_dict(self.params), _hash_dict(self.headers)))

    # -- views -----------------------------------------------------------------------
    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased (``None`` when absent)."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port`` as text (IPv6 in brackets)."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def host_bare(self) -> str:
        """The host without IPv6 brackets (what a resolver or socket wants)."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def lr(self) -> bool:
        """Loose-routing flag (RFC 3261 sec. 19.1.1, 16.12)."""
        return "lr" in self.params

    @property
    def user_param(self) -> str | None:
        return self.params.get("user")

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    # -- changing --------------------------------------------------------------------
    def with_params(self, params: Mapping[str, str | None] | None = None, /,
                    **kwargs: str | None) -> SipUri:
        """A copy with the given parameters set (``None`` value = flag parameter);
        existing parameters keep their place, new ones are appended."""
        merged = dict(self.params)
        for name, value in {**(params or {}), **kwargs}.items():
            merged[name.lower()] = value
        return replace(self, params=merged)

    def without_params(self, *names: str) -> SipUri:
        drop = {n.lower() for n in names}
        return replace(self, params={k: v for k, v in self.params.items() if k not in drop})

    def with_user(self, user: str | None) -> SipUri:
        return replace(self, user=user)

    def with_host(self, host: str, port: int | None = None) -> SipUri:
        return replace(self, host=host, port=port)


@dataclass(frozen=True)
class TelUri:
    """``tel:`` URI (RFC 3966): ``number`` as written (``"+1-201-555-0123"``), parameters."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    scheme = "tel"

    @classmethod
    def parse(cls, text: str) -> TelUri:
        uri = parse_uri(text)
        if not isinstance(uri, TelUri):
            raise ParseError(f"not a tel: URI: {text!r}")
        return uri

    @classmethod
    def _parse(cls, rest: str, text: str) -> TelUri:
        number, semi, ptext = rest.partition(";")
        if not number or not _TEL_NUMBER_RE.match(number):
            raise ParseError(f"bad tel: number {number!r}")
        uri = cls(number, _parse_params(ptext) if semi else {})
        object.__setattr__(uri, "_text", text)
        return uri

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (``-``, ``.``, ``(``, ``)``)."""
        return _TEL_SEPARATORS_RE.sub("", self.number)

    def with_params(self, params: Mapping[str, str | None] | None = None, /,
                    **kwargs: str | None) -> TelUri:
        merged = dict(self.params)
        for name, value in {**(params or {}), **kwargs}.items():
            merged[name.lower()] = value
        return replace(self, params=merged)

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        return "tel:" + self.number + _render_params(self.params)

    def __hash__(self) -> int:
        return hash((self.number, _hash_dict(self.params)))


@dataclass(frozen=True)
class AbsoluteUri:
    """Any other absolute URI (RFC 3261 sec. 25.1 absoluteURI): ``urn:``, ``http:``, ..."""

    scheme: str
    rest: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteUri:
        uri = parse_uri(text)
        if not isinstance(uri, AbsoluteUri):
            raise ParseError(f"expected a non-SIP absolute URI: {text!r}")
        return uri

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = Union[SipUri, TelUri, AbsoluteUri]


def parse_uri(text: str) -> SipUri | TelUri | AbsoluteUri:
    """Parse a Request-URI or the URI inside a name-addr (RFC 3261 sec. 25.1).

    Raises :class:`ParseError` (without ``header``; callers add it) when malformed.
    """
    if type(text) is str:
        m = _SIP_FAST_RE.match(text)
        if m is not None:
            uri = _sip_from_parts(*m.groups(), text)
            if uri is not None:
                return uri
    return _parse_uri_general(text)



def fast_params(ptext: str | None) -> dict[str, str | None]:
    """``;a=1;b`` (already matched by a fast-path pattern) as ``{"a": "1", "b": None}``,
    names lowercased, values as written. Shared by the URI, Via and name-addr fast paths."""
    params: dict[str, str | None] = {}
    if ptext:  # one findall; a name already in lower case (the rule) is not lowered again
        for name, eq, value in _PARAM_SPLIT(ptext):
            params[name if name in _LOWER_PARAM_NAMES else name.lower()] = value if eq else None
    return params


# ";name[=value]" of a matched parameter list: what split(";") then partition("=") gives
_PARAM_SPLIT = re.compile(r";([^;=]*)(=?)([^;]*)").findall
_LOWER_PARAM_NAMES = frozenset((
    "tag", "branch", "rport", "received", "transport", "lr", "user", "maddr", "ttl", "method",
    "expires", "q", "+sip.instance", "reg-id", "ob", "alias", "sigcomp-id", "comp", "gr"))

def _sip_from_parts(scheme: str, user: str | None, password: str | None, host: str,
                    port_text: str | None, ptext: str, text: str) -> SipUri | None:
    """The SipUri of the groups of a :data:`_SIP_FAST` match (None: a port above 65535,
    which the general parser reports)."""
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            return None
    params = fast_params(ptext) if ptext else {}  # no call when none
    uri = _new(SipUri)
    d = uri.__dict__
    d["scheme"] = scheme
    d["user"] = user
    d["password"] = password
    d["host"] = host
    d["port"] = port
    d["params"] = params
    d["headers"] = {}
    d["_text"] = text
    return uri


def _parse_uri_general(text: str) -> SipUri | TelUri | AbsoluteUri:
    """:func:`parse_uri` without the fast path (every URI form, every check)."""
    if not isinstance(text, str):
        raise ParseError(f"URI must be text, got {type(text).__name__}")
    if (not text or text != text.strip() or " " in text or "\t" in text or "\r" in text
            or "\n" in text or "<" in text or ">" in text or '"' in text):
        raise ParseError(f"bad URI {text!r}: empty or contains whitespace, quotes or <>")
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.match(scheme):
        raise ParseError(f"bad URI {text!r}: no scheme")
    low = scheme.lower()
    try:
        if low in ("sip", "sips"):
            if not rest:
                raise ParseError(f"bad URI {text!r}: no host")
            return SipUri._parse(low, rest, text)
        if low == "tel":
            return TelUri._parse(rest, text)
    except (ValueError, IndexError, UnicodeError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(f"bad URI {text!r}: {exc}") from None
    if not rest:
        raise ParseError(f"bad URI {text!r}: nothing after the scheme")
    return AbsoluteUri(scheme, rest)
