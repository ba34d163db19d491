"""The twin's dialer (issue 20): campaigns whose contacts are really called through the lab's
Asterisk, after the pure rules of :mod:`sipclient.http.dialects.dialer`.

Each attempt is an AMI ``Originate`` of ``Local/<ddd><tel>@lab`` (the lab's numbers answer,
ring out, are busy...) with our own ``ChannelId`` and the dialplan ``twin-dialer``
(docker/asterisk/extensions.conf.tmpl): once the contact answers (UserEvent DialerAnswered)
the call is recorded (MixMonitor, seed 001's GRAVACAO shape) and handed to the campaign's
operators (``Dial``) or queue (``Queue``); the operator answering is a ``DialEnd`` ANSWER (or
app_queue's ``AgentConnect``), the end a UserEvent DialerEnded saying who hung up. A failed
originate is BUSY (reason 5), CONGESTION (8) or NOANSWER. The loop wakes on events (an
insert, a resume, an attempt that ends) and on the next retry's time, never polls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sipclient.http.dialects import dialer as d
from sipclient.http.dialects import pbx_api
from sipclient.http.twin.ami import AmiError, Message

if TYPE_CHECKING:
    from sipclient.http.twin.twin import Twin

log = logging.getLogger("sipclient.http.twin.dialer")


@dataclass
class _Live:
    campaign: d.Campaign
    contact: d.Contact
    attempt: d.Attempt
    action_id: str
    operator_up: datetime | None = None
    channel: str = ""                 # the answered Local channel, to hang up at close


class Dialer:
    def __init__(self, twin: "Twin", campaigns: list[d.CampaignRules]) -> None:
        self.twin = twin
        self.campaigns = {rules.id: d.Campaign(rules) for rules in campaigns}
        self._ids = itertools.count(1)
        self._live: dict[str, _Live] = {}            # by the attempt's uniqueid
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()                # set whenever a contact's status moves

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.campaigns and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for live in list(self._live.values()):   # calls still up: end them with the twin
            if live.channel:
                try:
                    await self.twin.ami.action("Hangup", Channel=live.channel)
                except (AmiError, asyncio.TimeoutError):
                    pass
        self._live.clear()

    # --- the API's actions -------------------------------------------------------------

    def insert(self, campaign_id: str, params: dict[str, Any], now: datetime) -> list[str]:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return d.CAMPAIGN_UNKNOWN
        contact = d.parse_insert(params)
        campaign.insert(f"{1435742 + next(self._ids)}", contact, now)
        self._wake.set()
        return d.OK

    def statusdiscador(self, campaign_id: str) -> list[Any]:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return d.CAMPAIGN_UNKNOWN
        return [d.statusdiscador_row(c, campaign.rules) for c in campaign.contacts.values()]

    def statusdetalhado(self, campaign_id: str, idmailing: str) -> Any:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return d.CAMPAIGN_UNKNOWN
        contact = campaign.contacts.get(idmailing)
        if contact is None:
            return []
        if contact.concluded is not None:
            file = self.twin.monitor_dir / f"{contact.concluded.gravacao}.wav"
            contact.concluded.recording_size = file.stat().st_size if file.is_file() else 0
        return d.statusdetalhado(contact, campaign.rules)

    def deletediscador(self, campaign_id: str) -> list[str]:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            return d.CAMPAIGN_UNKNOWN
        return d.deleted(campaign.delete())

    def answer(self, acao: str, params: dict[str, Any], now: datetime) -> Any:
        """seed 001's answer to a dialer action (``insert``, ``statusdiscador``...)."""
        campaign_id = d.campaign_id(params)
        if acao == "insert":
            return self.insert(campaign_id, params, now)
        if acao == "statusdiscador":
            return self.statusdiscador(campaign_id)
        if acao == "statusdetalhado":
            return self.statusdetalhado(campaign_id, d.idmailing(params))
        return self.deletediscador(campaign_id)

    def pause(self, campaign_id: str, paused: bool = True) -> None:
        self.campaigns[campaign_id].rules.paused = paused
        self._wake.set()

    def contact(self, campaign_id: str, idmailing: str) -> d.Contact:
        return self.campaigns[campaign_id].contacts[idmailing]

    async def wait_status(self, campaign_id: str, idmailing: str, statuses: tuple[str, ...],
                          timeout: float) -> d.Contact:
        """Until the contact's status is one of ``statuses``."""
        async def until() -> d.Contact:
            while True:
                contact = self.contact(campaign_id, idmailing)
                if contact.status in statuses:
                    return contact
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(until(), timeout)

    # --- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = datetime.now()
            for campaign in self.campaigns.values():
                for contact in campaign.due(now):
                    attempt = campaign.start(contact, now)
                    self._notify()
                    self.twin._spawn(self._dial(campaign, contact, attempt))
            # a retry's time matters only where a line is free (else an ending call wakes us)
            dues = [c.next_due() for c in self.campaigns.values()
                    if not c.rules.paused and c.dialing() < c.rules.concurrency]
            dues = [t for t in dues if t is not None]
            timeout = max(0.0, (min(dues) - datetime.now()).total_seconds()) if dues else None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _notify(self) -> None:
        self.changed.set()

    async def _dial(self, campaign: d.Campaign, contact: d.Contact, attempt: d.Attempt) -> None:
        rules = campaign.rules
        uniqueid = self.twin._channel_id(attempt.started)
        attempt.uniqueid = uniqueid
        attempt.gravacao = pbx_api.make_gravacao(attempt.started, attempt.number, rules.id,
                                                 uniqueid)
        live = _Live(campaign, contact, attempt, f"dialer-{uniqueid}")
        self._live[uniqueid] = live
        target = "&".join(f"PJSIP/{op}" for op in rules.operators)
        name = contact.values.get("cliente", "").replace('"', "")
        try:
            reply = await self.twin.ami.action(
                "Originate", action_id=live.action_id,
                Channel=f"Local/{attempt.number}@lab", Context="twin-dialer", Exten="s",
                Priority=1, Timeout=int(rules.ring_timeout * 1000), Async="true",
                ChannelId=uniqueid, CallerID=f'"{name}" <{attempt.number}>',
                Variable=[f"DIALER_ID={uniqueid}", f"DIALER_TARGET={target}",
                          f"DIALER_QUEUE={rules.queue}", f"DIALER_GRAVACAO={attempt.gravacao}",
                          f"DIALER_RING={max(1, round(rules.ring_timeout))}"])
        except (AmiError, asyncio.TimeoutError) as exc:
            log.warning("dialer: originate for contact %s failed: %s", contact.id, exc)
            self._end(live, d.CONGESTION)
            return
        if reply.get("Response") != "Success":
            self._end(live, d.CONGESTION)

    def on_event(self, msg: Message) -> None:
        event = msg.get("Event", "")
        if event == "OriginateResponse":
            live = next((x for x in self._live.values()
                         if x.action_id == msg.get("ActionID")), None)
            if live is not None and msg.get("Response") == "Failure":
                reason = msg.get("Reason", "")
                self._end(live, {"5": d.BUSY, "8": d.CONGESTION}.get(reason, d.NOANSWER))
            return
        if event == "UserEvent" and msg.get("UserEvent") == "DialerAnswered":
            live = self._live.get(msg.get("DialerId", ""))
            if live is not None:
                live.attempt.answered = datetime.now()
                live.channel = msg.get("Channel", "")
            return
        if event in ("DialEnd", "AgentConnect"):
            live = self._live.get(msg.get("Uniqueid", ""))
            if live is None or live.operator_up is not None:
                return
            if event == "DialEnd" and msg.get("DialStatus") != "ANSWER":
                return
            live.operator_up = datetime.now()
            peer = msg.get("DestChannel", "") or msg.get("Interface", "")
            live.attempt.operator = peer.split("/", 1)[-1].split("-", 1)[0]
            if live.attempt.answered:
                live.attempt.waited = (live.operator_up - live.attempt.answered).total_seconds()
            return
        if event == "UserEvent" and msg.get("UserEvent") == "DialerEnded":
            live = self._live.get(msg.get("DialerId", ""))
            if live is None:
                return
            live.attempt.side = msg.get("Side", "") or "CLIENTE"
            self._end(live, d.ANSWER if live.operator_up else d.NOANSWER)

    def _end(self, live: _Live, outcome: str) -> None:
        if self._live.pop(live.attempt.uniqueid, None) is None:
            return
        now = datetime.now()
        talk = (now - live.operator_up).total_seconds() if live.operator_up else 0.0
        status = live.campaign.finish(live.contact, live.attempt, outcome, now, talk)
        log.info("dialer: campaign %s contact %s %s -> %s (%s, %.1f s talk)",
                 live.campaign.rules.id, live.contact.id, live.attempt.number, status, outcome,
                 talk)
        self._notify()
        self._wake.set()
