"""JSON as the vendors really send it, read leniently, every liberty named (issue 20).

The documents' own examples are not JSON: seed 002 writes ``ISODate("2012-05-01 12:30:00")``,
a trailing comma and one ``}`` too many, and escapes ``_`` as ``\\_``; seed 003's events are
JavaScript object literals (``{ event: 'call.dialing', ... }``); seed 004's requests come with
typographic quotes (``„ApiKey”:”...″``). :func:`loads` reads all of them and returns, beside
the value, one warning per kind of deviation, so a receiver can accept what a vendor sends
and still say where it departs from JSON (``--strict`` refuses on them). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sipclient.http.wire import WireError

_TYPOGRAPHIC = str.maketrans({"„": '"', "“": '"', "”": '"', "″": '"', "‘": "'", "’": "'",
                              "\u00a0": " "})
_ISODATE = re.compile(r"""ISODate\(\s*(["'])(.*?)\1\s*\)""")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = set('"\\/bfnrtu')


def loads(raw: bytes | str) -> tuple[Any, list[str]]:
    """``(value, warnings)``; :class:`WireError` (400) when even a lenient reading fails."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("body is not UTF-8") from None
    else:
        text = raw
    warnings: list[str] = []
    try:
        return _exact(text), warnings
    except json.JSONDecodeError:
        pass
    fixed = text.translate(_TYPOGRAPHIC)
    if fixed != text:
        warnings.append("typographic quotes or no-break spaces instead of ASCII")
    fixed, count = _ISODATE.subn(lambda m: json.dumps(m.group(2)), fixed)
    if count:
        warnings.append(f"ISODate(...) is MongoDB notation, not JSON ({count}x)")
    fixed = _normalise(fixed, warnings)
    try:
        value, end = json.JSONDecoder().raw_decode(fixed.lstrip())
    except json.JSONDecodeError as exc:
        raise WireError(f"body is not JSON, even read leniently: {exc.msg} at line "
                        f"{exc.lineno} column {exc.colno}") from None
    rest = fixed.lstrip()[end:].strip()
    if rest:
        warnings.append(f"text after the JSON value: {rest[:20]!r}")
    return value, warnings


def _exact(text: str) -> Any:
    return json.loads(text)


def _normalise(text: str, warnings: list[str]) -> str:
    """Single-quoted strings, bare keys, trailing commas and unknown escapes -> JSON."""
    out: list[str] = []
    seen: set[str] = set()
    i, n = 0, len(text)

    def note(what: str) -> None:
        if what not in seen:
            seen.add(what)
            warnings.append(what)

    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            chars: list[str] = []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if nxt in _ESCAPES:
                        chars.append(text[j:j + 2])
                    elif nxt == "'" and ch == "'":
                        chars.append("'")
                    else:
                        note(f"invalid escape \\{nxt} in a string")
                        chars.append(nxt)
                    j += 2
                    continue
                if ch == "'" and text[j] == '"':
                    chars.append('\\"')
                elif text[j] in "\r\n":
                    note("line break inside a string")
                    chars.append(" ")
                else:
                    chars.append(text[j])
                j += 1
            if ch == "'":
                note("single-quoted strings (JavaScript, not JSON)")
            out.append('"' + "".join(chars) + '"')
            i = j + 1
            continue
        if ch == ",":
            k = i + 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in "}]":
                note("trailing comma before a closing bracket")
                i += 1
                continue
        match = _IDENT.match(text, i)
        if match and (not out or not (out[-1][-1:].isalnum())):
            word = match.group(0)
            k = match.end()
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] == ":" and word not in ("true", "false", "null"):
                note("unquoted object keys (JavaScript, not JSON)")
                out.append(json.dumps(word))
                i = match.end()
                continue
            out.append(word)
            i = match.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)
