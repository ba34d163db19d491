"""Seed 004: MiniCRM's CallLog API (``POST /Api/CallLog``), both sides.

Request: ``{"ApiKey", "UserExtension", "Data"}``; ``Data`` is one record or a list of them,
each ``{"Number", "Duration", "CallType" (0 outgoing, 1 incoming, 2 missed), "Date" (UTC,
``YYYY-MM-DD hh:mm:ss``), "ReferenceId" (optional)}``. Numbers may come as strings (the
document's examples send ``"2"`` and ``"132"``).

Answer: 200 with ``{"Skipped":n, "Processed":n, "Exists":n, "Missing":n, "NotFound":n}``
(the examples' three counters in the document's spacing, then the two its text describes):
a record with a missing or malformed field is Skipped (Missing counts those with a missing
field), one whose Number is not a known contact (when the book has ``contacts``) is NotFound
and Skipped, one whose ReferenceId is already known (stored earlier, or earlier in the same
request) Exists, the others are Processed. The body is read leniently (the document's
examples use typographic quotes): each liberty is a warning, and ``strict`` refuses them.
A request MiniCRM cannot take at all gets a 4xx with a description: not JSON (400), no or
wrong ApiKey (401), no UserExtension or Data (400).
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sipclient.http.dialects import fields as f
from sipclient.http.dialects.record import CallRecord
from sipclient.http.errors import FieldError

PATH = "/Api/CallLog"
#: the recording URL template's placeholder, as the document spells it (and the right one)
REFERENCE_PLACEHOLDER = "{%RefereceId%}"
CALL_TYPES = (0, 1, 2)
OUTGOING, INCOMING, MISSED = CALL_TYPES


def request(api_key: str, user_extension: str, records: list[dict[str, Any]] | dict[str, Any]
            ) -> dict[str, Any]:
    return {"ApiKey": api_key, "UserExtension": user_extension, "Data": records}


def record_from_call(rec: CallRecord, start_utc: datetime) -> dict[str, Any]:
    """A click-to-call is outgoing for the extension: CallType 0, Duration the talk time."""
    out: dict[str, Any] = {"Number": rec.number, "Duration": rec.billsec,
                           "CallType": OUTGOING, "Date": f.fmt_datetime(start_utc)}
    if rec.connected is not None:
        out["ReferenceId"] = rec.uniqueid
    return out


def validate_record(item: Any, where: str = "Data") -> dict[str, Any]:
    if not isinstance(item, dict):
        raise FieldError("Data", f"item must be an object, got {type(item).__name__}",
                         where=where)
    number = f.text(item, "Number", where, empty=False)
    duration = f.integer(item, "Duration", where)
    call_type = f.integer(item, "CallType", where)
    if call_type not in CALL_TYPES:
        raise FieldError("CallType", f"must be 0, 1 or 2, got {item['CallType']!r}",
                         where=where)
    date = f.timestamp(item, "Date", where)
    reference = f.text(item, "ReferenceId", where, optional=True)
    return {"Number": number, "Duration": duration, "CallType": call_type, "Date": date,
            "ReferenceId": reference}


def recording_url(template: str, reference_id: str) -> str:
    """MiniCRM's download URL of a recorded call: the template with its ReferenceId."""
    from urllib.parse import quote

    ref = quote(reference_id, safe="")
    return template.replace(REFERENCE_PLACEHOLDER, ref).replace("{%ReferenceId%}", ref)


def summary_body(skipped: int, processed: int, exists: int, missing: int = 0,
                 not_found: int = 0) -> bytes:
    """The answer as the document prints it: ``{"Skipped":0, "Processed":1, "Exists":0``,
    then ``"Missing"`` and ``"NotFound"``."""
    return json.dumps({"Skipped": skipped, "Processed": processed, "Exists": exists,
                       "Missing": missing, "NotFound": not_found},
                      separators=(", ", ":")).encode()


@dataclass
class CallLogOutcome:
    status: int
    body: bytes
    records: list[dict[str, Any]] = field(default_factory=list)   # processed ones
    problems: list[str] = field(default_factory=list)             # why each skip
    warnings: list[str] = field(default_factory=list)             # the body's liberties

    @property
    def summary(self) -> dict[str, int] | None:
        return json.loads(self.body) if self.status == 200 else None


@dataclass
class CallLogBook:
    """MiniCRM's side: the call logs stored so far, keyed by ReferenceId for duplicates."""

    api_key: str | None = field(default=None, repr=False)
    references: set[str] = field(default_factory=set)
    stored: list[dict[str, Any]] = field(default_factory=list)
    contacts: set[str] | None = None     # known numbers; None: every number is known

    def handle(self, body: bytes, strict: bool = False) -> CallLogOutcome:
        from sipclient.http.lenient import loads
        from sipclient.http.wire import WireError

        try:
            obj, warnings = loads(body)
        except WireError as exc:
            return _error(400, f"Invalid JSON: {exc}")
        if warnings and strict:
            out = _error(400, "Invalid JSON (strict): " + "; ".join(warnings))
            out.warnings = warnings
            return out
        if not isinstance(obj, dict):
            return _error(400, "Invalid request: the body must be a JSON object")
        key = obj.get("ApiKey")
        if not isinstance(key, str) or not key:
            return _error(401, "ApiKey is missing")
        if self.api_key is not None and not hmac.compare_digest(key.encode(),
                                                                self.api_key.encode()):
            return _error(401, "Invalid ApiKey")
        ext = obj.get("UserExtension")
        if not isinstance(ext, str) or not ext:
            return _error(400, "UserExtension is missing")
        if "Data" not in obj:
            return _error(400, "Data is missing")
        data = obj["Data"]
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list):
            return _error(400, "Data must be an object or a list of objects")
        skipped = processed = exists = missing = not_found = 0
        outcome = CallLogOutcome(200, b"", warnings=warnings)
        for index, item in enumerate(items):
            where = "Data" if isinstance(data, dict) else f"Data[{index}]"
            try:
                record = validate_record(item, where)
            except FieldError as exc:
                skipped += 1
                missing += "is missing" in str(exc)
                outcome.problems.append(str(exc))
                continue
            if self.contacts is not None and record["Number"] not in self.contacts:
                skipped += 1
                not_found += 1
                outcome.problems.append(f"{where}: Number {record['Number']} not found")
                continue
            ref = record["ReferenceId"]
            if ref and ref in self.references:
                exists += 1
                continue
            if ref:
                self.references.add(ref)
            record["UserExtension"] = ext
            self.stored.append(record)
            outcome.records.append(record)
            processed += 1
        outcome.body = summary_body(skipped, processed, exists, missing, not_found)
        return outcome


_API_KEY = re.compile(r'(ApiKey["“”„″]?\s*:\s*["“”„″])[^"“”„″]*(["“”„″])')


def redact_api_key(text: str) -> str:
    """A request body as text with its ApiKey value replaced by ``***``."""
    return _API_KEY.sub(r"\1***\2", text)


def _error(status: int, text: str) -> CallLogOutcome:
    return CallLogOutcome(status, json.dumps({"Error": text}).encode(), problems=[text])
