"""Registration: REGISTER, refresh before expiry, un-REGISTER (RFC 3261 10.2).

One :class:`Registration` per agent keeps the Call-ID and the CSeq counter across
refreshes (10.2.4: the same Call-ID, CSeq incremented), so the registrar sees one binding.
The granted expiry comes from the 200: our Contact's ``expires`` parameter, else the
Expires header, else what we asked for (10.2.4). The refresh runs at half the granted time
for short registrations (up to 120 s) and 60 s before expiry for longer ones, so a
transaction that needs every retransmission (timer F, 32 s) still completes in time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sipclient.io.changes import Changes
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

from .errors import AgentError

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent

__all__ = ["RegisterResult", "Registration", "refresh_delay"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisterResult:
    """The outcome of one (un-)REGISTER: final status, granted expiry, its flow."""

    ok: bool
    status: int
    reason: str
    expires: int | None
    flow: list[str] = field(default_factory=list)
    response: Response | None = field(default=None, repr=False, compare=False)


def refresh_delay(expires: float) -> float:
    """Seconds after a 200 to send the refresh (see module docstring)."""
    if expires <= 120:
        return max(expires / 2, 0.05)
    return expires - 60


class Registration:
    """The binding of one agent's Contact at its registrar."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.call_id = agent.ids.call_id()
        self.from_tag = agent.ids.tag()
        self.cseq = agent.ids.rng.getrandbits(15) + 1
        self._registered = False
        self._became_registered = Changes()
        self.expires: int | None = None
        self.expires_at: float | None = None
        self.last: RegisterResult | None = None
        self.refreshes = 0
        self._refresh: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def registered(self) -> bool:
        return self._registered

    @registered.setter
    def registered(self, value: bool) -> None:
        self._registered = value
        if value:
            self._became_registered.wake()

    async def wait_registered(self, timeout: float | None = None) -> bool:
        """Wait until a REGISTER of this agent succeeded (now or later), at most ``timeout``
        seconds; False when it did not."""
        return self._registered or await self._became_registered.wait(timeout)

    def _build(self, expires: int) -> Request:
        a = self.agent
        self.cseq += 1
        aor = a.aor
        headers = [
            ("From", f"<{aor}>;tag={self.from_tag}"),
            ("To", f"<{aor}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", f"<{a.contact_uri}>"),
            ("Expires", str(expires)),
            ("Allow", a.ALLOW),
            ("User-Agent", a.config.user_agent),
            *a.config.extra_headers,
        ]
        return Request("REGISTER", a.registrar_uri, headers=headers)

    async def register(self, expires: int | None = None) -> RegisterResult:
        """Send REGISTER (challenged: retried with credentials) and schedule the refresh."""
        asked = self.agent.config.requested_expires if expires is None else expires
        async with self._lock:
            start = len(self.agent.trace)
            resp, sent = await self.agent.send_authenticated(self._build(asked))
            self.cseq = max(self.cseq, sent.cseq.seq)
            flow = _flow_since(self.agent, start, self.call_id)
            if resp.status == 423 and resp.min_expires:  # 10.2.8: ask for at least Min-Expires
                resp, sent = await self.agent.send_authenticated(self._build(resp.min_expires))
                self.cseq = max(self.cseq, sent.cseq.seq)
                flow = _flow_since(self.agent, start, self.call_id)
            ok = 200 <= resp.status < 300
            granted = self._granted(resp, asked) if ok else None
            result = RegisterResult(ok, resp.status, resp.reason, granted, flow, resp)
            self.last = result
            if ok and granted:
                self.registered = True
                self.expires = granted
                self.expires_at = self.agent.now() + granted
                self._schedule(refresh_delay(granted))
            elif ok:  # granted 0: nothing bound
                self.registered = False
            return result

    async def unregister(self) -> RegisterResult:
        """REGISTER with Expires: 0 for our Contact (10.2.2); stops refreshing."""
        self._cancel_refresh()
        async with self._lock:
            start = len(self.agent.trace)
            resp, sent = await self.agent.send_authenticated(self._build(0))
            self.cseq = max(self.cseq, sent.cseq.seq)
            ok = 200 <= resp.status < 300
            if ok:
                self.registered = False
                self.expires = 0
                self.expires_at = None
            result = RegisterResult(ok, resp.status, resp.reason, 0 if ok else None,
                                    _flow_since(self.agent, start, self.call_id), resp)
            self.last = result
            return result

    def _granted(self, resp: Response, asked: int) -> int:
        """Our Contact's expires param, else Expires, else what we asked (10.2.4)."""
        mine = self.agent.contact_uri
        try:
            contacts = resp.contact
        except ParseError:
            contacts = []
        candidates = [c for c in contacts if not c.is_star and c.expires is not None]
        for c in candidates:
            if _same_contact(str(c.uri), mine):
                return int(c.expires)  # type: ignore[arg-type]
        if len(candidates) == 1:
            return int(candidates[0].expires)  # type: ignore[arg-type]
        try:
            if resp.expires is not None:
                return int(resp.expires)
        except ParseError:
            pass
        return asked

    # -- refresh

    def _schedule(self, delay: float) -> None:
        self._cancel_refresh()
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_after(delay))

    def _cancel_refresh(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._refresh = None  # register() schedules the next one
        try:
            result = await self.register(self.expires)
            self.refreshes += 1
            if not result.ok:
                log.warning("registration refresh for %s failed: %s %s", self.agent.config.user,
                            result.status, result.reason)
        except (AgentError, OSError) as exc:
            log.warning("registration refresh for %s failed: %s", self.agent.config.user, exc)
            if self.expires and self._refresh is None:
                self._schedule(max(1.0, min(30.0, self.expires / 4)))

    async def close(self) -> None:
        self._cancel_refresh()


def _same_contact(a: str, b: str) -> bool:
    def norm(uri: str) -> str:
        return uri.strip("<>").split(";", 1)[0].lower()
    return norm(a) == norm(b)


def _flow_since(agent: Agent, start: int, call_id: str) -> list[str]:
    return [e.label for e in agent.trace[start:]  # type: ignore[misc]
            if e.label is not None and e.call_id == call_id]
