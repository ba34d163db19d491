"""Seed 002: the JSON push to the CRM's endpoint (PUT or POST), with a ``token`` header.

Two pushes per call, both with every documented field: the first when the call starts
(``call_status`` "", times 0), the second when it ends, complete. A transferred call gets a
third push with ``call_transfer_id`` = the id of the call the transfer created. Dates are
``YYYY-MM-DD hh:mm:ss`` (the document's ``ISODate(...)`` is MongoDB notation for that
string). ``call_status`` of the end push: ANSWER, NO ANSWER, BUSY or CANCEL (the document
leaves it open; the twin uses seed 000's vocabulary); ``call_disconnection``: ``interno`` (our
extension hung up) or ``externo``.
"""

from __future__ import annotations

from typing import Any, Mapping

from sipclient.http.dialects import fields as f
from sipclient.http.dialects.record import DISPOSITIONS, CallRecord
from sipclient.http.errors import FieldError

TOKEN_HEADER = "token"
METHODS = ("PUT", "POST")
STRING_FIELDS = ("central_id", "call_id", "call_terminal", "call_type", "call_number",
                 "call_area_code", "call_country_code", "call_document", "call_order",
                 "call_ura", "call_queue", "call_status", "call_disconnection",
                 "call_url_audio", "call_tax_type", "call_audio_file", "call_transfer_id")
NUMBER_FIELDS = ("branch_mask", "call_time", "call_duration", "call_time_waiting", "call_tax",
                 "call_cost", "call_balance")
FIELDS = ("central_id", "branch_mask", "call_id", "call_date") + tuple(
    n for n in STRING_FIELDS + NUMBER_FIELDS if n not in ("central_id", "branch_mask", "call_id"))
CALL_TYPES = ("active", "receptive", "sms", "ativo", "receptivo")
PHASES = ("start", "end", "transfer")


def audio_file(rec: CallRecord, central_id: str) -> str:
    """``audio-2016-11-18_11-50-09-100001-1479477009.5199.wav`` (the document's shape)."""
    return f"audio-{rec.start:%Y-%m-%d_%H-%M-%S}-{central_id}{rec.extension}-{rec.uniqueid}.wav"


def audio_path(rec: CallRecord, central_id: str) -> str:
    """``/webphone-<central_id>/YYYY/MM/DD/<audio file>``."""
    return f"/webphone-{central_id}/{rec.start:%Y/%m/%d}/{audio_file(rec, central_id)}"


def payload(rec: CallRecord, phase: str, *, central_id: str, base_url: str = "",
            transfer_id: str = "") -> dict[str, Any]:
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}")
    final = phase != "start"
    number = rec.number
    area = number[1:3] if number.startswith("0") and len(number) >= 10 else ""
    return {
        "central_id": central_id,
        "branch_mask": int(rec.extension),
        "call_id": rec.id,
        "call_date": f.fmt_datetime(rec.start),
        "call_terminal": "",
        "call_type": "active",
        "call_number": number,
        "call_area_code": area,
        "call_country_code": "55" if area else "",
        "call_document": "",
        "call_order": "",
        "call_ura": rec.json[0] if final else "",
        "call_queue": "",
        "call_status": (rec.disposition or "") if final else "",
        "call_disconnection": rec.hangup_side if final else "",
        "call_time": rec.billsec if final else 0,
        "call_duration": rec.duration if final else 0,
        "call_time_waiting": rec.waiting if final else 0,
        "call_url_audio": (base_url + audio_path(rec, central_id))
        if final and rec.connected else "",
        "call_tax_type": "",
        "call_tax": 0,
        "call_cost": 0,
        "call_balance": 0,
        "call_audio_file": audio_file(rec, central_id) if final and rec.connected else "",
        "call_transfer_id": transfer_id if phase == "transfer" else "",
    }


def push_deviations(body: Any, *, phase: str | None = None) -> list[str]:
    """Every way a push departs from the document (empty: it follows it)."""
    if not isinstance(body, dict):
        return ["field 'central_id' cannot be read: the body is not a JSON object"]
    checks: list[Any] = [lambda n=n: f.require(body, n) for n in FIELDS]
    checks += [lambda n=n: n not in body or f.text(body, n) for n in STRING_FIELDS]
    checks += [lambda n=n: n not in body or f.number(body, n) for n in NUMBER_FIELDS]
    checks += [lambda: "central_id" not in body or f.text(body, "central_id", empty=False),
               lambda: "call_id" not in body or f.text(body, "call_id", empty=False),
               lambda: "call_date" not in body or f.timestamp(body, "call_date"),
               lambda: "call_type" not in body or f.one_of(body, "call_type", CALL_TYPES)]

    def times() -> None:
        for name in ("call_time", "call_duration", "call_time_waiting"):
            if isinstance(body.get(name), (int, float)) and body[name] < 0:
                raise FieldError(name, f"must not be negative, got {body[name]}")

    def final() -> None:
        if isinstance(body.get("call_time"), (int, float)) \
                and isinstance(body.get("call_duration"), (int, float)) \
                and body["call_time"] > body["call_duration"]:
            raise FieldError("call_time", f"({body['call_time']}) exceeds call_duration "
                             f"({body['call_duration']})")
    checks.append(times)
    if phase in ("end", "transfer"):
        checks += [lambda: "call_status" not in body
                   or f.one_of(body, "call_status", DISPOSITIONS), final]
    if phase == "transfer":
        checks.append(lambda: f.text(body, "call_transfer_id", empty=False))
    return f.collect(*checks)


def validate_push(body: Any, *, phase: str | None = None) -> dict[str, Any]:
    """Check one push field by field; ``phase`` adds the end/transfer rules."""
    if not isinstance(body, dict):
        raise FieldError("central_id", "cannot be read: the body is not a JSON object")
    for name in FIELDS:
        f.require(body, name)
    for name in STRING_FIELDS:
        f.text(body, name)
    for name in NUMBER_FIELDS:
        f.number(body, name)
    f.text(body, "central_id", empty=False)
    f.text(body, "call_id", empty=False)
    f.timestamp(body, "call_date")
    f.one_of(body, "call_type", CALL_TYPES)
    for name in ("call_time", "call_duration", "call_time_waiting"):
        if body[name] < 0:
            raise FieldError(name, f"must not be negative, got {body[name]}")
    if phase in ("end", "transfer"):
        f.one_of(body, "call_status", DISPOSITIONS)
        if body["call_time"] > body["call_duration"]:
            raise FieldError("call_time", f"({body['call_time']}) exceeds call_duration "
                             f"({body['call_duration']})")
    if phase == "transfer":
        f.text(body, "call_transfer_id", empty=False)
    return body


def looks_final(body: dict[str, Any]) -> bool:
    """A push with times, a status or an audio URL carries the end of a call."""
    return any(body.get(n) not in (None, "", 0) for n in
               ("call_duration", "call_time", "call_status", "call_url_audio"))


def check_token(headers: Mapping[str, str], expected: str | None) -> None:
    if expected is None:
        return
    got = headers.get(TOKEN_HEADER)
    if got is None:
        raise FieldError("token", "header is missing", where="headers")
    import hmac

    if not hmac.compare_digest(got.encode(), expected.encode()):
        raise FieldError("token", "header does not match the configured token", where="headers")
