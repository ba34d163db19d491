"""``sipclient load register``: REGISTER storms, each user's digest answered, refreshes.

Instance ``n`` of a process registers the ``n``-th user of its share of ``--users`` (cycling
when there are more instances than users). One REGISTER is sent, a 401/407 is answered with
the user's digest (its own :class:`~sipclient.proto.digest.DigestClient`, so nonce counts
stay per user), and the time from the first REGISTER to the final 2xx is the REGISTER round
trip (``register_ms``). Each user keeps one Call-ID and increasing CSeqs (RFC 3261 10.2.4).

Without ``--refresh`` an instance ends at the 2xx; with it, the instance keeps the binding
and refreshes it at half the granted expiry until the run ends. Either way the driver
removes every binding it made when the run ends (``Expires: 0``, answered or not within
``--timeout``), so a load run leaves the registrar as it found it.

Passwords: ``--password`` for every user, or ``--lab-accounts``: each extension's password
in the built-in lab (the lab's password seed; also what the Kamailio lab is given).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from sipclient.io.endpoint import Endpoint, TransactionFailed
from sipclient.io.target import parse_target
from sipclient.load.calls import SIP_TIMEOUT, open_udp_endpoint, uri_params
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats, reason_for_status
from sipclient.proto.core import RequestReceived
from sipclient.proto.digest import DigestClient
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request
from sipclient.proto.transaction import build_response
from sipclient.proto.uac import authenticate

__all__ = ["RegisterDriver", "lab_password", "passwords_for"]


def lab_password(user: str) -> str:
    from sipclient.lab.config import LabConfig

    return LabConfig().password(user)


def passwords_for(spec: LoadSpec) -> dict[str, str | None]:
    """Each user's password: its lab password (``--lab-accounts``), else ``--password``."""
    if spec.variables.get("lab_accounts"):
        from sipclient.lab.config import LabConfig

        config = LabConfig()
        return {name: config.password(name) for name in spec.users}
    return {name: spec.password for name in spec.users}


class _User:
    __slots__ = ("name", "call_id", "cseq", "digest", "registered", "lock")

    def __init__(self, name: str, call_id: str, digest: DigestClient | None) -> None:
        self.name = name
        self.call_id = call_id
        self.cseq = 0
        self.digest = digest
        self.registered = False
        self.lock = asyncio.Lock()


class RegisterDriver:
    def __init__(self, spec: LoadSpec) -> None:
        if not spec.users:
            raise ValueError("load register needs --users, e.g. 1001-1020")
        self.spec = spec
        self.ids = IdGenerator(random.Random())
        self.endpoint: Endpoint | None = None
        self.users: list[_User] = []
        #: ``on_transaction(i, method, ms, status, failure)`` per registration (Locust)
        self.on_transaction: Any = None

    async def open(self) -> None:
        self.endpoint, self.server, self.local = await open_udp_endpoint(
            self.spec, on_request=self._on_request)
        self.uri_params = uri_params(self.endpoint)
        target = parse_target(self.spec.target)
        self.domain = target.host
        for name, password in passwords_for(self.spec).items():
            digest = DigestClient(name, password) if password is not None else None
            self.users.append(_User(name, self.ids.call_id(self.local[0]), digest))

    @property
    def retransmissions(self) -> int:
        """Requests this process's SIP core sent again (timer A/E)."""
        return self.endpoint.core.retransmissions if self.endpoint is not None else 0

    async def close(self) -> None:
        """Remove every binding this process made, then close the socket."""
        bound = [u for u in self.users if u.registered]
        if bound and self.endpoint is not None:
            gate = asyncio.Semaphore(max(1, self.spec.concurrency))

            async def unregister(u: _User) -> None:
                async with gate:
                    await self._register(u, expires=0)

            await asyncio.wait([asyncio.ensure_future(unregister(u)) for u in bound],
                               timeout=2 * self.spec.timeout)
        if self.endpoint is not None:
            await self.endpoint.close()

    def user_for(self, i: int) -> _User:
        n = (i - 1 - self.spec.process_index) // max(1, self.spec.processes)
        return self.users[n % len(self.users)]

    async def instance(self, i: int, stats: LoadStats,
                       ending: asyncio.Event) -> tuple[str, str] | None:
        user = self.user_for(i)
        t0 = time.perf_counter()
        outcome, status, granted = await self._register(user, self.spec.expires)
        if self.on_transaction is not None:
            self.on_transaction(i, "REGISTER", (time.perf_counter() - t0) * 1000.0, status,
                                outcome[1] if outcome else None)
        if status is not None:
            stats.status(status)
        if outcome is not None:
            return outcome
        stats.latency("register_ms", (time.perf_counter() - t0) * 1000.0, time.time())
        while self.spec.refresh and not ending.is_set():
            wait = max(1.0, (granted or self.spec.expires) / 2)
            try:
                await asyncio.wait_for(ending.wait(), wait)
                break
            except asyncio.TimeoutError:
                pass
            t0 = time.perf_counter()
            outcome, status, granted = await self._register(user, self.spec.expires)
            if outcome is not None:
                return outcome
            stats.latency("register_ms", (time.perf_counter() - t0) * 1000.0, time.time())
        return None

    async def _register(self, user: _User, expires: int
                        ) -> tuple[tuple[str, str] | None, int | None, int | None]:
        """One REGISTER exchange: (failure or None, final status, granted expiry)."""
        assert self.endpoint is not None
        async with user.lock:  # one transaction per user at a time (CSeq order, 10.2.4)
            user.cseq += 1
            host = f"[{self.local[0]}]" if ":" in self.local[0] else self.local[0]
            req = Request("REGISTER", f"sip:{self.domain}", headers=[
                ("From", f"<sip:{user.name}@{self.domain}>;tag={self.ids.tag()}"),
                ("To", f"<sip:{user.name}@{self.domain}>"),
                ("Call-ID", user.call_id),
                ("CSeq", f"{user.cseq} REGISTER"),
                ("Contact", f"<sip:{user.name}@{host}:{self.local[1]}{self.uri_params}>"),
                ("Expires", str(expires)),
                ("User-Agent", "sipclient-load"),
            ])
            tx = self.endpoint.send_request(req, self.server)
            challenged = False
            while True:
                try:
                    resp = await tx.final_response(
                        timeout=self.spec.timeout if self.spec.timeout < SIP_TIMEOUT else None)
                except TransactionFailed as exc:
                    return ("timeout" if exc.timer else "transport", exc.reason), None, None
                except asyncio.TimeoutError:
                    return ("timeout", "no final response to REGISTER"), None, None
                if resp.status in (401, 407) and not challenged and user.digest is not None:
                    retry = authenticate(tx.request, resp, user.digest, self.ids)
                    if retry is not None:
                        challenged = True
                        user.cseq = retry.cseq.seq
                        tx = self.endpoint.send_request(retry, self.server)
                        continue
                break
            if resp.status >= 300:
                return ((reason_for_status(resp.status),
                         f"REGISTER {user.name} answered {resp.status}"), resp.status, None)
            user.registered = expires > 0
            granted = _granted(resp, expires)
            return None, resp.status, granted

    def _on_request(self, event: RequestReceived) -> None:
        assert self.endpoint is not None
        status = 200 if event.request.method in ("OPTIONS", "NOTIFY") else 480
        self.endpoint.send_response(build_response(event.request, status,
                                                   "OK" if status == 200 else
                                                   "Temporarily Unavailable"), event.key)


def _granted(resp: object, asked: int) -> int:
    """The expiry the registrar granted (Contact ;expires=, else Expires, else asked)."""
    try:
        for contact in resp.contact:  # type: ignore[attr-defined]
            value = contact.params.get("expires") if hasattr(contact, "params") else None
            if value is not None and str(value).isdigit():
                return int(value)
        if resp.expires is not None:  # type: ignore[attr-defined]
            return int(resp.expires)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a registrar's odd Contact does not fail the load
        pass
    return asked
