"""The HTTP integration steps (issue 9, docs/http.md): the lab twin, click-to-call in each
dialect, statusramais, a generic HTTP request, webhooks and recordings.

``http_twin`` starts, for this scenario, the twin of the PBX's HTTP APIs on the lab (its
credentials are made up and kept secret: the other steps use them) and one webhook receiver
it pushes every dialect to. Then:

- ``click_to_call: {dialect: seed001, ramal: "1001", number: "600", as: c2c}`` (seed000,
  seed001, seed003; ``expect: refused`` for a request the API must refuse);
- ``statusramais: {rows: {"1019": {Status: In use, Direcao: SAIDA}}, timeout: 5}``;
- ``http: {method: POST, path: /api.php, json: {acao: statusramais}, auth: twin,
  source: 127.0.0.2, scheme: https, expect: {status: 200, json: ["Status", "..."]}}``
  (``to: receiver`` sends to the scenario's webhook receiver instead of the twin; ``url:``
  anywhere; ``expect`` takes ``status``, ``json`` (equal), ``body`` (equal text),
  ``contains``, ``not_contains``; ``auth: twin`` adds the twin's login/senha/token to a JSON
  body, or MiniCRM's ApiKey with ``to: receiver``);
- ``expect_webhook: {dialect: seed000, kind: cdr, call: c2c, fields: {disposition: ANSWER,
  billsec: [">=2", "<=4"]}, timeout: 20}`` (a field matcher is a value, ``~regex``,
  ``>=n``/``<=n``/``>n``/``<n``, or a list of them that must all hold; ``strict: true``
  fails on a webhook that departs from its document); the step's result keeps the webhook's
  fields, warnings, headers and body (secrets redacted);
- ``expect_recording: {call: c2c, shape: seed000, tone: 1000}`` (seed000, seed001 (.gsm),
  seed002: the documented URL shapes).

A dialect (``dialect``, ``webhooks``, ``shape``) is named by its seed id or by its module's
name (``seed000`` or ``krolik``, ``seed001`` or ``pbx_api``, ``seed002`` or ``pbx55``,
``seed003`` or ``rest_c2c``, ``seed004`` or ``minicrm``).

Its kinds are registered in the table of step kinds (:mod:`sipclient.scenario.kinds`).
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipclient.agent import Secret
from sipclient.http.client import HttpClient
from sipclient.http.dialects import DIALECTS as DIALECT_MODULES, dialect_id
from sipclient.http.dialects import krolik, pbx_api, pbx55, rest_c2c
from sipclient.http.errors import HttpIntegrationError
from sipclient.http.receivers import WebhookReceiver, WebhookTimeout, matcher
from sipclient.http.twin import Twin, TwinConfig, WebhookTarget

from ..kinds import (BOOL, CALL, CALL_NAME, HEADERS, INTEGER, NUMBER, STRING, TEXT, arguments,
                     enum, step_kind)
from ..context import RunContext, StepFailed
from ..model import Step
from ._common import timeout_of

DIALECTS = ("seed000", "seed002", "seed003", "seed004")   # the push dialects


def dialects(*ids: str) -> dict[str, Any]:
    """The schema of a dialect argument: its seed ids and the modules' names (``seed000`` or
    ``krolik``: :data:`sipclient.http.dialects.DIALECTS`)."""
    return enum([*ids, *(DIALECT_MODULES[i] for i in ids)])


def _dialect(args: dict[str, Any], key: str, default: str | None = None) -> str:
    """The seed id of the dialect named by ``args[key]`` (the schema admitted it)."""
    return dialect_id(str(args.get(key, default)))


@dataclass
class _HttpState:
    twin: Twin
    receiver: WebhookReceiver
    credentials: pbx_api.Credentials
    calls: dict[str, str] = field(default_factory=dict)     # as-name -> twin call id

    def client(self, source: str | None = None) -> HttpClient:
        return HttpClient(ca_file=str(self.twin.ca_file), source_address=source)

    async def close(self) -> None:
        await self.twin.wait_delivered(timeout=5)
        await self.twin.close()
        await self.receiver.close()


def _state(ctx: RunContext) -> _HttpState:
    state = getattr(ctx, "_http_state", None)
    if state is None:
        raise StepFailed("no twin yet: start one with an http_twin step first")
    return state


@step_kind("http_twin", arguments({
           "login": STRING, "source": STRING, "ring_timeout": NUMBER, "push_method":
           enum(["PUT", "POST"]), "webhooks": {"type": "array", "items": dialects(*DIALECTS), "minItems": 1},
           "campaigns": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                    "title": "a dialer campaign (issue 20)"}}}))
async def http_twin(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    if getattr(ctx, "_http_state", None) is not None:
        raise StepFailed("http_twin: this scenario already has a twin")
    ca = ctx.target.ca_file
    if ctx.target.name != "lab" or not ca:
        raise StepFailed("http_twin: needs the built-in lab as the target (the twin drives "
                         "its Asterisk through AMI and reads its recordings)")
    from sipclient.lab import Lab, LabError

    try:
        lab = Lab.from_run_dir(Path(ca).parent.parent)
    except LabError as exc:
        raise StepFailed(f"http_twin: {exc}") from None
    senha, token, push, key = (secrets.token_hex(8) for _ in range(4))
    for value in (senha, token, push, key):
        ctx.variables.add_secret(value)
    creds = pbx_api.Credentials(str(args.get("login", "root")), Secret(senha), Secret(token),
                                str(args.get("source", "127.0.0.1")))
    receiver = await WebhookReceiver(token=push, api_key=key).start()
    wanted = [dialect_id(str(d)) for d in args.get("webhooks") or DIALECTS]
    method = str(args.get("push_method", "POST")).upper()
    hooks = [WebhookTarget(d, receiver.url(d),
                           Secret(push) if d == "seed002" else Secret(key) if d == "seed004"
                           else None, method if d == "seed002" else "POST") for d in wanted]
    from .http_dialer import campaign_rules

    config = TwinConfig(credentials=creds, webhooks=hooks,
                        ring_timeout=float(args.get("ring_timeout", 20)),
                        campaigns=[campaign_rules(c) for c in args.get("campaigns") or []])
    try:
        twin = await Twin(lab, config).start()
    except (OSError, HttpIntegrationError, LabError) as exc:
        await receiver.close()
        raise StepFailed(f"http_twin: the twin did not start: {exc}") from None
    state = _HttpState(twin, receiver, creds)
    ctx._http_state = state  # type: ignore[attr-defined]
    ctx.cleanups.append(state.close)


@step_kind("click_to_call", arguments({
           "dialect": dialects("seed000", "seed001", "seed003"), "ramal": TEXT, "number": TEXT,
           "key": STRING, "as": CALL_NAME, "expect": enum(["ok", "refused"])},
           ("ramal", "number"), True))
async def click_to_call(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    state = _state(ctx)
    dialect = _dialect(args, "dialect", "seed001")
    ramal, number = str(args["ramal"]), str(args["number"])
    name = str(args.get("as") or f"c2c{len(state.calls) + 1}")
    expect = str(args.get("expect", "ok"))
    client, url = state.client(), state.twin.url
    before = set(state.twin.calls)
    try:
        if dialect == "seed001":
            answer = (await client.post_json(url + pbx_api.API_PATH, pbx_api.request(
                "clicktocall", state.credentials, origem=ramal, destino=number))).json()
            ok = isinstance(answer, list) and answer[1:2] == ["CHAMADA OK"]
            shown = json.dumps(answer, ensure_ascii=False)
        elif dialect == "seed000":
            key = str(args.get("key", name))
            c2c = krolik.click_to_call(krolik.make_ramal(state.twin.config.customer_code,
                                                           ramal), number, key)
            resp = await client.post_form(url + krolik.CALL_PATH, c2c.form())
            ok, shown = resp.status == 200 and resp.text == "OK", f"{resp.status} {resp.text}"
        else:
            answer = (await client.request("GET", url + rest_c2c.call_path(ramal, number))).json()
            ok = isinstance(answer, dict) and answer.get("apiStatus") == "CONECTION_OK"
            shown = json.dumps(answer, ensure_ascii=False)
    except HttpIntegrationError as exc:
        raise StepFailed(f"click_to_call ({dialect}): {exc}") from None
    if expect == "refused":
        if ok:
            raise StepFailed(f"click_to_call ({dialect}): expected a refusal, the API "
                             f"answered {shown}", received=shown)
        return
    if not ok:
        raise StepFailed(f"click_to_call ({dialect}): refused: {ctx.redact(shown)}",
                         expected="the call accepted", received=ctx.redact(shown))
    new = [c for c in state.twin.calls if c not in before]
    if not new:
        raise StepFailed(f"click_to_call ({dialect}): the twin started no call")
    state.calls[name] = new[-1]


def _field_ok(value: Any, want: Any) -> bool:
    """``want``: a value, ``~regex``, ``>=n`` / ``<=n`` / ``>n`` / ``<n``, or a list of them."""
    wants = want if isinstance(want, list) else [want]
    try:
        return all(matcher(str(w))(value) for w in wants)
    except (TypeError, ValueError):
        return False


@step_kind("expect_webhook", arguments({
           "dialect": dialects(*DIALECTS), "kind": STRING,
           "call": CALL, "fields": {"type": "object", "title": "field: matcher (or a list)"},
           "strict": BOOL}, ("dialect",), True))
async def expect_webhook(ctx: RunContext, step: Step, args: dict[str, Any]) -> str:
    state = _state(ctx)
    dialect = _dialect(args, "dialect")
    kind = args.get("kind")
    wanted = dict(args.get("fields") or {})
    timeout = timeout_of(args, 30.0)
    call_name = args.get("call")
    matchers: dict[str, Any] = {}
    if call_name is not None:
        call_id = state.calls.get(str(call_name))
        if call_id is None:
            raise StepFailed(f"expect_webhook: {call_name!r} is no click_to_call of this "
                             f"scenario (have: {', '.join(state.calls) or 'none'})")
        rec = state.twin.calls[call_id].record
        if dialect == "seed000":
            matchers["callid"] = lambda v, k=rec.key: v == k
        elif dialect == "seed002":
            matchers["call_id"] = lambda v, i=rec.id: v == i
        elif dialect == "seed003":
            matchers["data"] = lambda d, i=rec.id: isinstance(d, dict) and d.get("callId") == i
        else:
            matchers["Number"] = lambda v, n=rec.number: v == n
    for name, want in wanted.items():
        if dialect == "seed003" and name != "event":
            matchers.setdefault("data", lambda d: True)
            prev = matchers["data"]
            matchers["data"] = (lambda d, p=prev, n=name, w=want:
                                p(d) and isinstance(d, dict) and _field_ok(d.get(n), w))
        else:
            matchers[name] = lambda v, w=want: _field_ok(v, w)
    try:
        got = await state.receiver.expect(dialect, kind, timeout=timeout, **matchers)
    except WebhookTimeout as exc:
        want = ", ".join(f"{k}: {v}" for k, v in wanted.items())
        raise StepFailed(f"expect_webhook: no {dialect} {kind or 'webhook'}"
                         f"{' with ' + want if want else ''} within {timeout:g} s",
                         expected=f"{dialect} {kind or ''} {want}".strip(),
                         received=ctx.redact(str(exc))) from None
    shown = ctx.redact(json.dumps(got.report(), default=str, ensure_ascii=False))
    if args.get("strict") and got.warnings:
        raise StepFailed(f"expect_webhook: the {dialect} {got.kind} departs from its "
                         f"document: {'; '.join(got.warnings)}", expected="no deviation",
                         received=shown)
    return shown


@step_kind("expect_recording", arguments({
           "call": CALL, "shape": dialects("seed000", "seed001", "seed002"), "tone": NUMBER,
           "tolerance": NUMBER}, ("call",), True))
async def expect_recording(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    from sipclient.media.audio import dominant_frequency
    from sipclient.media.codecs.gsm import GsmDecoder
    import numpy as np

    state = _state(ctx)
    name = str(args["call"])
    call_id = state.calls.get(name)
    if call_id is None:
        raise StepFailed(f"expect_recording: {name!r} is no click_to_call of this scenario")
    call = state.twin.calls[call_id]
    try:
        await asyncio.wait_for(call.ended.wait(), timeout_of(args, 15.0))
    except asyncio.TimeoutError:
        raise StepFailed(f"expect_recording: call {name} has not ended") from None
    rec = call.record
    shape = _dialect(args, "shape", "seed000")
    path = {"seed000": krolik.record_path(rec.userfield),
            "seed001": pbx_api.record_path(rec.recording),
            "seed002": pbx55.audio_path(rec, state.twin.config.central_id)}[shape]
    resp = await state.client().request("GET", state.twin.url + path)
    if resp.status != 200:
        raise StepFailed(f"expect_recording: GET {path} answered {resp.status}: "
                         f"{resp.text.strip()}")
    if shape == "seed001":
        decoder = GsmDecoder()
        samples = np.concatenate([decoder.decode(resp.body[i:i + 33])
                                  for i in range(0, len(resp.body) - 32, 33)] or [np.zeros(1)])
    else:
        with wave.open(io.BytesIO(resp.body)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    tone = args.get("tone")
    if tone is not None:
        got = dominant_frequency(samples[4000:], 8000)
        tolerance = float(args.get("tolerance", 15))
        if abs(got - float(tone)) > tolerance:
            raise StepFailed(f"expect_recording: the recording's dominant frequency is "
                             f"{got:.0f} Hz, expected {float(tone):g} ± {tolerance:g} Hz")


@step_kind("statusramais", arguments({"rows": {
           "type": "object", "title": "extension: {field: matcher}",
           "additionalProperties": {"type": "object"}}}, ("rows",), True))
async def statusramais(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Ask statusramais until every wanted row matches (or the timeout)."""
    state = _state(ctx)
    wanted: dict[str, dict[str, Any]] = {str(k): dict(v or {})
                                         for k, v in (args.get("rows") or {}).items()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_of(args, 5.0)
    # a row changes with the lab's state, which the twin hears as AMI events (channels,
    # device states, dialplan variables): ask again after each; a wanted comparison
    # (Duracao >= 5) also changes with the clock, so then ask again each second too
    ticks = any(str(w)[:1] in ("<", ">") for fields_ in wanted.values()
                for want in fields_.values()
                for w in (want if isinstance(want, list) else [want]))
    while True:
        seen = state.twin.ami_events
        answer = (await state.client().post_json(
            state.twin.url + pbx_api.API_PATH,
            pbx_api.request("statusramais", state.credentials))).json()
        try:
            rows = pbx_api.validate_statusramais(answer)
        except HttpIntegrationError as exc:
            raise StepFailed(f"statusramais: {exc}") from None
        problems = []
        for ramal, fields_ in wanted.items():
            found = pbx_api.find_rows(rows, ramal)
            if not found:
                problems.append(f"no row for {ramal}")
                continue
            for name, want in fields_.items():
                if not _field_ok(found[0].get(name), want):
                    problems.append(f"{ramal}.{name} is {found[0].get(name)!r}, "
                                    f"expected {want!r}")
        if not problems:
            return
        left = deadline - loop.time()
        if left <= 0:
            raise StepFailed(f"statusramais: {'; '.join(problems)}",
                             received=json.dumps(rows, ensure_ascii=False, indent=1))
        await state.twin.wait_ami_event(seen, min(left, 1.0) if ticks else left)


@step_kind("http", arguments({
           "method": STRING, "path": STRING, "url": STRING, "scheme": enum(["https", "http"]),
           "json": {}, "form": {"type": "object"}, "body": STRING, "headers": HEADERS,
           "auth": enum(["twin", "none"]), "source": STRING, "insecure": BOOL,
           "to": enum(["twin", "receiver"]), "ca_file": STRING,
           "expect": {"type": "object", "additionalProperties": False,
                      "properties": {"status": INTEGER, "json": {}, "body": STRING,
                                     "contains": STRING, "not_contains": STRING}}}, (), True))
async def http(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """A generic request to the twin (``path``) or anywhere (``url``)."""
    state = getattr(ctx, "_http_state", None)
    method = str(args.get("method", "GET")).upper()
    if "url" in args:
        url = str(args["url"])
        client = HttpClient(insecure=bool(args.get("insecure", False)),
                            ca_file=args.get("ca_file"), source_address=args.get("source"))
    else:
        if state is None:
            raise StepFailed("http: give url:, or start a twin (http_twin) to use path:")
        if args.get("to") == "receiver":
            url = state.receiver._server.url(str(args.get("path", "/")))
            client = HttpClient(source_address=args.get("source"))
        else:
            url = state.twin.url + str(args.get("path", "/"))
            client = state.client(args.get("source"))
    if args.get("scheme") == "http":
        url = url.replace("https://", "http://", 1)
    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    body: bytes | None = None
    if "json" in args:
        data = args["json"]
        if args.get("auth") == "twin" and args.get("to") != "receiver":
            if state is None or not isinstance(data, dict):
                raise StepFailed("http: auth: twin needs a twin and a json object")
            creds = state.credentials
            data = {**data, "login": creds.login, "senha": creds.senha.reveal(),
                    "token": creds.token.reveal()}
            data.update({k: v for k, v in args["json"].items()
                         if k in ("login", "senha", "token")})
        if args.get("auth") == "twin" and args.get("to") == "receiver" and isinstance(data, dict):
            data = {"ApiKey": state.receiver.api_key, **data}   # MiniCRM's ApiKey
        body = json.dumps(data).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "form" in args:
        from urllib.parse import urlencode

        body = urlencode({str(k): str(v) for k, v in args["form"].items()}).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif "body" in args:
        body = str(args["body"]).encode()
    try:
        resp = await client.request(method, url, body, headers)
    except HttpIntegrationError as exc:
        raise StepFailed(f"http {method} {url}: {ctx.redact(str(exc))}") from None
    expect = args.get("expect") or {}
    shown = ctx.redact(f"{resp.status} {resp.text[:500]}")
    if "status" in expect and int(expect["status"]) != resp.status:
        raise StepFailed(f"http {method} {url}: expected status {expect['status']}, "
                         f"received {resp.status}", received=shown)
    if "json" in expect:
        try:
            got = resp.json()
        except ValueError:
            raise StepFailed(f"http {method} {url}: the answer is not JSON",
                             received=shown) from None
        if got != expect["json"]:
            raise StepFailed(f"http {method} {url}: expected {json.dumps(expect['json'])}, "
                             f"received {ctx.redact(json.dumps(got, ensure_ascii=False))}",
                             received=shown)
    if "body" in expect and str(expect["body"]) != resp.text:
        raise StepFailed(f"http {method} {url}: expected the answer {expect['body']!r}, "
                         f"received {ctx.redact(resp.text[:300])!r}", received=shown)
    if "not_contains" in expect and str(expect["not_contains"]) in resp.text:
        raise StepFailed(f"http {method} {url}: the answer contains "
                         f"{expect['not_contains']!r}", received=shown)
    if "contains" in expect and str(expect["contains"]) not in resp.text:
        raise StepFailed(f"http {method} {url}: the answer does not contain "
                         f"{expect['contains']!r}", received=shown)


