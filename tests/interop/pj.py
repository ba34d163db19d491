"""A small pjsua2 (PJSIP 2.15) user agent for the interoperability tests.

pjsua2 is driven by one Python thread of ours, the *pj thread*: it creates the library
(``libCreate``, so pjsua2's "main thread" is this one), polls ``libHandleEvents`` and runs
every pjsua2 call the test asks for (:meth:`PjUA.run` / :meth:`PjUA.arun` post a function
to it). pjsua2 starts no SIP worker thread (``uaConfig.threadCnt = 0``,
``mainThreadOnly = True``), RTP shares the SIP ioqueue (``medConfig.hasIoqueue = False``,
``threadCnt = 0``) and the audio device is the null one; the only threads pjsua2 still
starts are the null device's ``clock`` and pjmedia's event manager (``ev_thread``, not
configurable from pjsua2), both stopped by ``libDestroy``. The pj thread is a daemon and
:meth:`PjUA.stop` (always called by the fixture, even after a failure) hangs up, destroys
the library and joins it, so nothing of pjsua2 outlives a test.

Callbacks (``onRegState``, ``onIncomingCall``, ``onCallState``) run in the pj thread and
only record what happened: :class:`PjCall` keeps the list of call states pjsua2 reported
(``"CALLING"``, ``"EARLY"``, ``"CONNECTING"``, ``"CONFIRMED"``, ``"DISCONNECTED"``) and the
last status code. Tests running an asyncio loop wait with the ``await ...`` helpers, which
poll, so the loop (our Agent) keeps running meanwhile.

pjsua2's own log (level 5: every SIP message) goes to ``log_file``; :meth:`PjUA.log_tail`
reads it back for failure messages.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pjsua2 as pj

__all__ = ["PjUA", "PjCall"]

T = TypeVar("T")

_STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}


async def until(predicate: Callable[[], Any], timeout: float, what: str = "condition",
                interval: float = 0.01) -> Any:
    """Poll ``predicate`` (without blocking the event loop) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"pjsua2: no {what} within {timeout} s")
        await asyncio.sleep(interval)


class PjCall:
    """What the test sees of one pjsua2 call: the states pjsua2 reported, in order, and
    the last status code. It holds no pjsua2 object (those belong to the pj thread and
    are deleted before ``libDestroy``), so a test frame kept alive by a traceback can
    never touch the library after it is gone."""

    def __init__(self, ua: PjUA) -> None:
        self.ua = ua
        self.states: list[str] = []
        self.last_status: int | None = None
        self.remote_uri: str | None = None
        #: the WAV file this call's audio was recorded to (``ua.record``), else None
        self.recording: str | None = None

    def __repr__(self) -> str:
        return f"<PjCall {self.states} last={self.last_status}>"

    @property
    def confirmed(self) -> bool:
        return "CONFIRMED" in self.states

    @property
    def disconnected(self) -> bool:
        return "DISCONNECTED" in self.states

    async def wait_state(self, state: str, timeout: float = 10.0) -> None:
        await until(lambda: state in self.states, timeout, f"{state} (states {self.states})")

    async def hangup(self) -> None:
        """BYE (or CANCEL / 603 before the answer), sent by the pj thread."""
        def do() -> None:
            call = self.ua._calls.get(id(self))
            if call is not None and not self.disconnected:
                call.hangup(pj.CallOpParam(True))
        await self.ua.arun(do)


class _Call(pj.Call):
    """The pjsua2 call object (pj thread only); reports to its :class:`PjCall`."""

    def __init__(self, ua: PjUA, record: PjCall, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(ua.account, call_id)
        self.record = record
        ua._calls[id(record)] = self

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2's name
        info = self.getInfo()
        self.record.states.append(_STATES.get(info.state, str(info.state)))
        self.record.last_status = info.lastStatusCode
        self.record.remote_uri = info.remoteUri
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._media = []  # the recorder closes its WAV file (header written)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        """With ``ua.play``/``ua.record``: a WAV player into the call, the call into a WAV
        recorder (the null sound device stays unused)."""
        ua = self.record.ua
        if not (ua.play or ua.record) or getattr(self, "_media", None):
            return
        try:
            audio = self.getAudioMedia(-1)
        except pj.Error:
            return
        self._media = []
        if ua.play:
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(ua.play))
            player.startTransmit(audio)
            self._media.append(player)
        if ua.record:
            self.record.recording = str(ua.record) + f"-{len(ua._calls)}.wav"
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(self.record.recording)
            audio.startTransmit(recorder)
            self._media.append(recorder)


class _Account(pj.Account):
    def __init__(self, ua: PjUA) -> None:
        super().__init__()
        self.ua = ua

    def onRegState(self, prm: Any) -> None:  # noqa: N802
        self.ua.reg_codes.append(prm.code)

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        record = PjCall(self.ua)
        call = _Call(self.ua, record, prm.callId)
        self.ua.incoming.append(record)
        status = self.ua.answer_with
        if status is not None:
            op = pj.CallOpParam()
            op.statusCode = 180
            call.answer(op)
            op = pj.CallOpParam()
            op.statusCode = status
            call.answer(op)


class PjUA:
    """One pjsua2 endpoint with one account, on UDP ``address`` (port chosen by the OS).

    ``ua.start()`` then ``ua.register(...)``, ``ua.call(uri)``, ``ua.incoming`` (calls to us,
    answered with ``answer_with``, 180 then 200 by default), ``ua.stop()``.
    """

    def __init__(self, address: str = "127.0.0.5", log_file: str | os.PathLike | None = None
                 ) -> None:
        self.address = address
        self.port: int | None = None
        self.log_file = str(log_file) if log_file is not None else None
        self.ep: pj.Endpoint | None = None
        self.account: _Account | None = None
        self.reg_codes: list[int] = []
        self.incoming: list[PjCall] = []
        self.outgoing: list[PjCall] = []
        self.answer_with: int | None = 200
        #: a WAV file each call plays, and a path prefix each call records to (None: off)
        self.play: str | os.PathLike | None = None
        self.record: str | os.PathLike | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future]] = (
            queue.SimpleQueue())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._calls: dict[int, _Call] = {}  # id(PjCall) -> its pjsua2 call (pj thread)
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ the pj thread

    def start(self, timeout: float = 10.0) -> PjUA:
        """Start the pj thread: create and start the library, bind the UDP transport."""
        self._thread = threading.Thread(target=self._main, name="pjsua2", daemon=True)
        self._thread.start()
        self.port = self._ready.result(timeout)
        return self

    def _main(self) -> None:
        try:
            self._create()
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._ready.set_exception(exc)
            self._destroy()
            return
        try:
            while not self._stop.is_set():
                self.ep.libHandleEvents(5)
                self._run_jobs()
        except BaseException as exc:  # noqa: BLE001 - kept for stop() to re-raise
            self.error = exc
        finally:
            self._run_jobs()
            self._destroy()

    def _run_jobs(self) -> None:
        while True:
            try:
                fn, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - the caller gets it
                    fut.set_exception(exc)

    def _create(self) -> None:
        ep = self.ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "pjsua2-interop"
        cfg.medConfig.threadCnt = 0
        cfg.medConfig.hasIoqueue = False
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.msgLogging = True
        if self.log_file:
            cfg.logConfig.level = 5
            cfg.logConfig.filename = self.log_file
        else:
            cfg.logConfig.level = 0
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = self.address
        tcfg.publicAddress = self.address
        tcfg.port = 0
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        port = ep.transportGetInfo(tid).localName.rsplit(":", 1)[1]
        self._ready.set_result(int(port))

    def _destroy(self) -> None:
        if self.ep is None:
            return
        ep = self.ep
        try:
            ep.hangupAllCalls()
            deadline = time.monotonic() + 3.0
            while (time.monotonic() < deadline
                   and any(not c.record.disconnected for c in self._calls.values())):
                ep.libHandleEvents(10)
        except Exception:  # noqa: BLE001 - best effort before the destroy
            pass
        # pjsua2's Call/Account destructors touch the library: delete them while it lives
        self._calls.clear()
        try:
            if self.account is not None:
                self.account.shutdown()  # un-REGISTER; libDestroy waits for the answer
        except Exception:  # noqa: BLE001
            pass
        self.account = None
        gc.collect()
        try:
            self.ep.libDestroy()
        finally:
            self.ep = None

    def run(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` in the pj thread and return its result (blocking)."""
        return self.submit(fn).result(timeout)

    async def arun(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` in the pj thread; await its result without blocking the loop."""
        return await asyncio.wait_for(asyncio.wrap_future(self.submit(fn)), timeout)

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        if not self.running:
            raise RuntimeError("the pjsua2 thread is not running")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, fut))
        return fut

    @property
    def running(self) -> bool:
        """The pj thread is alive (the library exists)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Hang up, unregister, ``libDestroy`` (in the pj thread), join it. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the pjsua2 thread did not stop")
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------ SIP

    def register(self, user: str, password: str, server: tuple[str, int], domain: str,
                 timeout: float = 10.0) -> int:
        """Create the account and REGISTER it at ``server`` (UDP); returns the status code
        of the registration (200 when it worked). Blocking: call before the event loop
        runs, or through ``asyncio.to_thread``."""
        host, port = server

        def create() -> None:
            acfg = pj.AccountConfig()
            acfg.idUri = f"sip:{user}@{domain}"
            acfg.regConfig.registrarUri = f"sip:{host}:{port}"
            acfg.regConfig.timeoutSec = 300
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
            # loopback: the Contact is already right; no re-REGISTER to "fix" it
            acfg.natConfig.contactRewriteUse = 0
            acfg.natConfig.viaRewriteUse = 0
            acfg.natConfig.sdpNatRewriteUse = 0
            acfg.mediaConfig.transportConfig.boundAddress = self.address
            acfg.mediaConfig.transportConfig.publicAddress = self.address
            acfg.mediaConfig.transportConfig.port = 0
            self.account = _Account(self)
            self.account.create(acfg, True)

        self.run(create)
        deadline = time.monotonic() + timeout
        while not self.reg_codes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"pjsua2: no REGISTER answer within {timeout} s")
            time.sleep(0.01)
        return self.reg_codes[-1]

    async def call(self, uri: str) -> PjCall:
        """INVITE ``uri`` (the Request-URI, sent where it points)."""
        def make() -> PjCall:
            record = PjCall(self)
            self.outgoing.append(record)
            _Call(self, record).makeCall(uri, pj.CallOpParam(True))
            return record
        return await self.arun(make)

    async def next_incoming(self, timeout: float = 10.0) -> PjCall:
        return await until(lambda: self.incoming[0] if self.incoming else None, timeout,
                           "incoming call")

    def log_tail(self, lines: int = 80) -> str:
        """The end of pjsua2's own log (SIP messages included), for failure messages."""
        if not self.log_file or not Path(self.log_file).exists():
            return "(no pjsua2 log)"
        return "\n".join(Path(self.log_file).read_text(errors="replace").splitlines()[-lines:])
