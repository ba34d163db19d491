"""Seed 003: REST click-to-call, call status, active call, and the ``call.dialing`` /
``call.hangup`` webhook events.

URLs: ``/api/call/{ramal}/0{number}`` (the document's example ``/api/call/6001/6005`` has
no ``0``, so a leading ``0`` is optional and stripped), ``/api/status/{callId}``,
``/api/active/{ramal}``. Answers are ``{"apiStatus", "created", "data"}``. ``created`` in the
answers is ISO 8601 with milliseconds and ``+0000``; in the events it is epoch milliseconds.
The hangup event's ``disposition`` is Asterisk's word: ANSWERED for an answered call, else
NO ANSWER, BUSY or CANCEL.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from sipclient.http.dialects import fields as f
from sipclient.http.dialects.record import CallRecord
from sipclient.http.errors import FieldError, HttpError

EVENTS = ("call.dialing", "call.hangup")
API_STATUSES = ("CONECTION_OK", "SUCCESS", "ERROR", "NOT_FOUND")
HANGUP_DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "CANCEL")
_CALL = re.compile(r"/api/call/([0-9]+)/([0-9*#+]+)")
_STATUS = re.compile(r"/api/status/([0-9A-Za-z._-]+)")
_ACTIVE = re.compile(r"/api/active/([0-9]+)")


def call_path(ramal: str, number: str) -> str:
    if not re.fullmatch(r"[0-9]+", ramal or ""):
        raise FieldError("ramal", f"must be digits, got {ramal!r}")
    if not re.fullmatch(r"[0-9*#+]+", number or ""):
        raise FieldError("number", f"must be digits, got {number!r}")
    return f"/api/call/{ramal}/0{number}"


def status_path(call_id: str) -> str:
    return f"/api/status/{call_id}"


def active_path(ramal: str) -> str:
    return f"/api/active/{ramal}"


def route(path: str) -> tuple[str, dict[str, str]] | None:
    """``/api/call/1001/0600`` -> ``("call", {"ramal": "1001", "number": "600"})``."""
    match = _CALL.fullmatch(path)
    if match:
        number = match.group(2)
        return "call", {"ramal": match.group(1),
                        "number": number[1:] if number.startswith("0") else number}
    match = _STATUS.fullmatch(path)
    if match:
        return "status", {"call_id": match.group(1)}
    match = _ACTIVE.fullmatch(path)
    if match:
        return "active", {"ramal": match.group(1)}
    return None


def iso(moment: datetime) -> str:
    """``2021-01-06T18:07:10.888+0000`` from an aware or UTC-naive datetime."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def answer(api_status: str, created: datetime, data: Any) -> dict[str, Any]:
    return {"apiStatus": api_status, "created": iso(created), "data": data}


def call_data(rec: CallRecord, created: datetime, status: str = "IN_PROGRESS",
              error: str | None = None) -> dict[str, Any]:
    return {"key": rec.id, "status": status, "created": iso(created), "from": rec.extension,
            "to": "0" + rec.number, "error": error, "callId": rec.id, "serverMessage": None}


def parse_answer(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise HttpError(f"not a seed 003 answer: {obj!r}")
    f.text(obj, "apiStatus", empty=False, where="answer")
    f.text(obj, "created", where="answer")
    f.require(obj, "data", where="answer")
    return obj


def parse_call_answer(obj: Any) -> str:
    """The callId of a click-to-call answer; :class:`HttpError` when refused."""
    parse_answer(obj)
    data = obj["data"]
    if obj["apiStatus"] != "CONECTION_OK" or not isinstance(data, dict):
        raise HttpError(f"click-to-call refused: {obj['apiStatus']} "
                        f"{(data or {}).get('error') if isinstance(data, dict) else data}")
    return f.text(data, "callId", empty=False, where="data")


def hangup_disposition(disposition: str) -> str:
    return "ANSWERED" if disposition == "ANSWER" else disposition


def event(kind: str, rec: CallRecord, client_id: str, created_ms: int) -> dict[str, Any]:
    if kind not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}")
    dialing = kind == "call.dialing"
    return {"event": kind, "clientId": client_id,
            "data": {"created": created_ms, "from": rec.extension,
                     "to": rec.number if dialing else "h", "error": None,
                     "callId": rec.id,
                     "serverMessage": "Chamando o destino" if dialing else "Ligação encerrada",
                     "disposition": None if dialing
                     else hangup_disposition(rec.disposition or "")}}


def event_deviations(obj: Any) -> list[str]:
    """Every way an event departs from the document (empty: it follows it)."""
    try:
        validate_event(obj)
    except FieldError as first:
        if not isinstance(obj, dict) or not isinstance(obj.get("data"), dict):
            return [str(first)]
    else:
        return []
    data, where = obj["data"], "data"
    checks: list[Any] = [lambda: f.one_of(obj, "event", EVENTS),
                         lambda: f.text(obj, "clientId", empty=False),
                         lambda: f.integer(data, "created", where, strict=True)]
    checks += [lambda n=n: f.text(data, n, where, empty=False) for n in ("from", "to", "callId")]
    checks += [lambda n=n: f.require(data, n, where)
               for n in ("error", "serverMessage", "disposition")]
    if obj.get("event") == "call.hangup":
        checks.append(lambda: f.one_of(data, "disposition", HANGUP_DISPOSITIONS, where))
    elif data.get("disposition") is not None:
        checks.append(lambda: f.one_of(data, "disposition", (None,), where))
    return f.collect(*checks)


def validate_event(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise FieldError("event", "cannot be read: the body is not a JSON object")
    kind = f.one_of(obj, "event", EVENTS)
    f.text(obj, "clientId", empty=False)
    data = f.require(obj, "data")
    where = "data"
    f.integer(data, "created", where, strict=True)
    f.text(data, "from", where, empty=False)
    f.text(data, "to", where, empty=False)
    f.text(data, "callId", where, empty=False)
    f.require(data, "error", where)
    f.require(data, "serverMessage", where)
    f.require(data, "disposition", where)
    if kind == "call.dialing":
        if data["disposition"] is not None:
            raise FieldError("disposition", f"must be null in call.dialing, got "
                             f"{data['disposition']!r}", where=where)
    else:
        f.one_of(data, "disposition", HANGUP_DISPOSITIONS, where)
    return obj
