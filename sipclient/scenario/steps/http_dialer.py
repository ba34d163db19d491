"""Scenario steps for seed 001's dialer in the lab twin (issue 20, docs/http.md).

``http_twin: {campaigns: [{id: "235", operators: ["1001"], ring: 2, retry: 0.5}]}`` configures
the twin's campaigns (keys: ``id``, ``name``, ``operators``, ``queue``, ``tries``, ``lines``,
``ring``, ``concluded``, ``retry``/``retry_busy``/``retry_answered`` (seconds, or ``never``),
``paused``). Then:

- ``dialer_insert: {campaign: "235", contact: {cliente: Ana, ddd1: "11", tel1: "90000603"},
  as: ana}`` (``expect: unknown`` for ``["Status","ID CAMPANHA NAO CADASTRADO"]``);
- ``expect_dialer: {campaign: "235", contact: ana, status: EXCEDIDO, tentativas: 5,
  status_ligacao: NOANSWER, timeout: 30}`` waits for the contact's STATUS (on the dialer's
  events) then checks its statusdiscador row through the API;
- ``dialer_pause: {campaign: "235", paused: true}``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sipclient.http.dialects import dialer, pbx_api
from sipclient.http.errors import HttpIntegrationError

from ..kinds import BOOL, CALL_NAME, STRING, TEXT, arguments, enum, step_kind
from ..context import RunContext, StepFailed
from ..model import Step
from ._common import timeout_of
from .http import _state


def campaign_rules(spec: Any) -> dialer.CampaignRules:
    """A ``campaigns:`` item of http_twin -> CampaignRules (StepFailed naming the bad key)."""
    if not isinstance(spec, dict) or "id" not in spec:
        raise StepFailed(f"http_twin: a campaign needs an id, got {spec!r}")
    keys = {"id": "id", "name": "name", "queue": "queue", "tries": "max_tries",
            "lines": "concurrency", "ring": "ring_timeout", "concluded": "concluded_after",
            "paused": "paused"}
    retries = {"retry": dialer.NOANSWER, "retry_busy": dialer.BUSY,
               "retry_answered": dialer.ANSWER}
    kwargs: dict[str, Any] = {"operators": tuple(str(o) for o in spec.get("operators", ()))}
    retry: dict[str, float | None] = {}
    for key, value in spec.items():
        if key in keys:
            kwargs[keys[key]] = str(value) if key in ("id", "name", "queue") else value
        elif key in retries:
            retry[retries[key]] = None if value == "never" else float(value)
        elif key != "operators":
            raise StepFailed(f"http_twin: campaign {spec['id']}: unknown key {key!r} (known: "
                             f"{', '.join(sorted([*keys, *retries, 'operators']))})")
    try:
        rules = dialer.CampaignRules(**kwargs)
    except (ValueError, TypeError) as exc:
        raise StepFailed(f"http_twin: campaign {spec['id']}: {exc}") from None
    rules.retry_after.update(retry)
    return rules


def _contacts(ctx: RunContext) -> dict[str, tuple[str, str]]:
    """as-name -> (campaign, contact id), kept on the context."""
    named = getattr(ctx, "_dialer_contacts", None)
    if named is None:
        named = {}
        ctx._dialer_contacts = named  # type: ignore[attr-defined]
    return named


async def _api(ctx: RunContext, acao: str, **params: Any) -> Any:
    state = _state(ctx)
    try:
        resp = await state.client().post_json(state.twin.url + pbx_api.API_PATH,
                                              pbx_api.request(acao, state.credentials,
                                                              **params))
        return resp.json()
    except HttpIntegrationError as exc:
        raise StepFailed(f"{acao}: {exc}") from None


@step_kind("dialer_insert", arguments({
           "campaign": TEXT, "contact": {"type": "object"}, "as": CALL_NAME,
           "expect": enum(["ok", "unknown"])}, ("campaign", "contact"), True))
async def dialer_insert(ctx: RunContext, step: Step, args: dict[str, Any]) -> str:
    campaign = str(args["campaign"])
    contact = {k: str(v) for k, v in dict(args.get("contact") or {}).items()}
    expect = str(args.get("expect", "ok"))
    state = _state(ctx)
    known = state.twin.dialer.campaigns.get(campaign)
    before = set(known.contacts) if known else set()
    answer = await _api(ctx, "insert", idcampanha=campaign, **contact)
    want = dialer.OK if expect == "ok" else dialer.CAMPAIGN_UNKNOWN
    if answer != want:
        raise StepFailed(f"dialer_insert: expected {want}, the API answered {answer}",
                         expected=str(want), received=ctx.redact(str(answer)))
    if expect == "ok" and known is not None:
        [new] = [c for c in known.contacts if c not in before]
        _contacts(ctx)[str(args.get("as") or f"contact{len(_contacts(ctx)) + 1}")] = (
            campaign, new)
    return str(answer)


@step_kind("expect_dialer", arguments({
           "campaign": TEXT, "contact": CALL_NAME, "status": enum(
               ["AGUARDANDO", "Dialing", "CONCLUIDO", "Descartado", "EXCEDIDO"]),
           "tentativas": TEXT, "status_ligacao": STRING, "numero": TEXT, "ddd": TEXT,
           "cliente": STRING}, ("contact",), True))
async def expect_dialer(ctx: RunContext, step: Step, args: dict[str, Any]) -> str:
    name = str(args["contact"])
    if name not in _contacts(ctx):
        raise StepFailed(f"expect_dialer: {name!r} is no dialer_insert of this scenario "
                         f"(have: {', '.join(_contacts(ctx)) or 'none'})")
    campaign, contact_id = _contacts(ctx)[name]
    status = str(args.get("status", ""))
    timeout = timeout_of(args, 30.0)
    state = _state(ctx)
    if status:
        if status not in dialer.STATUSES:
            raise StepFailed(f"expect_dialer: status must be one of "
                             f"{', '.join(dialer.STATUSES)}, got {status!r}")
        try:
            await state.twin.dialer.wait_status(campaign, contact_id, (status,), timeout)
        except asyncio.TimeoutError:
            now = state.twin.dialer.contact(campaign, contact_id).status
            raise StepFailed(f"expect_dialer: {name} not {status} within {timeout:g} s "
                             f"(it is {now})", expected=status, received=now) from None
    rows = dialer.validate_statusdiscador(await _api(ctx, "statusdiscador",
                                                     idcampanha=campaign))
    row = next((r for r in rows if r["id"] == contact_id), None)
    if row is None:
        raise StepFailed(f"expect_dialer: statusdiscador has no row for {name}")
    for key in ("status", "tentativas", "status_ligacao", "numero", "ddd", "cliente"):
        if key in args and str(row[key]) != str(args[key]):
            raise StepFailed(f"expect_dialer: {name}'s {key} is {row[key]!r}, expected "
                             f"{args[key]!r}", expected=str(args[key]), received=str(row))
    return ctx.redact(str({k: row[k] for k in ("id", "status", "tentativas",
                                               "status_ligacao")}))


@step_kind("dialer_pause", arguments({"campaign": TEXT, "paused": BOOL},
           ("campaign",)))
async def dialer_pause(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    campaign = str(args["campaign"])
    state = _state(ctx)
    if campaign not in state.twin.dialer.campaigns:
        raise StepFailed(f"dialer_pause: no campaign {campaign} in the twin (have: "
                         f"{', '.join(state.twin.dialer.campaigns) or 'none'})")
    state.twin.dialer.pause(campaign, bool(args.get("paused", True)))


