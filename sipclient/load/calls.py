"""``sipclient load call``: INVITE / answer / hold / BYE instances on one shared SIP core.

This is the *core* engine: it runs ``--media packets``/``full``, Locust's ``SipUser`` and
``--engine core``; at ``--media none`` the lean engine (:mod:`sipclient.load.lean`) runs
the calls by default.

Like ``sipp -sn uac``, one process holds one UDP socket and one
:class:`~sipclient.io.endpoint.Endpoint` (one :class:`~sipclient.proto.core.SipCore`) for all
its calls: no per-call agent, transport or trace. Each instance:

1. sends an INVITE with an SDP offer (answering one 401/407 with the digest of ``--user``),
2. records the post-dial delay at the first 180/183 and the setup time at the 200,
3. ACKs, holds ``--hold`` seconds (or until the run is stopped), sends BYE, waits for its 2xx.

A final status >= 300 ends the instance as failed (reason ``4xx``/``5xx``/``6xx``); timer B
or F as ``timeout``; a send error as ``transport``. A BYE from the far end during the hold
is answered 200 and ends the call as completed. Requests for dialogs we do not know are
answered 481.

Media: :mod:`sipclient.load.media` gives each call its offer and, for ``--media packets`` or
``full``, its RTP stream (the agent's media session at that level); ``none`` sends a static
offer and binds nothing.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import Any

from sipclient.io.endpoint import Endpoint, TransactionFailed
from sipclient.io.resolve import resolve
from sipclient.io.target import parse_target
from sipclient.io.transport import TransportError, concrete_address
from sipclient.io.udp import UdpTransport
from sipclient.load.media import MediaPlan
from sipclient.load.spec import LoadSpec, request_uri_for
from sipclient.load.stats import LoadStats, reason_for_status
from sipclient.proto.core import CoreConfig, RequestReceived
from sipclient.proto.dialog import Dialog
from sipclient.proto.digest import DigestClient
from sipclient.proto.errors import ParseError
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request
from sipclient.proto.transaction import build_response
from sipclient.proto.uac import authenticate

__all__ = ["CallDriver", "open_udp_endpoint", "udp_server", "request_uri_for", "SIP_TIMEOUT",
           "uri_params"]

#: socket buffers asked for (the kernel caps them at net.core.rmem_max / wmem_max)
SOCKET_BUFFER = 4 * 1024 * 1024
#: timer B / F with the default T1 (RFC 3261 17.1.1.2): every transaction ends by then
SIP_TIMEOUT = 32.0


async def udp_server(spec: LoadSpec, also: tuple[str, ...] = ()) -> tuple[str, int]:
    """The address ``spec.target`` resolves to (UDP, or a transport of ``also``: else
    ValueError)."""
    target = parse_target(spec.target)
    if target.transport != "udp" and target.transport not in also:
        allowed = " or ".join(t.upper() for t in ("udp", *also))
        raise ValueError(f"load runs over {allowed}; {spec.target!r} asks for "
                         f"{target.transport.upper()}")
    hops = await resolve(target)
    if not hops:
        raise ValueError(f"{spec.target!r} does not resolve to an address")
    return (hops[0].ip, hops[0].port)


async def open_udp_endpoint(spec: LoadSpec, on_request: Any = None
                            ) -> tuple[Endpoint, tuple[str, int], tuple[str, int]]:
    """Resolve ``spec.target`` (UDP, or TCP: one connection per process), bind one socket,
    and return ``(endpoint, server address, our concrete address)``."""
    server = await udp_server(spec, also=("tcp",))
    local_ip = spec.local_addresses[0] if spec.local_addresses else (
        "::" if ":" in server[0] else "0.0.0.0")
    ids = IdGenerator(random.Random())
    endpoint: Endpoint | None = None

    def on_event(event: Any) -> None:
        if endpoint is not None:
            endpoint.on_transport_event(event)

    transport: Any
    if parse_target(spec.target).transport == "tcp":
        # one connection from this process, opened now: a refused one is a clear error
        # before any instance starts
        from sipclient.io.stream import TcpTransport

        transport = await TcpTransport.create(on_event=on_event, local=(local_ip, 0))
        try:
            local = (await transport.connect(server)).local
        except (OSError, TransportError) as exc:
            await transport.close()
            raise OSError(str(exc)) from None
        name = "TCP"
    else:
        transport = await UdpTransport.bind((local_ip, 0), on_event=on_event)
        sock = getattr(transport, "_sock", None)  # bursts of responses must not overflow it
        if sock is not None:
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        local = concrete_address(transport.local_address, server)
        name = "UDP"
    endpoint = Endpoint(CoreConfig(host=local[0], port=local[1], transport=name, rng=ids.rng),
                        on_request=on_request)
    endpoint.attach(transport)
    return endpoint, server, local


def uri_params(endpoint: Endpoint) -> str:
    """What our Contact URIs carry for the endpoint's transport (``;transport=tcp``)."""
    return ";transport=tcp" if endpoint.transport_name == "TCP" else ""


class CallDriver:
    """The :class:`~sipclient.load.engine.Driver` of ``load call``."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.endpoint: Endpoint | None = None
        self.server: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.ids = IdGenerator(random.Random())
        self.calls: dict[str, _Live] = {}
        self.media = MediaPlan(spec)
        #: a response wait bounded by asyncio only when --timeout is shorter than SIP's own
        #: bound (timer B/F = 64*T1 = 32 s): wait_for costs a task per wait otherwise
        self._wait = spec.timeout if spec.timeout < SIP_TIMEOUT else None
        self.digest: DigestClient | None = None
        #: ``on_transaction(i, method, ms, status, failure)`` per INVITE and BYE (Locust)
        self.on_transaction: Any = None

    def _report(self, i: int, method: str, t0: float, status: int | None,
                failure: str | None = None) -> None:
        if self.on_transaction is not None:
            ms = (time.perf_counter() - t0) * 1000.0
            self.on_transaction(i, method, ms, status, failure)

    async def open(self) -> None:
        self.endpoint, self.server, self.local = await open_udp_endpoint(
            self.spec, on_request=self._on_request)
        self.uri_params = uri_params(self.endpoint)
        target = parse_target(self.spec.target)
        self.domain = target.host if not target.host.replace(".", "").isdigit() \
            else self.server[0]
        self.user = self.spec.user or "sipclient"
        if self.spec.password is not None:
            self.digest = DigestClient(self.spec.user or self.user, self.spec.password)
        await self.media.open(self.local[0])

    @property
    def retransmissions(self) -> int:
        """Requests this process's SIP core sent again (timer A/E)."""
        return self.endpoint.core.retransmissions if self.endpoint is not None else 0

    async def close(self) -> None:
        await self.media.close()
        if self.endpoint is not None:
            await self.endpoint.close()

    # ------------------------------------------------------------------ one call

    async def instance(self, i: int, stats: LoadStats,
                       ending: asyncio.Event) -> tuple[str, str] | None:
        assert self.endpoint is not None
        ep = self.endpoint
        call_id = self.ids.call_id(self.local[0])
        media = await self.media.new_call(i)
        live = _Live()
        self.calls[call_id] = live
        try:
            number = self.spec.number or ""
            uri, to_uri = request_uri_for(number.replace("${i}", str(i)), self.server,
                                          self.domain)
            host = f"[{self.local[0]}]" if ":" in self.local[0] else self.local[0]
            invite = Request("INVITE", uri, headers=[
                ("From", f"<sip:{self.user}@{self.domain}>;tag={self.ids.tag()}"),
                ("To", f"<{to_uri}>"),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:{self.user}@{host}:{self.local[1]}{self.uri_params}>"),
                ("User-Agent", "sipclient-load"),
                ("Content-Type", "application/sdp"),
            ], body=media.offer())
            t0 = time.perf_counter()
            tx = ep.send_request(invite, self.server)
            pdd_seen = False
            challenged = False
            while True:
                try:
                    resp = await tx.response(self._wait)
                except TransactionFailed as exc:
                    self._report(i, "INVITE", t0, None, exc.reason)
                    return ("timeout" if exc.timer else "transport", exc.reason)
                except asyncio.TimeoutError:
                    self._report(i, "INVITE", t0, None, "timeout")
                    return ("timeout", f"no response to INVITE in {self.spec.timeout:g} s")
                status = resp.status
                if status < 200:
                    if not pdd_seen and status in (180, 183):
                        pdd_seen = True
                        stats.latency("pdd_ms", (time.perf_counter() - t0) * 1000.0, time.time())
                    continue
                if status in (401, 407) and not challenged and self.digest is not None:
                    retry = authenticate(tx.request, resp, self.digest, self.ids)
                    if retry is not None:
                        challenged = True
                        tx.close()
                        tx = ep.send_request(retry, self.server)
                        continue
                stats.status(status)
                if status >= 300:
                    self._report(i, "INVITE", t0, status, f"INVITE answered {status}")
                    return (reason_for_status(status), f"INVITE answered {status}")
                self._report(i, "INVITE", t0, status)
                break
            stats.latency("setup_ms", (time.perf_counter() - t0) * 1000.0, time.time())
            tx.close()
            try:
                dialog = Dialog.from_uac(tx.request, resp, ids=self.ids)
            except ParseError as exc:
                return ("error", f"unusable 200 to INVITE: {exc}")
            ep.send_ack(dialog.create_ack(tx.request), self.server)
            media.answered(resp.body)
            # the hold: until --hold passes, the run is stopped, or the far end hangs up
            if self.spec.hold > 0 and not ending.is_set():
                waits = [asyncio.ensure_future(ending.wait()),
                         asyncio.ensure_future(live.remote_bye.wait())]
                await asyncio.wait(waits, timeout=self.spec.hold,
                                   return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
            if live.remote_bye.is_set():
                return None
            return await self._bye(i, dialog)
        except TransportError as exc:
            return ("transport", str(exc))
        finally:
            self.calls.pop(call_id, None)
            stats.media.extend(await media.close())

    async def _bye(self, i: int, dialog: Dialog) -> tuple[str, str] | None:
        assert self.endpoint is not None
        bye = dialog.create_request("BYE")
        t0 = time.perf_counter()
        tx = self.endpoint.send_request(bye, self.server)
        challenged = False
        while True:
            try:
                resp = await tx.final_response(timeout=self._wait)
            except TransactionFailed as exc:
                self._report(i, "BYE", t0, None, exc.reason)
                return ("timeout" if exc.timer else "transport", f"BYE: {exc.reason}")
            except asyncio.TimeoutError:
                self._report(i, "BYE", t0, None, "timeout")
                return ("timeout", "no response to BYE")
            if resp.status in (401, 407) and not challenged and self.digest is not None:
                retry = authenticate(tx.request, resp, self.digest, self.ids)
                if retry is not None:
                    challenged = True
                    tx = self.endpoint.send_request(retry, self.server)
                    continue
            if resp.status >= 300 and resp.status != 481:
                self._report(i, "BYE", t0, resp.status, f"BYE answered {resp.status}")
                return (reason_for_status(resp.status), f"BYE answered {resp.status}")
            self._report(i, "BYE", t0, resp.status)
            return None

    # ------------------------------------------------------------------ the far end

    def _on_request(self, event: RequestReceived) -> None:
        assert self.endpoint is not None
        req = event.request
        live = self.calls.get(req.call_id)
        if req.method == "BYE" and live is not None:
            live.remote_bye.set()
            status = 200
        elif req.method in ("OPTIONS", "NOTIFY", "INFO", "UPDATE") or (
                req.method == "INVITE" and live is not None):
            status = 200
        else:  # a request for a dialog (or transaction) we do not have (12.2.2)
            status = 481
        headers = [("Contact", f"<sip:{self.user}@{self.local[0]}:{self.local[1]}"
                               f"{self.uri_params}>")] \
            if req.method == "INVITE" else []
        resp = build_response(req, status, "OK" if status == 200 else
                              "Call/Transaction Does Not Exist", headers=headers)
        self.endpoint.send_response(resp, event.key)


class _Live:
    __slots__ = ("remote_bye",)

    def __init__(self) -> None:
        self.remote_bye = asyncio.Event()
