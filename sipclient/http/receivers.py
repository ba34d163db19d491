"""Webhook receivers on loopback: what a CRM would run, checking every documented field.

One :class:`WebhookReceiver` serves the four push dialects on one port:

==========  =====================  ===========================================
dialect     path                   payload
==========  =====================  ===========================================
seed000     ``/seed000/cdr``       CDR POST (form or JSON), answered 200 "OK"
seed002     ``/seed002/push``      JSON, PUT or POST, ``token`` header
seed003     ``/seed003/events``    ``call.dialing`` / ``call.hangup``
seed004     ``/Api/CallLog``       MiniCRM CallLog, answered as MiniCRM does
==========  =====================  ===========================================

Receivers accept what the vendors actually send (issue 20): the body is read leniently
(:mod:`sipclient.http.lenient`: the documents' own examples are not JSON) and every way a
payload departs from its document (a missing ``callid``, ``call_time`` > ``call_duration``,
``ISODate(...)``...) is a warning kept on the :class:`Webhook`, with its headers and body
(secrets redacted). ``strict=True`` answers 400 with the same list instead and keeps it in
:attr:`rejected`. A body that cannot be read at all is always refused. Accepted ones are
queued for :meth:`expect` (``expect webhook`` in scenarios).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sipclient.http import lenient
from sipclient.http.dialects import krolik, pbx55, rest_c2c, minicrm
from sipclient.http.errors import FieldError, HttpIntegrationError
from sipclient.http.server import HttpServer
from sipclient.http.wire import HttpRequest, HttpResponse, WireError, json_response, text_response
from sipclient.http.waiting import wait_until

PATHS = {"seed000": "/seed000/cdr", "seed002": "/seed002/push", "seed003": "/seed003/events",
         "seed004": minicrm.PATH}


@dataclass
class Webhook:
    dialect: str
    kind: str                  # "cdr", "start"/"end"/"transfer", "call.dialing"/..., "calllog"
    fields: dict[str, Any]     # the payload as received (one record for seed004)
    method: str
    received: float            # time.monotonic()
    warnings: list[str] = field(default_factory=list)   # deviations from the document
    headers: dict[str, str] = field(default_factory=dict)   # secrets redacted
    body: str = ""             # as received, secrets redacted

    def report(self) -> dict[str, Any]:
        """What ``http receive`` prints and scenario results keep."""
        return {"dialect": self.dialect, "kind": self.kind, "method": self.method,
                "fields": self.fields, "warnings": self.warnings, "headers": self.headers,
                "body": self.body}


class WebhookTimeout(HttpIntegrationError, TimeoutError):
    pass


def _matches(value: Any, want: Any) -> bool:
    if callable(want):
        return bool(want(value))
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return float(value) == float(want)
        except (TypeError, ValueError):
            return False
    return value == want or str(value) == str(want)


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = field(default=None, repr=False)     # seed002's header, if checked
    api_key: str | None = field(default=None, repr=False)   # seed004's ApiKey, if checked
    strict: bool = False       # refuse deviations from the document instead of warning
    contacts: set[str] | None = None   # seed004: known numbers (others are NotFound)
    received: list[Webhook] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)   # (dialect, error)

    def __post_init__(self) -> None:
        self._server = HttpServer(self._handle, host=self.host, port=self.port)
        self._changed = asyncio.Event()
        self._pushes: dict[str, int] = {}
        self.book = minicrm.CallLogBook(api_key=self.api_key, contacts=self.contacts)

    @property
    def warned(self) -> list[Webhook]:
        """The accepted webhooks that departed from their document."""
        return [w for w in self.received if w.warnings]

    async def start(self) -> "WebhookReceiver":
        await self._server.start()
        self.port = self._server.port
        return self

    async def close(self) -> None:
        await self._server.close()

    async def __aenter__(self) -> "WebhookReceiver":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def url(self, dialect: str) -> str:
        return self._server.url(PATHS[dialect])

    # --- waiting ---------------------------------------------------------------------------

    def find(self, dialect: str, kind: str | None = None, **matchers: Any) -> list[Webhook]:
        return [w for w in self.received
                if w.dialect == dialect and (kind is None or w.kind == kind)
                and all(k in w.fields and _matches(w.fields[k], v) for k, v in matchers.items())]

    async def expect(self, dialect: str, kind: str | None = None, *, timeout: float = 10.0,
                     **matchers: Any) -> Webhook:
        """The first webhook of ``dialect`` (and ``kind``) whose fields match; a matcher is a
        value (compared as is or as text) or a callable. :class:`WebhookTimeout` lists what
        arrived instead."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(dialect, kind, **matchers)
            if found:
                return found[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise WebhookTimeout(self._describe_miss(dialect, kind, matchers, timeout))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    @property
    def changes(self) -> int:
        """How many webhooks were received or rejected so far (for :meth:`wait_change`)."""
        return len(self.received) + len(self.rejected)

    async def wait_change(self, seen: int, timeout: float | None = None) -> bool:
        """Wait until :attr:`changes` differs from ``seen`` (True) or ``timeout`` seconds
        passed (False): a follower waits on arrivals, it never polls."""
        return await wait_until(self._changed, lambda: self.changes != seen, timeout)

    def _describe_miss(self, dialect: str, kind: str | None, matchers: Mapping[str, Any],
                       timeout: float) -> str:
        want = ", ".join(f"{k}={v!r}" for k, v in matchers.items() if not callable(v))
        lines = [f"no {dialect} webhook{' ' + kind if kind else ''}"
                 f"{' with ' + want if want else ''} within {timeout:g} s"]
        for w in self.received:
            if w.dialect == dialect:
                lines.append(f"  received {w.kind}: {json.dumps(w.fields, default=str)[:300]}")
        for d, error in self.rejected:
            if d == dialect:
                lines.append(f"  rejected: {error}")
        return "\n".join(lines)

    # --- serving ---------------------------------------------------------------------------

    def _accept(self, dialect: str, kind: str, fields_: dict[str, Any], req: HttpRequest,
                warnings: list[str] = ()) -> None:  # type: ignore[assignment]
        self.received.append(Webhook(dialect, kind, fields_, req.method, time.monotonic(),
                                     list(warnings), self._headers(req), self._body(req)))
        self._changed.set()

    def _secrets(self) -> list[str]:
        return [s for s in (self.token, self.api_key) if s]

    def _headers(self, req: HttpRequest) -> dict[str, str]:
        out = {}
        for name, value in req.headers.items():
            secret = name in (pbx55.TOKEN_HEADER, "authorization", "cookie") \
                or value in self._secrets()
            out[name] = "***" if secret else value
        return out

    def _body(self, req: HttpRequest) -> str:
        text = req.body.decode("utf-8", errors="replace")
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return minicrm.redact_api_key(text)

    def _checked(self, dialect: str, warnings: list[str]) -> HttpResponse | None:
        """The strict refusal when there are warnings, else None (accept)."""
        if warnings and self.strict:
            return self._reject(dialect, f"{dialect} (strict): " + "; ".join(warnings))
        return None

    def _reject(self, dialect: str, error: str, status: int = 400) -> HttpResponse:
        self.rejected.append((dialect, error))
        self._changed.set()
        return text_response(error + "\n", status)

    async def _handle(self, req: HttpRequest) -> HttpResponse:
        for dialect, path in PATHS.items():
            if req.path == path:
                break
        else:
            return text_response(f"no receiver at {req.path}; try {', '.join(PATHS.values())}\n",
                                 404)
        allowed = ("PUT", "POST") if dialect == "seed002" else ("POST",)
        if req.method not in allowed:
            return self._reject(dialect, f"{dialect}: method {req.method} not allowed "
                                f"(use {' or '.join(allowed)})", 405)
        try:
            if dialect == "seed000":
                form = _form(req)
                warnings = krolik.cdr_deviations(form)
                refused = self._checked(dialect, warnings)
                if refused:
                    return refused
                self._accept(dialect, "cdr", dict(form), req, warnings)
                return text_response("OK")
            if dialect == "seed002":
                pbx55.check_token(req.headers, self.token)
                body, warnings = lenient.loads(req.body)
                call_id = body.get("call_id") if isinstance(body, dict) else None
                if not isinstance(body, dict):
                    raise FieldError("call_id", "cannot be read: the body is not a JSON object")
                count = self._pushes.get(str(call_id), 0)
                phase = pbx55.PHASES[min(count, 2)]
                if count == 0 and pbx55.looks_final(body):
                    phase, count = "end", 1     # the start push never came: take it as end
                warnings += pbx55.push_deviations(body, phase=phase)
                refused = self._checked(dialect, warnings)
                if refused:
                    return refused
                self._pushes[str(call_id)] = count + 1
                self._accept(dialect, phase, body, req, warnings)
                return json_response({"status": "ok"})
            if dialect == "seed003":
                body, warnings = lenient.loads(req.body)
                warnings += rest_c2c.event_deviations(body)
                if not isinstance(body, dict) or not isinstance(body.get("event"), str):
                    raise FieldError("event", "cannot be read: " + "; ".join(warnings))
                refused = self._checked(dialect, warnings)
                if refused:
                    return refused
                self._accept(dialect, body["event"], body, req, warnings)
                return json_response({"status": "ok"})
            outcome = self.book.handle(req.body, strict=self.strict)
            for problem in outcome.problems:
                self.rejected.append((dialect, f"{dialect}: {problem}"))
            for record in outcome.records:
                record = dict(record, Date=record["Date"].strftime("%Y-%m-%d %H:%M:%S"))
                self._accept(dialect, "calllog", record, req, outcome.warnings)
            self._changed.set()
            return HttpResponse(outcome.status, outcome.body,
                                {"content-type": "application/json"})
        except FieldError as exc:
            status = 401 if exc.where == "headers" else 400
            return self._reject(dialect, f"{dialect}: {exc}", status)
        except WireError as exc:
            return self._reject(dialect, f"{dialect}: {exc}", exc.status)


def _form(req: HttpRequest) -> dict[str, Any]:
    """A CDR as a form post or, leniently, as a JSON object."""
    if "json" in (req.header("content-type") or ""):
        body, _ = lenient.loads(req.body)
        if not isinstance(body, dict):
            raise FieldError("calldate", "cannot be read: the body is not a JSON object")
        return body
    return req.form()


def matcher(text: str) -> Callable[[Any], bool]:
    """``"~^\\d+$"`` -> a regex matcher; ``">=3"``/``"<=5"`` numeric; else equality (scenarios)."""
    import re

    if text.startswith("~"):
        pattern = re.compile(text[1:])
        return lambda v: bool(pattern.search(str(v)))
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            bound = float(text[len(op):])
            return {">=": lambda v: float(v) >= bound, "<=": lambda v: float(v) <= bound,
                    ">": lambda v: float(v) > bound, "<": lambda v: float(v) < bound}[op]
    return lambda v: _matches(v, text)
