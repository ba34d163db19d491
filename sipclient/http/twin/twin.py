"""The twin: seed 001's JSON API, seed 000's and seed 003's click-to-call, statuses, reports
and recordings, served over HTTPS on loopback, driving the lab's Asterisk through AMI.

Click-to-call: AMI ``Originate`` to ``PJSIP/<extension>`` (it rings our agent) with the
dialplan ``twin-c2c`` (docker/asterisk/extensions.conf.tmpl): once the extension answers it
records the call (MixMonitor) and dials the number through the lab context. AMI events tell
the twin when the extension answered (UserEvent TwinAnswered), when the number answered
(DialEnd ANSWER) and how the call ended (UserEvent TwinEnded with DIALSTATUS); a failed
originate gives BUSY (reason 5) or NO ANSWER. Then every configured webhook gets the record
in its dialect. statusramais comes from CoreShowChannels, DeviceStateList and the channel
variables JSON1-JSON3 and GRAVACAO.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import ssl
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sipclient.http.client import HttpClient
from sipclient.http.dialects import krolik, pbx_api, pbx55, rest_c2c, minicrm
from sipclient.http.dialects.dialer import CampaignRules
from sipclient.http.dialects.operators import OperatorLog
from sipclient.http.dialects.record import CallRecord
from sipclient.http.errors import FieldError, HttpError
from sipclient.http.server import HttpServer
from sipclient.http.twin.ami import AmiClient, AmiError, Message
from sipclient.http.twin.dialer import Dialer
from sipclient.http.twin.recordings import serve_recording
from sipclient.http.waiting import wait_until
from sipclient.http.wire import HttpRequest, HttpResponse, json_response, text_response
from sipclient.http.twin.values import ami_value, epoch_ms, hms_seconds, reveal_secret

log = logging.getLogger("sipclient.http.twin")

DEVICE_STATES = {"NOT_INUSE": "Not in use", "INUSE": "In use", "BUSY": "Busy",
                 "RINGING": "Ringing", "RINGINUSE": "Ring+Inuse", "ONHOLD": "On Hold",
                 "UNAVAILABLE": "Unavailable", "INVALID": "Invalid", "UNKNOWN": "Unknown"}
_PJSIP = re.compile(r"PJSIP/([0-9]+)-[0-9a-f]+")


@dataclass(frozen=True)
class WebhookTarget:
    dialect: str                 # seed000, seed002, seed003, seed004
    url: str
    secret: Any = field(default=None, repr=False)   # seed002 token header / seed004 ApiKey
    method: str = "POST"         # seed002 may use PUT

    def __post_init__(self) -> None:
        if self.dialect not in ("seed000", "seed002", "seed003", "seed004"):
            raise ValueError(f"webhook dialect must be seed000, seed002, seed003 or seed004, "
                             f"got {self.dialect!r}")


@dataclass
class TwinConfig:
    credentials: pbx_api.Credentials
    host: str = "127.0.0.1"
    port: int = 0
    customer_code: str = "100"       # seed 000's 3-digit code in front of the extension
    central_id: str = "1000"         # seed 002's central_id
    client_id: str = "e57575aa-8995-43b6-8942-31e6e9135a25"   # seed 003's clientId
    user_extension_field: str = ""   # seed 004's UserExtension (default: the extension)
    ring_timeout: float = 20.0       # how long the extension rings
    webhooks: list[WebhookTarget] = field(default_factory=list)
    webhook_insecure: bool = False
    run_dir: Path | None = None      # certificate; default <lab run dir>/twin
    campaigns: list[CampaignRules] = field(default_factory=list)   # the dialer's campaigns
    classe5_login: str = "lab"       # bloqueioclasse5's logincliente of the lab's tenant
    seed003_port: int | None = None  # also serve seed 003 over plain HTTP here (3030; 0: any)


@dataclass
class _Call:
    record: CallRecord
    action_id: str = ""
    channel: str = ""
    transfer_id: str = ""        # seed 002's call_transfer_id once the call was transferred
    transfer_pushed: bool = False
    origin_status: str = ""      # DialStatus of the originate's own dial (BUSY, NOANSWER...)
    undecided: bool = False      # the originate failed with reason 0: wait for its DialEnd
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Twin:
    def __init__(self, lab: Any, config: TwinConfig) -> None:
        self.lab = lab
        self.config = config
        self.run_dir = Path(config.run_dir or Path(lab.run_dir) / "twin")
        self.ami = AmiClient()
        self.calls: dict[str, _Call] = {}
        self._by_uniqueid: dict[str, str] = {}
        self._serial = itertools.count(1)
        self._ids = itertools.count(1)
        self.server: HttpServer | None = None
        self.plain_server: HttpServer | None = None     # seed 003 on :3030, plain HTTP
        self.refusals: list[str] = []     # which check failed, for logs/tests (no values)
        self.deliveries: list[tuple[str, str, int | str]] = []   # (dialect, kind, status)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_delivery: dict[str, asyncio.Task[Any]] = {}
        self.dialer = Dialer(self, config.campaigns)
        self.blocked = False             # bloqueioclasse5
        self.operators = OperatorLog()   # statusoperacoes, from app_queue's AMI events
        self.ami_events = 0              # AMI events seen (wait_ami_event waits for more)
        self._ami_event = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        return self.run_dir / "tls" / "lab.crt"

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url()

    @property
    def seed003_url(self) -> str:
        """seed 003's plain-HTTP base (``http://host:3030``), when ``seed003_port`` is set."""
        assert self.plain_server is not None, "seed003_port is not set"
        return self.plain_server.url()

    @property
    def minicrm_template(self) -> str:
        """The recording URL template MiniCRM is given (seed 004), for the twin's CallLogs'
        ReferenceId: ``https://host:port/record?Rec={%RefereceId%}`` (the document's
        spelling)."""
        return self.url + "/record?Rec=" + minicrm.REFERENCE_PLACEHOLDER

    @property
    def monitor_dir(self) -> Path:
        return Path(self.lab.run_dir) / "spool" / "monitor"

    async def start(self) -> "Twin":
        from sipclient.lab.config import LabConfig
        from sipclient.lab.render import ensure_certificate

        cert_config = LabConfig(run_dir=self.run_dir, host=self.config.host)
        await asyncio.to_thread(ensure_certificate, cert_config)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_config.cert_file, cert_config.key_file)
        lab = self.lab.config
        await self.ami.connect(lab.probe_host if not lab.external else lab.host, lab.ami_port,
                               lab.ami_user, lab.ami_secret)
        self.ami.subscribe(self._on_event)
        self.ami.subscribe(self.dialer.on_event)
        self.ami.subscribe(lambda msg: self.operators.on_event(msg, datetime.now()))
        self.ami.subscribe(self._count_event)
        try:
            server = HttpServer(self._handle, host=self.config.host, port=self.config.port,
                                ssl_context=ctx, plain_handler=self._plain)
            self.server = await server.start()
            self.config.port = self.server.port
            if self.config.seed003_port is not None:
                plain = HttpServer(self._plain, host=self.config.host,
                                   port=self.config.seed003_port)
                self.plain_server = await plain.start()
                self.config.seed003_port = self.plain_server.port
        except BaseException:
            await self.close()         # a port in use: nothing left open
            raise
        self.dialer.start()
        return self

    async def close(self) -> None:
        await self.dialer.close()
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
        if self.server:
            await self.server.close()
        if self.plain_server:
            await self.plain_server.close()
        await self.ami.close()

    async def __aenter__(self) -> "Twin":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_ended(self, call_id: str, timeout: float = 30.0) -> CallRecord:
        call = self.calls[call_id]
        await asyncio.wait_for(call.ended.wait(), timeout)
        return call.record

    async def wait_delivered(self, timeout: float = 10.0) -> None:
        """Until every webhook push started so far has been answered."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # --- click-to-call ---------------------------------------------------------------------

    async def click_to_call(self, extension: str, number: str, *, dialect: str, key: str = ""
                            ) -> CallRecord:
        now = datetime.now()
        serial = next(self._serial)
        if dialect == "seed003":
            call_id = f"{serial:04x}{int(now.timestamp() * 1000) & 0xffffffffffff:012x}"
        else:
            call_id = pbx_api.make_call_id(extension, now, serial)
        rec = CallRecord(id=call_id, uniqueid="", extension=extension, number=number,
                         start=now, key=key or call_id, dialect=dialect,
                         customer_code=self.config.customer_code)
        call = _Call(rec)
        self.calls[call_id] = call
        # The extension's channel gets our own uniqueid (Originate ChannelId): every event of
        # that call, failed or not, names it, so two calls to one extension never mix, and
        # GRAVACAO carries the same id as IDCHAMADA (the channel's linkedid).
        uniqueid = self._channel_id(now)
        self._by_uniqueid[uniqueid] = call_id
        gravacao = pbx_api.make_gravacao(now, number, extension, uniqueid)
        stamp = int(now.timestamp())
        userfield = krolik.make_userfield(now, self.config.customer_code + extension,
                                           extension, number, f"{stamp}{serial:03d}")
        call.record = replace(rec, recording=gravacao, userfield=userfield, uniqueid=uniqueid)
        self._push_start(call.record)
        call.action_id = f"c2c-{call_id}"
        try:
            reply = await self._originate(call, extension, number, gravacao)
        except (AmiError, asyncio.TimeoutError) as exc:
            self._finish(call, "NO ANSWER")
            raise HttpError(f"Originate failed: {exc}") from None
        if reply.get("Response") != "Success":
            self._finish(call, "NO ANSWER")
            raise HttpError(f"Originate refused: {reply.get('Message', '')}")
        return call.record

    async def _originate(self, call: _Call, extension: str, number: str, gravacao: str
                         ) -> Message:
        return await self.ami.action(
            "Originate", action_id=call.action_id, Channel=f"PJSIP/{extension}",
            Context="twin-c2c", Exten=number, Priority=1,
            Timeout=int(self.config.ring_timeout * 1000), Async="true",
            ChannelId=call.record.uniqueid,
            CallerID=f'"Click2Call {number}" <{number}>',
            Variable=[f"TWIN_ID={call.record.id}", f"TWIN_REC={gravacao}.wav",
                      f"TWIN_GRAVACAO={gravacao}"])

    def _count_event(self, msg: Message) -> None:
        self.ami_events += 1
        self._ami_event.set()

    async def wait_ami_event(self, seen: int, timeout: float) -> bool:
        """Wait until the twin saw an AMI event after the first ``seen`` (True: the lab's
        state may have changed, e.g. statusramais) or ``timeout`` passed (False)."""
        return await wait_until(self._ami_event, lambda: self.ami_events != seen, timeout)

    def _on_event(self, msg: Message) -> None:
        event = msg.get("Event", "")
        if event == "OriginateResponse":
            call = next((c for c in self.calls.values()
                         if c.action_id and c.action_id == msg.get("ActionID")), None)
            if call is None:
                return
            uniqueid = msg.get("Uniqueid", "")
            if uniqueid and uniqueid not in ("<null>", "<unknown>"):
                self._by_uniqueid[uniqueid] = call.record.id
                call.record = replace(call.record, uniqueid=uniqueid)
                call.channel = msg.get("Channel", "")
            if msg.get("Response") == "Failure":
                # Reason 5 is busy; a 486 from the phone gives reason 0 on Asterisk 16, and
                # the DialEnd of the originate's own dial (BUSY) comes before or after it
                reason = msg.get("Reason", "")
                status = call.origin_status
                if reason == "5" or status == "BUSY":
                    self._finish(call, "BUSY")
                elif reason == "0" and not status:
                    call.undecided = True
                    asyncio.get_running_loop().call_later(2.0, self._settle, call)
                else:
                    self._finish(call, "NO ANSWER")
        elif event == "UserEvent" and msg.get("UserEvent") == "TwinAnswered":
            call = self.calls.get(msg.get("TwinId", ""))
            if call:
                uniqueid = msg.get("Uniqueid", "")
                if uniqueid:
                    self._by_uniqueid[uniqueid] = call.record.id
                call.record = replace(call.record, answered=datetime.now(),
                                      uniqueid=call.record.uniqueid or uniqueid)
                call.channel = call.channel or msg.get("Channel", "")
        elif event == "DialEnd" and "Channel" not in msg:   # an Originate's own dial
            call = self.calls.get(self._by_uniqueid.get(msg.get("DestUniqueid", ""), ""))
            if call is None:
                return
            call.origin_status = msg.get("DialStatus", "")
            if call.undecided:
                self._finish(call, "BUSY" if call.origin_status == "BUSY" else "NO ANSWER")
        elif event == "DialEnd":
            call = self.calls.get(self._by_uniqueid.get(msg.get("Uniqueid", ""), ""))
            if call and msg.get("DialStatus") == "ANSWER" and call.record.connected is None:
                call.record = replace(call.record, connected=datetime.now())
        elif event in ("BlindTransfer", "AttendedTransfer"):
            uniqueid = msg.get("TransfererUniqueid", "") or msg.get("OrigTransfererUniqueid", "")
            call = self.calls.get(self._by_uniqueid.get(uniqueid, ""))
            if call and not call.transfer_id:
                call.transfer_id = (msg.get("TransfereeUniqueid", "")
                                    or msg.get("TransferTargetUniqueid", "") or "transfer")
                if call.ended.is_set():
                    self._push_transfer(call)
        elif event == "UserEvent" and msg.get("UserEvent") == "TwinEnded":
            call = self.calls.get(msg.get("TwinId", ""))
            if call:
                status = msg.get("DialStatus", "")
                disposition = {"ANSWER": "ANSWER", "BUSY": "BUSY", "CANCEL": "CANCEL"}.get(
                    status, "NO ANSWER")
                if disposition == "ANSWER" and call.record.connected is None:
                    disposition = "NO ANSWER"
                side = msg.get("Side", "") or "interno"
                self._finish(call, disposition, hangup_side=side)

    def _settle(self, call: _Call) -> None:
        self._finish(call, "NO ANSWER")

    def _channel_id(self, now: datetime) -> str:
        """A uniqueid of Asterisk's shape (``<epoch>.<n>``) that Asterisk's own counter (from
        0 at each start) does not reach: ``n`` starts at 900000."""
        return f"{int(now.timestamp())}.{900000 + next(self._ids)}"

    def _finish(self, call: _Call, disposition: str, **changes: Any) -> None:
        if call.ended.is_set():
            return
        call.record = call.record.finish(datetime.now(), disposition, **changes)
        if disposition != "ANSWER":
            call.record = replace(call.record, connected=None)
        call.ended.set()
        self._push_end(call.record)
        if call.transfer_id:
            self._push_transfer(call)

    def _push_transfer(self, call: _Call) -> None:
        """Seed 002's third push: the complete call with ``call_transfer_id``."""
        if call.transfer_pushed:
            return
        call.transfer_pushed = True
        for target in self.config.webhooks:
            if target.dialect == "seed002":
                self._queue(target, self._deliver(target, "transfer", pbx55.payload(
                    call.record, "transfer", central_id=self.config.central_id,
                    base_url=self.url, transfer_id=call.transfer_id)))

    # --- webhooks --------------------------------------------------------------------------

    def _push_start(self, rec: CallRecord) -> None:
        for target in self.config.webhooks:
            if target.dialect == "seed002":
                self._queue(target, self._deliver(target, "start", pbx55.payload(
                    rec, "start", central_id=self.config.central_id, base_url=self.url)))
            elif target.dialect == "seed003":
                self._queue(target, self._deliver(target, "call.dialing", rest_c2c.event(
                    "call.dialing", rec, self.config.client_id, epoch_ms())))

    def _push_end(self, rec: CallRecord) -> None:
        for target in self.config.webhooks:
            if target.dialect == "seed000":
                body: Any = krolik.cdr_from_record(rec).form()
            elif target.dialect == "seed002":
                body = pbx55.payload(rec, "end", central_id=self.config.central_id,
                                       base_url=self.url)
            elif target.dialect == "seed003":
                body = rest_c2c.event("call.hangup", rec, self.config.client_id, epoch_ms())
            else:
                start_utc = rec.start.astimezone(timezone.utc).replace(tzinfo=None)
                body = minicrm.request(reveal_secret(target.secret) or "",
                                       self.config.user_extension_field or rec.extension,
                                       [minicrm.record_from_call(rec, start_utc)])
            self._queue(target, self._deliver(target, "end", body))

    def _queue(self, target: WebhookTarget, delivery: Any) -> None:
        """Pushes to one target go out one after the other, in order (start, end, transfer)."""
        previous = self._last_delivery.get(target.url)

        async def after_previous() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await delivery

        self._last_delivery[target.url] = self._spawn(after_previous())

    async def _deliver(self, target: WebhookTarget, kind: str, body: Any) -> None:
        client = HttpClient(insecure=self.config.webhook_insecure, timeout=5.0)
        try:
            if target.dialect == "seed000":
                resp = await client.post_form(target.url, body)
            else:
                headers = {}
                if target.dialect == "seed002" and target.secret is not None:
                    headers[pbx55.TOKEN_HEADER] = reveal_secret(target.secret)
                resp = await client.post_json(target.url, body, headers,
                                              method=target.method)
            self.deliveries.append((target.dialect, kind, resp.status))
            if resp.status >= 300:
                log.warning("webhook %s %s answered %s: %s", target.dialect, kind,
                            resp.status, resp.text[:200])
        except HttpError as exc:
            self.deliveries.append((target.dialect, kind, str(exc)))
            log.warning("webhook %s %s failed: %s", target.dialect, kind, exc)

    # --- HTTP ------------------------------------------------------------------------------

    async def _plain(self, req: HttpRequest) -> HttpResponse:
        """Plain HTTP: seed 003's API (documented on http://DOMAIN:3030), seed 001's "Erro de
        Protocolo" on seed 001's paths, 404 elsewhere."""
        routed = rest_c2c.route(req.path)
        if routed:
            return await self._api003(req, *routed)
        if req.path in pbx_api.API_PATHS:
            return json_response(pbx_api.PROTOCOL_ERROR)
        return text_response(f"not found over plain HTTP: {req.path} (seed 003's /api/... "
                             "only; the rest is HTTPS)\n", 404)

    async def _handle(self, req: HttpRequest) -> HttpResponse:
        path = req.path
        if path in pbx_api.API_PATHS:
            return await self._api001(req)
        if path == krolik.CALL_PATH:
            return await self._call000(req)
        if path.startswith((pbx_api.RECORD_PREFIX, krolik.RECORD_PREFIX, "/webphone-")) \
                or path == "/record":
            return await self._recording(req)
        routed = rest_c2c.route(path)
        if routed:
            return await self._api003(req, *routed)
        return text_response(f"not found: {path}\n", 404)

    async def _api001(self, req: HttpRequest) -> HttpResponse:
        if req.method != "POST":
            return json_response(["Status", "Use POST"], 405)
        try:
            api = pbx_api.parse_request(pbx_api.with_bearer(req.json(),
                                                            req.header("authorization")))
        except (FieldError, ValueError) as exc:
            return json_response(["Status", f"Requisicao Invalida: {exc}"], 400)
        failed = pbx_api.check_access(api, self.config.credentials, req.peer[0])
        if failed:
            self.refusals.append(failed)
            log.warning("seed001 %s refused from %s: %s does not match", api.acao,
                        req.peer[0], failed)
            return json_response(pbx_api.LOGIN_INVALID)
        try:
            if api.acao == "clicktocall":
                origem, destino = pbx_api.click_to_call_params(api.params)
                rec = await self.click_to_call(origem, destino, dialect="seed001")
                return json_response(["Status", "CHAMADA OK", "ID", rec.id])
            if api.acao == "statusramais":
                return json_response(await self.statusramais())
            if api.acao == "statusreport":
                since = pbx_api.parse_datainicial(api.params, datetime.now())
                return json_response(pbx_api.report([c.record for c in self.calls.values()],
                                                    since))
            if api.acao == "bloqueioclasse5":
                return json_response(await self.classe5(api.params))
            if api.acao in ("insert", "statusdiscador", "statusdetalhado", "deletediscador"):
                return json_response(self.dialer.answer(api.acao, api.params, datetime.now()))
            since = pbx_api.parse_datainicial(api.params, datetime.now())
            return json_response(self.operators.since(since))   # statusoperacoes
        except FieldError as exc:
            return json_response(["Status", f"Parametro Invalido: {exc}"])

    async def classe5(self, params: dict[str, Any]) -> list[str]:
        from sipclient.http.twin import classe5

        login, action = classe5.parse(params)
        if login != self.config.classe5_login:
            return classe5.UNKNOWN_TENANT
        await classe5.apply(self.ami, Path(self.lab.run_dir) / "etc", action == "BLOQUEAR")
        self.blocked = action == "BLOQUEAR"
        return classe5.OK

    async def _call000(self, req: HttpRequest) -> HttpResponse:
        # The document: every request is answered 200, whatever its parameters.
        try:
            c2c = krolik.parse_click_to_call(req.form() if req.method == "POST" else req.query)
            if c2c.customer_code != self.config.customer_code:
                raise FieldError("ramal", f"customer code {c2c.customer_code} is not "
                                 f"{self.config.customer_code}")
            await self.click_to_call(c2c.extension, c2c.numero, dialect="seed000", key=c2c.key)
            return text_response("OK")
        except (FieldError, ValueError, HttpError) as exc:
            log.warning("seed000 click-to-call ignored: %s", exc)
            return text_response(f"ignored: {exc}\n")

    async def _api003(self, req: HttpRequest, kind: str, params: dict[str, str]
                      ) -> HttpResponse:
        now = datetime.now(timezone.utc)
        if kind == "call":
            try:
                rec = await self.click_to_call(params["ramal"], params["number"],
                                               dialect="seed003")
            except HttpError as exc:
                return json_response(rest_c2c.answer("ERROR", now, {"error": str(exc)}))
            return json_response(rest_c2c.answer("CONECTION_OK", now,
                                                rest_c2c.call_data(rec, now)))
        if kind == "status":
            call = self.calls.get(params["call_id"])
            if call is None:
                return json_response(rest_c2c.answer("NOT_FOUND", now, None), 404)
            rec = call.record
            status = "FINISHED" if rec.ended else "IN_PROGRESS"
            data = rest_c2c.call_data(rec, now, status)
            data.update({"disposition": rest_c2c.hangup_disposition(rec.disposition)
                         if rec.disposition else None,
                         "duration": rec.duration, "billsec": rec.billsec})
            return json_response(rest_c2c.answer("SUCCESS", now, data))
        channels = await self._channels()
        mine = [c for c in channels if _ext_of(c) == params["ramal"]]
        if not mine:
            return json_response(rest_c2c.answer("SUCCESS", now, None))
        chan = mine[0]
        linked = [c["Channel"] for c in channels
                  if c.get("BridgeId") and c.get("BridgeId") == chan.get("BridgeId")
                  and c["Channel"] != chan["Channel"]]
        seconds = hms_seconds(chan.get("Duration", "0"))
        created = datetime.fromtimestamp(now.timestamp() - seconds, timezone.utc)
        data = {"id": chan.get("Uniqueid"), "name": chan["Channel"], "channel": None,
                "callerId": {"name": chan.get("CallerIDName", ""),
                             "number": chan.get("CallerIDNum", "")},
                "state": chan.get("ChannelStateDesc", "").upper(), "account": None,
                "dateOfCreation": rest_c2c.iso(created),
                "linkedChannel": linked[0] if linked else None}
        return json_response(rest_c2c.answer("SUCCESS", now, data))

    # --- status ----------------------------------------------------------------------------

    async def _channels(self) -> list[Message]:
        return await self.ami.list_action("CoreShowChannels")

    async def statusramais(self) -> list[dict[str, str]]:
        channels = await self._channels()
        states = {m.get("Device", ""): m.get("State", "")
                  for m in await self.ami.list_action("DeviceStateList")}
        rows = []
        for chan in channels:
            ext = _ext_of(chan)
            if not ext:
                continue
            values = {}
            for var in ("JSON1", "JSON2", "JSON3", "GRAVACAO"):
                reply = await self.ami.action("Getvar", Channel=chan["Channel"], Variable=var)
                values[var] = reply.get("Value", "") if reply.get("Response") == "Success" else ""
            incoming = chan.get("Application") == "AppDial"
            exten = ext if incoming else chan.get("Exten", "")
            if exten in ("s", "h", ""):
                exten = chan.get("ConnectedLineNum", "")
            rows.append(pbx_api.statusramais_row(
                Ramal=ext, Status=DEVICE_STATES.get(states.get(f"PJSIP/{ext}", ""), "In use"),
                Direcao="ENTRADA" if incoming else "SAIDA",
                Duracao=hms_seconds(chan.get("Duration", "0")),
                StatusCanal=chan.get("ChannelStateDesc", ""),
                Callerid=ami_value(chan.get("ConnectedLineNum", "")), Extension=exten,
                JSON1=values["JSON1"], JSON2=values["JSON2"], JSON3=values["JSON3"],
                GRAVACAO=values["GRAVACAO"], IDCHAMADA=chan.get("Linkedid", "")))
        return rows

    # --- recordings ------------------------------------------------------------------------

    def recording_file(self, rec: CallRecord) -> Path:
        return self.monitor_dir / f"{rec.recording}.wav"

    async def _recording(self, req: HttpRequest) -> HttpResponse:
        return serve_recording(req, [c.record for c in self.calls.values()],
                               self.monitor_dir, self.config.central_id)


def _ext_of(chan: Message) -> str:
    match = _PJSIP.fullmatch(chan.get("Channel", ""))
    return match.group(1) if match else ""


__all__ = ["Twin", "TwinConfig", "WebhookTarget"]
