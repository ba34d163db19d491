"""The asyncio adapter of the lean UAC (:mod:`sipclient.load.lean`): one UDP socket, one timer.

``sipclient load call`` runs here when the transport is UDP and ``--media none`` (``--engine
auto``; ``--engine lean`` insists, ``--engine core`` runs the general
:class:`~sipclient.load.calls.CallDriver`). The socket is non-blocking and watched with the
loop's ``add_reader``: when it is readable, datagrams are read in a batch
(``recvfrom`` until EAGAIN, at most :data:`BATCH`, as the engine's UDP fast path does), each
fed to the core with the time it was read; then the core's :meth:`~LeanUac.tick` runs once
for the batch, what it queued is sent, and the one timer is moved to the core's next
deadline. ``stopping`` (Ctrl-C, SIGTERM, the parent process) calls :meth:`LeanUac.stop`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections import deque
from typing import Any

from sipclient.io.target import parse_target
from sipclient.io.transport import concrete_address
from sipclient.load.calls import udp_server
from sipclient.load.lean import LeanUac
from sipclient.load.media import static_offer
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats
from sipclient.proto.digest import DigestClient
from sipclient.proto.ids import IdGenerator

__all__ = ["LeanCallDriver", "LeanRegisterDriver", "lean_supported", "BATCH"]

log = logging.getLogger(__name__)

#: datagrams read per wake-up before the core's timers and new calls get their turn
BATCH = 256
SOCKET_BUFFER = 4 * 1024 * 1024


def lean_supported(spec: LoadSpec) -> str | None:
    """None when the lean engine can run ``spec``, else why not."""
    try:
        transport = parse_target(spec.target).transport
    except ValueError:
        transport = "udp"  # the driver's open() says what is wrong with it
    if transport != "udp":
        return f"the lean engine runs over UDP (asked: {transport.upper()})"
    if spec.kind == "register":
        return None
    if spec.kind != "call":
        return "the lean engine runs load call and load register only"
    if spec.media not in ("none", "packets"):
        return f"the lean engine runs --media none and packets (asked: {spec.media})"
    return None


class LeanCallDriver:
    """``load call`` on the lean core: :meth:`open`, :meth:`run_all`, :meth:`close`."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.core: Any = None  # LeanUac or LeanRegistrar
        self.sock: socket.socket | None = None
        self.server: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        self.domain = ""
        self.rtp: socket.socket | None = None  # --media packets: every stream's socket
        #: (PAIRED) a twin of ``sock`` on the same port, connected to the server
        self.conn: socket.socket | None = None

    #: with a twin socket connected to the server (see LeanRegisterDriver)
    PAIRED = False

    @property
    def retransmissions(self) -> int:
        return self.core.retransmissions if self.core is not None else 0

    async def open(self) -> None:
        self.server = await udp_server(self.spec)
        target = parse_target(self.spec.target)
        v6 = ":" in self.server[0]
        local_ip = self.spec.local_addresses[0] if self.spec.local_addresses else (
            "::" if v6 else "0.0.0.0")
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        paired = self.PAIRED and _REUSEPORT is not None
        try:
            if paired:
                sock.setsockopt(socket.SOL_SOCKET, _REUSEPORT, 1)
            sock.bind((local_ip, 0))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot bind {local_ip}: {exc.strerror}") from None
        _tune(sock)
        self.sock = sock
        self.local = concrete_address(sock.getsockname()[:2], self.server)
        if paired:
            self.conn = _connected_twin(sock, self.server)
        if self.spec.media == "packets" and self.spec.kind == "call":
            self.rtp = _rtp_socket(self.local[0])
        self.domain = target.host if not target.host.replace(".", "").isdigit() \
            else self.server[0]

    async def close(self) -> None:
        for sock in (self.sock, self.rtp, self.conn):
            if sock is not None:
                sock.close()
        self.sock = self.rtp = self.conn = None

    def make_core(self, stats: LoadStats) -> Any:
        """The sans-I/O core this driver runs (here: the calls' :class:`LeanUac`)."""
        spec = self.spec
        rng = random.Random()
        digest = DigestClient(spec.user or "sipclient", spec.password) \
            if spec.password is not None else None
        media = None
        port = 9
        if self.rtp is not None:
            from sipclient.load.leanmedia import LeanMedia
            from sipclient.load.media import tone_payload

            media = LeanMedia(tone_payload(), rng=rng)
            port = self.rtp.getsockname()[1]
        return LeanUac(
            spec, local=self.local, server=self.server, domain=self.domain, stats=stats,
            sdp=static_offer(self.local[0], port),
            token=format(rng.getrandbits(48), "012x"),
            wall_offset=time.time() - time.perf_counter(), digest=digest,
            ids=IdGenerator(rng), media=media)

    async def run_all(self, stats: LoadStats, stopping: asyncio.Event) -> None:
        """Every instance of this process, until the core is finished."""
        assert self.sock is not None
        core = self.core = self.make_core(stats)
        loop = asyncio.get_running_loop()
        sock = self.sock
        fd = sock.fileno()
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        server = self.server
        clock = time.perf_counter
        receive = core.receive
        out = core.out
        out_to = core.out_to
        pending: deque[tuple[bytes, Any]] = deque()
        finished = loop.create_future()
        timer: list[Any] = [None, None]  # handle, when

        conn = self.conn
        send_server = conn.send if conn is not None else None

        def send(data: bytes, addr: Any) -> None:
            if pending:
                pending.append((data, addr))
                return
            try:
                if addr is server and send_server is not None:
                    send_server(data)
                else:
                    sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                pending.append((data, addr))
                loop.add_writer(fd, writable)
            except OSError:  # unreachable (ICMP): that call times out
                pass

        def flush() -> None:
            for data in out:
                send(data, server)
            out.clear()
            if out_to:
                for data, addr in out_to:
                    send(data, addr)
                out_to.clear()

        def writable() -> None:
            while pending:
                data, addr = pending[0]
                try:
                    sendto(data, addr)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    pass
                pending.popleft()
            loop.remove_writer(fd)

        def step() -> None:
            now = clock()
            nxt = core.tick(now)
            if out or out_to:
                flush()
            wake_media()  # a stream may have started or stopped
            if core.finished:
                if not finished.done():
                    finished.set_result(None)
                return
            if nxt != timer[1]:
                if timer[0] is not None:
                    timer[0].cancel()
                timer[0] = loop.call_later(max(0.0, nxt - now), fired) \
                    if nxt is not None else None
                timer[1] = nxt

        def fired() -> None:
            timer[0] = timer[1] = None
            step()

        def handle(data: bytes, addr: Any) -> None:
            try:
                receive(data, addr, clock())
            except Exception:  # noqa: BLE001 - one datagram, not the run: calls time out
                log.debug("lean engine: datagram from %s not handled", addr, exc_info=True)
                core.garbage += 1
            if out:  # what it answers leaves now, not after the batch: the peer
                flush()  # works on it while we read the rest

        def readable() -> None:
            for _ in range(BATCH):
                try:
                    data, addr = recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # ICMP port unreachable from an earlier send
                    continue
                handle(data, addr)
            step()

        def readable_server() -> None:  # the twin: only the server's datagrams
            assert conn is not None
            recv = conn.recv
            for _ in range(BATCH):
                try:
                    data = recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # the server's port unreachable (ICMP)
                    continue
                handle(data, server)
            step()

        def stop() -> None:
            core.stop(clock())
            step()

        loop.add_reader(fd, readable)
        if conn is not None:
            loop.add_reader(conn.fileno(), readable_server)
        media = getattr(core, "media", None)
        if media is not None:
            assert self.rtp is not None
            media_timer = _MediaPump(loop, media, self.rtp, clock)
            wake_media = media_timer.arm
        else:
            media_timer = None

            def wake_media() -> None:
                return None
        waiter = asyncio.ensure_future(stopping.wait())
        waiter.add_done_callback(
            lambda f: stop() if not (f.cancelled() or finished.done()) else None)
        try:
            step()
            await finished
        finally:
            waiter.cancel()
            loop.remove_reader(fd)
            if conn is not None:
                loop.remove_reader(conn.fileno())
            if media_timer is not None:
                media_timer.close()
            if pending:
                loop.remove_writer(fd)
            if timer[0] is not None:
                timer[0].cancel()
            if core.strays or core.garbage:
                log.debug("lean engine: %d responses for unknown calls, %d datagrams not "
                          "handled", core.strays, core.garbage)


class LeanRegisterDriver(LeanCallDriver):
    """``load register`` on the lean core (:class:`~sipclient.load.leanreg.LeanRegistrar`):
    the same socket and loop; each user's password from ``--lab-accounts`` or
    ``--password``. The core is built when the socket is open, before the other processes
    are waited for: its users' REGISTERs are ready when the run starts.

    The registrar is talked to through a twin of the socket, bound to the same port
    (``SO_REUSEPORT``) and connected to it: the kernel then delivers the registrar's
    datagrams to the twin and skips the route and address work of an unconnected socket
    on every send and receive (about a fifth of the CPU per registration here); anything
    from another address still arrives on the first socket and is handled as before."""

    PAIRED = True
    _prepared: Any = None

    async def open(self) -> None:
        from sipclient.load.leanreg import LeanRegistrar
        from sipclient.load.register import passwords_for

        await super().open()
        spec = self.spec
        self._prepared = LeanRegistrar(
            spec, local=self.local, server=self.server,
            domain=parse_target(spec.target).host, stats=LoadStats(spec.start_epoch),
            passwords=passwords_for(spec), token=format(random.getrandbits(48), "012x"),
            wall_offset=time.time() - time.perf_counter())

    def make_core(self, stats: LoadStats) -> Any:
        core, self._prepared = self._prepared, None
        if core is None:
            raise RuntimeError("LeanRegisterDriver.make_core before open()")
        core.stats = stats
        return core


#: Linux's SO_REUSEPORT (None where the platform has none: no twin socket)
_REUSEPORT = getattr(socket, "SO_REUSEPORT", None)


def _tune(sock: socket.socket) -> None:
    sock.setblocking(False)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)


def _connected_twin(sock: socket.socket, server: tuple[str, int]) -> socket.socket | None:
    """A socket on ``sock``'s address and port connected to ``server`` (None: the
    platform refuses; ``sock`` alone then carries everything)."""
    twin = socket.socket(sock.family, socket.SOCK_DGRAM)
    try:
        twin.setsockopt(socket.SOL_SOCKET, _REUSEPORT, 1)  # type: ignore[arg-type]
        twin.bind(sock.getsockname())
        twin.connect(server)
    except OSError:
        twin.close()
        return None
    _tune(twin)
    return twin


def _rtp_socket(ip: str) -> socket.socket:
    """A non-blocking UDP socket on an even port of the load calls' RTP range."""
    from sipclient.load.media import RTP_PORTS

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    rng = random.Random()
    for _ in range(200):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((ip, rng.randrange(RTP_PORTS[0], RTP_PORTS[1], 2)))
        except OSError:
            sock.close()
            continue
        _tune(sock)
        return sock
    raise OSError(f"no free RTP port in {RTP_PORTS[0]}-{RTP_PORTS[1]} on {ip}")


class _MediaPump:
    """The asyncio side of :class:`~sipclient.load.leanmedia.LeanMedia`: one timer aimed
    :data:`EARLY` before the next busy slot (timers fire up to 1 ms late); at each, what
    arrived since the last one is read first (no wake-up per received packet: with 500
    echoed streams that would be 25,000 a second), each packet with the kernel's arrival
    time (``SO_TIMESTAMPNS``, so the jitter is not the timer's), then the due packets are
    sent from the one RTP socket."""

    EARLY = 0.0005

    def __init__(self, loop: asyncio.AbstractEventLoop, media: Any, sock: socket.socket,
                 clock: Any) -> None:
        self.loop = loop
        self.media = media
        self.sock = sock
        self.clock = clock
        self.dropped = 0  # packets the socket refused (its buffer full): never sent
        self._handle: Any = None
        self._when: float | None = None
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            self._stamped = True
        except OSError:  # not Linux: the time of reading
            self._stamped = False
        #: kernel (real-time) timestamps to the monotonic clock of ``now``
        self._offset = time.time() - clock()

    def arm(self) -> None:
        nxt = self.media.next_time()
        if nxt == self._when:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._when = nxt
        self._handle = None if nxt is None else self.loop.call_later(
            max(0.0, nxt - self.EARLY - self.clock()), self._fire)

    def _fire(self) -> None:
        self._handle = self._when = None
        media = self.media
        self.drain()
        media.tick(self.clock(), self.EARLY)
        sendto = self.sock.sendto
        for packet, addr in media.out:
            try:
                sendto(packet, addr)
            except OSError:  # full (BlockingIOError) or unreachable: that packet is lost
                self.dropped += 1
        media.out.clear()
        self.arm()

    def drain(self) -> None:
        """Read every datagram waiting on the RTP socket."""
        recvmsg = self.sock.recvmsg
        receive = self.media.receive
        offset = self._offset
        now = self.clock()
        unpack = _TIMESPEC.unpack
        while True:
            try:
                data, anc, _flags, addr = recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            when = now
            for level, kind, value in anc:
                if kind == _SO_TIMESTAMPNS and level == socket.SOL_SOCKET \
                        and len(value) >= _TIMESPEC.size:
                    sec, nsec = unpack(value[:_TIMESPEC.size])
                    when = sec + nsec * 1e-9 - offset
            receive(data, addr, when)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


#: Linux's SO_TIMESTAMPNS (Python does not name it); the control message carries a timespec
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
