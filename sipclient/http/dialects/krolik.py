"""Seed 000: click-to-call by ``ramal``/``numero``/``key`` and the CDR POST it pushes back.

- The request is a POST to ``/services/call`` with ``ramal`` (7 digits: the 3-digit customer
  code, then the 4-digit extension, e.g. ``1001004``), ``numero`` and ``key`` (the CRM's id).
  Every request is answered 200, whatever its parameters (the document says so).
- The CDR POST carries ``calldate`` (``Y-m-d H:i:s``, call start), ``src`` (the extension),
  ``dst`` (the number), ``duration`` (waiting + talking, s), ``billsec`` (talking, s),
  ``disposition`` (ANSWER, NO ANSWER, BUSY, CANCEL), ``userfield`` (the recording id) and
  ``callid`` (the ``key`` of the request).
- ``userfield`` follows the document's example ``20230926_144622_1003007_1001_16981317956_
  1695750375``: date, time, the 7-digit ramal, the extension, the number, an id (the epoch of
  the start). The recording is at ``/services/record/<userfield>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sipclient.http.dialects import fields as f
from sipclient.http.dialects.record import DISPOSITIONS, CallRecord
from sipclient.http.errors import FieldError

CALL_PATH = "/services/call"
RECORD_PREFIX = "/services/record/"
CDR_FIELDS = ("calldate", "src", "dst", "duration", "billsec", "disposition", "userfield",
              "callid")
_USERFIELD = re.compile(r"(\d{8})_(\d{6})_(\d+)_(?:(\d+)_)?(\d+)_([0-9]+(?:\.[0-9]+)?)")


def make_ramal(customer_code: str, extension: str) -> str:
    """``("100", "1004")`` -> ``"1001004"``."""
    if not re.fullmatch(r"\d{3}", customer_code):
        raise FieldError("ramal", f"customer code must be 3 digits, got {customer_code!r}")
    if not re.fullmatch(r"\d{4}", extension):
        raise FieldError("ramal", f"extension must be 4 digits, got {extension!r}")
    return customer_code + extension


def split_ramal(ramal: str) -> tuple[str, str]:
    """``"1001004"`` -> ``("100", "1004")``; a :class:`FieldError` unless 7 digits."""
    raw = f.digits({"ramal": ramal}, "ramal", length=7)
    return raw[:3], raw[3:]


@dataclass(frozen=True)
class ClickToCall:
    ramal: str
    numero: str
    key: str

    @property
    def customer_code(self) -> str:
        return self.ramal[:3]

    @property
    def extension(self) -> str:
        return self.ramal[3:]

    def form(self) -> dict[str, str]:
        return {"ramal": self.ramal, "numero": self.numero, "key": self.key}


def click_to_call(ramal: str, numero: str, key: str) -> ClickToCall:
    """Build (and check) a request; ``ramal`` must already carry the customer code."""
    return parse_click_to_call({"ramal": ramal, "numero": numero, "key": key})


def parse_click_to_call(form: Mapping[str, Any]) -> ClickToCall:
    ramal = f.digits(form, "ramal", length=7)
    numero = f.digits(form, "numero")
    key = f.text(form, "key", empty=False)
    return ClickToCall(ramal, numero, key)


def make_userfield(start: datetime, ramal: str, extension: str, number: str, ident: str
                   ) -> str:
    return f"{start:%Y%m%d_%H%M%S}_{ramal}_{extension}_{number}_{ident}"


def parse_userfield(value: str) -> dict[str, str]:
    match = _USERFIELD.fullmatch(value or "")
    if not match:
        raise FieldError("userfield", "must look like date_time_origin_destination_id "
                         f"(e.g. 20230926_144622_1003007_1001_16981317956_1695750375), "
                         f"got {value!r}")
    date, time_, origin, extension, number, ident = match.groups()
    try:
        datetime.strptime(date + time_, "%Y%m%d%H%M%S")
    except ValueError:
        raise FieldError("userfield", f"has an impossible date/time {date}_{time_}") from None
    return {"date": date, "time": time_, "origin": origin, "extension": extension or "",
            "destination": number, "id": ident}


def record_path(userfield: str) -> str:
    return RECORD_PREFIX + userfield


@dataclass(frozen=True)
class Cdr:
    calldate: datetime
    src: str
    dst: str
    duration: int
    billsec: int
    disposition: str
    userfield: str
    callid: str

    def form(self) -> dict[str, str]:
        return {"calldate": f.fmt_datetime(self.calldate), "src": self.src, "dst": self.dst,
                "duration": str(self.duration), "billsec": str(self.billsec),
                "disposition": self.disposition, "userfield": self.userfield,
                "callid": self.callid}


def cdr_from_record(rec: CallRecord) -> Cdr:
    if rec.disposition is None:
        raise ValueError("the call has not ended")
    return Cdr(rec.start, rec.extension, rec.number, rec.duration, rec.billsec,
               rec.disposition, rec.userfield, rec.key)


def cdr_deviations(form: Mapping[str, Any]) -> list[str]:
    """Every way a received CDR departs from the document (empty: it follows it)."""
    def amounts() -> None:
        duration, billsec = f.integer(form, "duration"), f.integer(form, "billsec")
        assert duration is not None and billsec is not None
        if billsec > duration:
            raise FieldError("billsec", f"({billsec}) exceeds duration ({duration})")
        if form.get("disposition") in DISPOSITIONS and form["disposition"] != "ANSWER" \
                and billsec:
            raise FieldError("billsec", f"must be 0 for disposition {form['disposition']}, "
                             f"got {billsec}")

    def userfield() -> None:
        if f.text(form, "userfield"):
            parse_userfield(form["userfield"])

    return f.collect(lambda: f.timestamp(form, "calldate"), lambda: f.digits(form, "src"),
                     lambda: f.digits(form, "dst"), amounts,
                     lambda: f.one_of(form, "disposition", DISPOSITIONS), userfield,
                     lambda: f.text(form, "callid", empty=False))


def validate_cdr(form: Mapping[str, Any]) -> Cdr:
    """Check a received CDR POST field by field (all eight are required)."""
    calldate = f.timestamp(form, "calldate")
    src = f.digits(form, "src")
    dst = f.digits(form, "dst")
    duration = f.integer(form, "duration")
    billsec = f.integer(form, "billsec")
    assert duration is not None and billsec is not None
    if billsec > duration:
        raise FieldError("billsec", f"({billsec}) exceeds duration ({duration})")
    disposition = f.one_of(form, "disposition", DISPOSITIONS)
    if disposition != "ANSWER" and billsec:
        raise FieldError("billsec", f"must be 0 for disposition {disposition}, got {billsec}")
    userfield = f.text(form, "userfield")
    if userfield:
        parse_userfield(userfield)
    callid = f.text(form, "callid", empty=False)
    return Cdr(calldate, src, dst, duration, billsec, disposition, userfield, callid)
