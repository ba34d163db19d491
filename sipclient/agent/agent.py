"""The user agent: one extension on one transport (see docs/agent.md).

:class:`Agent` owns an :class:`~sipclient.io.endpoint.Endpoint` (the core + the transport),
a :class:`~sipclient.agent.registration.Registration` and the calls. Every request goes to
the server the agent was configured with (it acts as the outbound proxy, RFC 3261 8.1.2),
and every challenged request (401/407) is retried once with credentials (22.2, 22.3):
REGISTER, un-REGISTER, INVITE, BYE, re-INVITE, INFO, REFER, OPTIONS. CANCEL and ACK are
never challenged (22.1).

With ``config.capture`` every SIP message and RTP/RTCP packet of the agent's calls goes to
one pcap file (:mod:`sipclient.pcap.writer`) with wall-clock times, closed last by
:meth:`Agent.close`. A call's media comes from the media factory (:mod:`.factories`).

Leaving is always clean: ``async with`` exit and :meth:`Agent.close` hang up every call,
unregister and close the transport within ``config.cleanup_timeout``, even when the task
running it is cancelled (SIGINT/SIGTERM in the CLI; the cancellation is re-raised after).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

from sipclient.io.endpoint import ClientTransaction, Endpoint, TransactionFailed
from sipclient.io.impair import ImpairedTransport
from sipclient.io.memory import release as release_memory
from sipclient.io.target import Target, parse_target
from sipclient.io.transport import (WILDCARDS, LocalIdentity, TlsOptions, TransportError,
                                    concrete_address, format_host, open_for_target, open_transport)
from sipclient.pcap.writer import PcapWriter
from sipclient.proto.core import (AckReceived, CoreConfig, Event, RequestReceived,
                                  TransactionTimeout)
from sipclient.proto.digest import DigestClient
from sipclient.proto.errors import LocalProtocolError, ParseError
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request, Response
from sipclient.proto.builders import build_response
from sipclient.proto.uac import authenticate
from sipclient.proto.uri import SipUri

from .admission import RETRY_AFTER, Admission
from .call import Call, DialogSession
from .config import AgentConfig
from .errors import (AgentError, AuthenticationFailed, SipTimeout, TransportFailure,
                     cleanup_failure)
from .factories import make_call_media, real_media, stub_media  # noqa: F401 - re-exported
from .incoming import IncomingCall
from .registration import RegisterResult, Registration
from .media_session import MediaFactory, MediaSession
from .trace import Trace, TraceEntry

__all__ = ["Agent"]

log = logging.getLogger(__name__)


class Agent:
    """One SIP user agent. ``async with Agent(config) as agent: ...`` (docs/agent.md)."""

    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, MESSAGE, UPDATE"

    def __init__(self, config: AgentConfig, *, media_factory: MediaFactory | None = None
                 ) -> None:
        self.config = config
        self.trace = Trace(limit=config.trace_limit)
        self.ids = IdGenerator(random.Random(config.seed) if config.seed is not None else None)
        password = config.password.reveal() if config.password is not None else None
        self.digest = (DigestClient(config.digest_user, password)
                       if password is not None else None)
        #: answer every incoming call after this many seconds (None: off)
        self.auto_answer: float | None = None
        #: reject every incoming call with this status (None: off)
        self.auto_reject: int | None = None
        self.media_factory = media_factory or real_media
        self.media_count = 0  # calls given media so far (one recording file each)
        self.target: Target = parse_target(config.server)
        self.endpoint: Endpoint | None = None
        self.identity: LocalIdentity | None = None
        self.server_addr: tuple[str, int] = self.target.address
        self.sessions: dict[str, DialogSession] = {}
        self.registration = Registration(self)
        self.admission = Admission(self)  # the quotas of incoming calls
        self._incoming: asyncio.Queue[IncomingCall] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._close_task: asyncio.Task[None] | None = None
        self._pcap: PcapWriter | None = None
        #: why the capture stopped before the end (a full disk...), None: it did not
        self.capture_error: str | None = None
        self._pcap_file: Any = None
        #: (wildcard local address, remote IP) -> the local address really used toward it
        self._local_toward: dict[tuple[tuple[str, int], str], tuple[str, int]] = {}
        self._wall_offset = 0.0
        # ended sessions that leave ``sessions`` later: one timer for all, not one per call
        self._leaving: deque[tuple[float, DialogSession]] = deque()
        self._leave_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<Agent {self.config.user} {self.target}>"

    # ------------------------------------------------------------------ identity

    @property
    def domain(self) -> str:
        return self.config.domain or format_host(self.target.host)

    @property
    def aor(self) -> str:
        """Our address of record: ``sip:user@domain`` (10.2: From and To of REGISTER)."""
        return f"sip:{self.config.user}@{self.domain}"

    @property
    def from_header(self) -> str:
        name = self.config.display_name
        return f'"{name}" <{self.aor}>' if name else f"<{self.aor}>"

    @property
    def registrar_uri(self) -> str:
        return f"sip:{self.config.domain}" if self.config.domain else self.target.uri(user="")

    @property
    def contact_uri(self) -> str:
        if self.identity is None:
            raise AgentError("the agent is not open")
        return self.identity.contact_uri(self.config.user)

    @property
    def local_ip(self) -> str:
        """The IP of this agent's socket (for SDP), never the WebSocket ``.invalid`` host."""
        assert self.endpoint is not None and self.endpoint.transport is not None
        host = self.endpoint.transport.local_address[0]
        return host if host not in WILDCARDS else self.server_addr[0]

    def request_uri(self, target: str) -> str:
        """``"600"`` -> ``sip:600@<server>``; full URIs are kept."""
        if target.lower().startswith(("sip:", "sips:", "tel:")):
            return target
        if "@" in target:
            return f"sip:{target}"
        if self.config.domain:
            return f"sip:{target}@{self.config.domain}"
        return self.target.uri(user=target)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def flow(self, call_id: str | None = None) -> list[str]:
        """``["REGISTER", "401", "REGISTER", "200", ...]`` (see :meth:`Trace.flow`)."""
        return self.trace.flow(call_id)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> Agent:
        """Open the transport toward the server and learn our Via/Contact identity."""
        if self.endpoint is not None:
            return self
        cfg = self.config
        tls = TlsOptions(insecure=cfg.insecure, ca_file=cfg.ca_file)
        local = None
        if cfg.local_address is not None or cfg.local_port:
            host = cfg.local_address or ("::" if ":" in self.target.host else "0.0.0.0")
            local = (host, cfg.local_port)
        early: list[Any] = []
        try:
            if cfg.listen:
                transport, addr = await self._open_listener(early.append)
            else:
                transport, addr = await open_for_target(
                    self.target, on_event=early.append, local=local,
                    tls=tls if self.target.secure else None)
        except (TransportError, OSError) as exc:
            raise TransportFailure(f"cannot open {self.target}: {exc}") from exc
        if cfg.impairment is not None:
            imp = cfg.impairment
            transport = ImpairedTransport(transport, outgoing=imp.outgoing,
                                          incoming=imp.incoming, seed=imp.seed)
        self.server_addr = addr
        try:
            self.identity = await transport.identity(None if cfg.listen else addr)
        except (TransportError, OSError) as exc:
            await transport.close()
            raise TransportFailure(f"cannot reach {self.target}: {exc}") from exc
        ident = self.identity
        if hasattr(cfg.capture, "write"):  # a shared sink (pcap, HEP, tee): its owner closes it
            self._pcap = cfg.capture
        elif cfg.capture is not None:
            try:
                self._pcap_file = open(cfg.capture, "wb")
                self._pcap = PcapWriter(self._pcap_file)  # writes the header: may be ENOSPC
            except OSError as exc:
                self._close_capture()
                Path(cfg.capture).unlink(missing_ok=True)  # no 0-byte capture left behind
                await transport.close()
                raise AgentError(f"cannot write the capture {cfg.capture}: "
                                 f"{exc.strerror}") from exc
        if self._pcap is not None:
            self._wall_offset = time.time() - asyncio.get_running_loop().time()
        core = CoreConfig(host=format_host(ident.sent_by_host), port=ident.sent_by_port,
                          transport=ident.via_transport, timers=cfg.timers or CoreConfig().timers,
                          rng=self.ids.rng)
        self.endpoint = Endpoint(core, on_request=self._on_request, on_ack=self._on_ack,
                                 on_other=self._on_other,
                                 on_wire=self._on_wire if cfg.record_trace or self._pcap
                                 else None)
        self.endpoint.attach(transport)
        for event in early:
            self.endpoint.on_transport_event(event)
        return self

    async def _open_listener(self, on_event: Callable[[Any], None]) -> tuple[Any, Any]:
        """``config.listen``: a transport bound to (and, for TCP/TLS, accepting on) the
        local address/port, default the server's address."""
        cfg, target = self.config, self.target
        name = target.transport
        if name not in ("udp", "tcp", "tls", "ws", "wss"):
            raise TransportError(f"listening on {name} is not supported")
        host = cfg.local_address if cfg.local_address and cfg.local_port else target.host
        port = cfg.local_port or target.port or {"tls": 5061, "ws": 80, "wss": 443}.get(name,
                                                                                     5060)
        local = (host.strip("[]"), port)
        tls = None
        if name in ("tls", "wss"):
            if not (cfg.cert_file and cfg.key_file):
                raise TransportError(f"listening on {name.upper()} needs a certificate and "
                                     "key (--tls-cert, --tls-key)")
            tls = TlsOptions(cert_file=cfg.cert_file, key_file=cfg.key_file,
                             insecure=cfg.insecure, ca_file=cfg.ca_file)
        if name in ("ws", "wss"):
            from sipclient.io.ws_server import WsListener

            listener = await WsListener.create(on_event=on_event, local=local,
                                               path=target.path or "/", tls=tls)
            return listener, listener.local_address
        options: dict[str, Any] = {"local": local}
        if name != "udp":
            options["listen"] = True
        if tls is not None:
            options["tls"] = tls
        transport = await open_transport(name, on_event=on_event, **options)
        return transport, transport.local_address

    def next_hop(self, dialog: Any, source: tuple[str, int] | None = None
                 ) -> tuple[str, int]:
        """Where a request of ``dialog`` goes: the server (our outbound proxy, 8.1.2), or,
        when listening without one, the dialog's next hop (route set, else remote target;
        12.2.1.1), an IP literal with its port or the transport's default; a WebSocket
        client's ``.invalid`` Contact means ``source``, the connection its INVITE came on
        (RFC 7118 5)."""
        if not self.config.listen:
            return self.server_addr
        uri = SipUri.parse(dialog.next_hop)
        if source is not None and uri.host.lower().endswith(".invalid"):
            return source
        default = 5061 if uri.scheme == "sips" or self.target.transport == "tls" else 5060
        return (uri.host.strip("[]"), uri.port or default)

    async def __aenter__(self) -> Agent:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, *, cleanup: bool = True) -> None:
        """Hang up, unregister, close (bounded by ``cleanup_timeout``; runs to the end even
        when cancelled, then re-raises the cancellation). ``cleanup=False`` only closes the
        transport: the registration stays at the PBX, like a phone that lost power."""
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close(cleanup))
        cancelled = False
        while not self._close_task.done():
            try:
                await asyncio.shield(self._close_task)
            except asyncio.CancelledError:
                cancelled = True  # keep waiting: the cleanup is bounded by its own timeout
        if cancelled:
            raise asyncio.CancelledError()

    async def _close(self, cleanup: bool) -> None:
        if self.endpoint is None:
            return
        try:
            if cleanup:
                async with asyncio.timeout(self.config.cleanup_timeout):
                    await self._cleanup()
        except (TimeoutError, AgentError, OSError) as exc:
            log.warning("%s: cleanup incomplete: %s", self, cleanup_failure(
                exc, self.config.cleanup_timeout, self.sessions.values(),
                self.registration.registered))
        finally:
            if self._leave_timer is not None:
                self._leave_timer.cancel()
                self._leave_timer = None
            await self.registration.close()
            for task in list(self._tasks):
                task.cancel()
            try:
                for session in list(self.sessions.values()):
                    await session.media.close()
                await self.endpoint.close()
            finally:
                self._close_capture()

    async def _cleanup(self) -> None:
        """Hang up every call and unregister at the same time: with many calls up, the
        un-REGISTER must not wait behind them and be cut off by ``cleanup_timeout``."""
        active = [s for s in self.sessions.values() if not s.is_ended]
        unregister = (asyncio.ensure_future(self.registration.unregister())
                      if self.registration.registered else None)
        try:
            if active:
                results = await asyncio.gather(*(s.hangup() for s in active),
                                               return_exceptions=True)
                for session, result in zip(active, results):
                    if isinstance(result, BaseException):
                        log.warning("%s: hanging up %s failed: %r", self, session, result)
            if unregister is not None:
                await unregister
        finally:
            if unregister is not None and not unregister.done():
                unregister.cancel()

    def forget_later(self, session: DialogSession, delay: float) -> None:
        """Call ``session._leave_agent()`` after ``delay`` seconds (the delay is the same
        for every session of this agent, so the queue stays in time order)."""
        self._leaving.append((self.now() + delay, session))
        if self._leave_timer is None:
            self._leave_timer = asyncio.get_running_loop().call_at(self._leaving[0][0],
                                                                   self._sweep_leaving)

    def _sweep_leaving(self) -> None:
        self._leave_timer = None
        now = self.now()
        while self._leaving and self._leaving[0][0] <= now:
            self._leaving.popleft()[1]._leave_agent()
        if self._leaving:
            self._leave_timer = asyncio.get_running_loop().call_at(self._leaving[0][0],
                                                                   self._sweep_leaving)
        elif not self.sessions:  # idle (a full collection must not pause live RTP):
            if self.endpoint is not None:  # give the burst's memory back
                self.endpoint.core.compact()
            release_memory()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; cancelled on close."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: background task failed: %r", self, task.exception())

    # ------------------------------------------------------------------ requests

    def _require_open(self) -> Endpoint:
        if self.endpoint is None:
            raise AgentError("the agent is not open: use `async with Agent(...)` or open()")
        return self.endpoint

    async def send_authenticated(
            self, request: Request, *, on_handle: Callable[[ClientTransaction], None] | None = None,
            on_provisional: Callable[[Response], None] | None = None,
            timeout: float | None = None, addr: tuple[str, int] | None = None
            ) -> tuple[Response, Request]:
        """Send ``request`` (to the server, or ``addr``); answer one 401/407 per realm with
        credentials (22.2).

        Returns the final response and the request as last sent (CSeq and Via included).
        Raises AuthenticationFailed, SipTimeout, TransportFailure.
        """
        endpoint = self._require_open()
        req = request
        for _ in range(4):
            try:
                handle = endpoint.send_request(req, addr or self.server_addr)
            except (TransportError, OSError) as exc:
                raise TransportFailure(str(exc)) from exc
            if on_handle is not None:
                on_handle(handle)
            try:
                resp = await handle.final_response(on_provisional, timeout)
            except TransactionFailed as exc:
                if exc.timer:
                    raise SipTimeout(f"{request.method}: {exc.reason}") from None
                raise TransportFailure(f"{request.method}: {exc.reason}") from None
            except TimeoutError:
                raise SipTimeout(f"{request.method}: no final response in {timeout} s") from None
            finally:
                handle.close()
            if resp.status not in (401, 407) or self.digest is None:
                return resp, handle.request
            try:
                retry = authenticate(handle.request, resp, self.digest, self.ids)
            except ParseError as exc:
                raise AuthenticationFailed(f"{request.method}: cannot answer the challenge: "
                                           f"{exc}", resp) from None
            if retry is None:
                raise AuthenticationFailed(
                    f"{request.method} for {self.config.digest_user} refused with "
                    f"{resp.status} {resp.reason} after credentials were sent: wrong "
                    "username or password", resp)
            if self.config.challenge_delay > 0:  # a slow phone, on purpose (issue 17)
                await asyncio.sleep(self.config.challenge_delay)
            req = retry
        raise AuthenticationFailed(f"{request.method}: challenged too many times", resp)

    def out_of_dialog(self, method: str, uri: str, *, headers: list[tuple[str, str]] = (),
                      body: bytes = b"", content_type: str | None = None,
                      call_id: str | None = None, from_tag: str | None = None,
                      cseq: int = 1, to: str | None = None) -> Request:
        """A new out-of-dialog request (8.1.1) from our AOR to ``uri``."""
        h = [("From", f"{self.from_header};tag={from_tag or self.ids.tag()}"),
             ("To", to or f"<{uri}>"),
             ("Call-ID", call_id or self.ids.call_id()),
             ("CSeq", f"{cseq} {method}"),
             ("User-Agent", self.config.user_agent),
             *headers, *self.config.extra_headers]
        if content_type is not None:
            h.append(("Content-Type", content_type))
        return Request(method, uri, headers=h, body=body)

    async def send_raw(self, data: bytes, addr: tuple[str, int] | None = None) -> None:
        """Put ``data`` on the wire as is (no Via, no transaction): for broken messages."""
        await self._require_open().send_raw(data, addr or self.server_addr)

    # ------------------------------------------------------------------ the API

    async def register(self, expires: int | None = None) -> RegisterResult:
        """REGISTER our Contact; refreshes itself before expiry (see registration.py)."""
        self._require_open()
        return await self.registration.register(expires)

    async def unregister(self) -> RegisterResult:
        """REGISTER with Expires: 0 for our Contact (challenged like any request)."""
        self._require_open()
        return await self.registration.unregister()

    async def call(self, target: str, *, headers: list[tuple[str, str]] = (),
                   media_level: str | None = None,
                   codecs: Sequence[str] | None = None) -> Call:
        """INVITE ``target`` (a number, or a URI) with an SDP offer; returns once sent.
        ``media_level`` ("full", "packets", "none") and ``codecs`` (names from the codec
        registry, in preference order) override ``config.media_level`` and
        ``config.codecs`` for this call."""
        self._require_open()
        media = make_call_media(self, codecs=codecs, level=media_level)
        call = Call(self, self.request_uri(target), media, headers=headers)
        self.sessions[call.call_id] = call
        try:
            await call.start()
        except AgentError as exc:  # nothing was sent (the recording cannot be written...)
            call.abandon(str(exc))
            raise
        return call

    async def next_incoming(self, timeout: float | None = None) -> IncomingCall:
        """The next incoming call (already answered when ``auto_answer`` is set)."""
        try:
            return await asyncio.wait_for(self._incoming.get(), timeout)
        except TimeoutError:
            raise SipTimeout(f"no incoming call within {timeout} s") from None

    async def options(self, uri: str | None = None, timeout: float | None = None) -> Response:
        """OPTIONS ping (11) to ``uri`` (default: the server)."""
        target = self.request_uri(uri) if uri else self.target.uri(user="")
        req = self.out_of_dialog("OPTIONS", target, headers=[("Accept", "application/sdp")])
        resp, _ = await self.send_authenticated(req, timeout=timeout)
        return resp

    # ------------------------------------------------------------------ incoming traffic

    def respond(self, event: RequestReceived, status: int, *, to_tag: str | None = None,
                headers: list[tuple[str, str]] = (), body: bytes = b"",
                content_type: str | None = None) -> Response:
        """Answer a received request (8.2.6)."""
        h = list(headers)
        if content_type is not None:
            h.append(("Content-Type", content_type))
        resp = build_response(event.request, status, to_tag=to_tag or self.ids.tag(),
                              headers=[*h, ("User-Agent", self.config.user_agent)], body=body)
        self._require_open().send_response(resp, event.key)
        return resp

    def _on_request(self, event: RequestReceived) -> None:
        try:
            self._route_request(event)
        except LocalProtocolError as exc:  # the parser let a lone CR into a header: a
            # response must echo it and cannot; the request is dropped, said in one line
            log.info("%s: cannot answer a request from %s: %s", self, event.addr,
                     str(exc)[:200])

    def _route_request(self, event: RequestReceived) -> None:
        req = event.request
        method = req.method
        if req.version.upper() != "SIP/2.0":  # 8.2 / RFC 4475 3.1.2.16
            self.respond(event, 505)
            return
        if method == "CANCEL":
            session = self.sessions.get(req.call_id)
            if event.cancels is not None and event.cancels == getattr(session, "key", None):
                session.on_cancel(event)
            else:
                self.respond(event, 481)
            return
        session = self.sessions.get(req.call_id)
        if req.to.tag:
            if session is None:
                self.respond(event, 481)
            else:
                session.handle_request(event)
            return
        if method == "INVITE":
            self._new_incoming(event)
        elif method in ("OPTIONS", "NOTIFY", "MESSAGE"):
            self.respond(event, 200, headers=[("Allow", self.ALLOW),
                                              ("Accept", "application/sdp")])
        else:
            self.respond(event, 405, headers=[("Allow", self.ALLOW)])

    def _new_incoming(self, event: RequestReceived) -> None:
        refused = self.admission.refusal(event.request)
        if refused is not None:  # 400: no dialog; 482: its Call-ID is up; 503: no room
            status, why = refused
            log.info("%s: INVITE %s refused with %d: %s", self, event.request.call_id,
                     status, why)
            self.respond(event, status, headers=[RETRY_AFTER] if status == 503 else [])
            return
        call = IncomingCall(self, event, make_call_media(self))
        self.sessions[call.call_id] = call
        self.admission.arrived(call)
        self._incoming.put_nowait(call)
        if self.auto_reject is not None:
            self.spawn(call.reject(self.auto_reject))
        elif self.auto_answer is not None:
            self.spawn(call.auto_answer(self.auto_answer))

    def _on_ack(self, event: AckReceived) -> None:
        session = self.sessions.get(event.request.call_id)
        if session is not None and session.owns_ack(event):
            session.on_ack(event)

    def _on_other(self, event: Event) -> None:
        if isinstance(event, TransactionTimeout) and event.timer == "2xx":
            # 13.3.1.4: our 2xx was never ACKed within 64*T1: the call ends with a BYE
            for session in list(self.sessions.values()):
                if isinstance(session, IncomingCall) and session.key == event.key:
                    self.spawn(session.on_no_ack())
                    return
        log.debug("%s: %s", self, event)

    def _on_wire(self, direction: str, data: bytes, local: tuple[str, int],
                 remote: tuple[str, int], message: Request | Response | None) -> None:
        name = self.endpoint.transport_name.lower() if self.endpoint else self.target.transport
        now = self.now()
        if local[0] in WILDCARDS:  # record the address really used, not the wildcard
            local = self._concrete_local(local, remote)
        if self.config.record_trace:
            self.trace.append(TraceEntry(now, direction, name, local, remote, data, message))
        self.capture(direction, local, remote, data, now, name)

    def _concrete_local(self, local: tuple[str, int], remote: tuple[str, int]
                        ) -> tuple[str, int]:
        key = (local, remote[0])
        if key not in self._local_toward:  # one routing lookup per peer, not per message
            self._local_toward[key] = concrete_address(local, remote)
        return self._local_toward[key]

    # ------------------------------------------------------------------ capture

    def capture(self, direction: str, local: tuple[str, int], remote: tuple[str, int],
                data: bytes, when: float, transport: str = "udp") -> None:
        """Write one packet to ``config.capture`` (``when``: loop time; out: local->remote,
        in: remote->local). Nothing without a capture; a write error stops the capture."""
        if self._pcap is None:
            return
        src, dst = (local, remote) if direction == "out" else (remote, local)
        try:
            self._pcap.write(when + self._wall_offset, transport, src, dst, data)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            self.capture_error = f"capture {self.config.capture} stopped early: {why}"
            log.warning("%s: %s", self, self.capture_error)
            self._close_capture()

    def _close_capture(self) -> None:
        self._pcap = None
        if self._pcap_file is not None:
            file, self._pcap_file = self._pcap_file, None
            try:
                file.close()
            except OSError as exc:
                log.warning("%s: closing the capture: %s", self, exc)
