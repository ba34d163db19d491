"""Field-by-field checks shared by the dialects; every failure is a :class:`FieldError`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sipclient.http.errors import FieldError

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # PHP's Y-m-d H:i:s
_DIGITS = re.compile(r"[0-9]+")


def require(payload: Mapping[str, Any], name: str, where: str = "") -> Any:
    if not isinstance(payload, Mapping):
        raise FieldError(name, f"cannot be read: the payload is a {type(payload).__name__}, "
                         "not an object", where=where)
    if name not in payload:
        raise FieldError(name, "is missing", where=where)
    return payload[name]


def text(payload: Mapping[str, Any], name: str, where: str = "", *, empty: bool = True,
         optional: bool = False) -> str:
    if optional and name not in payload:
        return ""
    value = require(payload, name, where)
    if value is None and empty:
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {type(value).__name__} {value!r}",
                         where=where)
    if not empty and not value:
        raise FieldError(name, "is empty", where=where)
    return value


def digits(payload: Mapping[str, Any], name: str, where: str = "", *,
           length: int | None = None) -> str:
    value = require(payload, name, where)
    raw = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        raise FieldError(name, f"must be digits, got {value!r}", where=where)
    if length is not None and len(raw) != length:
        raise FieldError(name, f"must have {length} digits, got {len(raw)} ({raw!r})",
                         where=where)
    return raw


def integer(payload: Mapping[str, Any], name: str, where: str = "", *, strict: bool = False,
            minimum: int | None = 0, optional: bool = False) -> int | None:
    """An int; ``strict=False`` also takes a string of digits (form posts, MiniCRM)."""
    if optional and (name not in payload or payload[name] in (None, "")):
        return None
    value = require(payload, name, where)
    if isinstance(value, bool):
        raise FieldError(name, f"must be an integer, got {value!r}", where=where)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer() and not strict:
        number = int(value)
    elif isinstance(value, str) and not strict and re.fullmatch(r"-?[0-9]+", value.strip()):
        number = int(value.strip())
    else:
        kind = "an integer" if strict else "an integer (or a string of digits)"
        raise FieldError(name, f"must be {kind}, got {value!r}", where=where)
    if minimum is not None and number < minimum:
        raise FieldError(name, f"must be >= {minimum}, got {number}", where=where)
    return number


def number(payload: Mapping[str, Any], name: str, where: str = "") -> float:
    value = require(payload, name, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(name, f"must be a JSON number, got {value!r}", where=where)
    return float(value)


def timestamp(payload: Mapping[str, Any], name: str, where: str = "",
              fmt: str = DATETIME_FORMAT) -> datetime:
    value = require(payload, name, where)
    if not isinstance(value, str):
        raise FieldError(name, f"must be a date string {human(fmt)}, got {value!r}",
                         where=where)
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        raise FieldError(name, f"must be a date {human(fmt)}, got {value!r}",
                         where=where) from None


def one_of(payload: Mapping[str, Any], name: str, allowed: Iterable[Any], where: str = ""
           ) -> Any:
    value = require(payload, name, where)
    allowed = tuple(allowed)
    if value not in allowed:
        raise FieldError(name, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}",
                         where=where)
    return value


def human(fmt: str) -> str:
    return (fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            .replace("%H", "hh").replace("%M", "mm").replace("%S", "ss"))


def fmt_datetime(moment: datetime) -> str:
    return moment.strftime(DATETIME_FORMAT)


def collect(*checks: Callable[[], object]) -> list[str]:
    """Run every check; the message of each one that fails (a lenient reading's warnings)."""
    problems = []
    for check in checks:
        try:
            check()
        except FieldError as exc:
            problems.append(str(exc))
    return problems
