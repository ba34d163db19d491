"""Locust users that speak SIP: ``SipUser`` reports every call, registration or scenario run
to Locust's statistics, so one Locust master spreads SIP load over many machines.

    # locustfile.py
    from locust import constant
    from sipclient.locust import SipUser

    class Caller(SipUser):
        host = "udp:10.0.0.5:5060"     # or --host on the command line
        sip_kind = "call"              # "call" | "register" | "scenario"
        sip_number = "600"
        sip_hold = 2.0
        wait_time = constant(1)

Each task runs one load instance (:mod:`sipclient.load`) and fires one Locust request event
per SIP transaction: request type = the method (``INVITE``, ``BYE``, ``REGISTER``; a scenario
is ``SCENARIO``), name = the target (or the scenario file), response time = the setup time
(INVITE to its final response; for BYE and REGISTER their round trip, challenge included),
and a failure carrying the status (``INVITE answered 486``) or the timeout.

Gevent and asyncio: Locust runs users as gevent greenlets; the SIP engine is asyncio. Each
Locust process runs ONE asyncio event loop in its own OS thread (:class:`SipEngine`), shared
by all its SipUsers (one UDP socket per process, like ``sipclient load``). A task hands its
coroutine to that loop with ``run_coroutine_threadsafe`` and waits on a gevent ``async_``
watcher that the loop's thread fires when the coroutine is done: the greenlet yields to the
gevent hub meanwhile, so other users keep running and Locust's heartbeats keep flowing.
Events are fired back in the greenlet, never from the asyncio thread. When Locust quits,
the engine closes its drivers (registrations removed) and its thread ends.

Importing ``sipclient`` never imports gevent or Locust; only this module does (the
``locust`` extra, or ``dev``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from concurrent.futures import Future
from typing import Any, ClassVar

import gevent
from locust import User, events, task

from sipclient.load.runner import driver_for
from sipclient.load.spec import LoadSpec, parse_number_range
from sipclient.load.stats import LoadStats

__all__ = ["SipUser", "SipEngine"]


class SipEngine:
    """One asyncio loop thread per process, and one open driver per load spec."""

    _instance: ClassVar["SipEngine | None"] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="sipclient-asyncio", daemon=True)
        self.thread.start()
        self.drivers: dict[str, Any] = {}
        self.stats = LoadStats(time.time())
        self.ending = asyncio.Event()
        #: the transactions of each instance in flight, by instance number
        self.reports: dict[int, list[tuple[str, float, int | None, str | None]]] = {}

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @classmethod
    def get(cls) -> "SipEngine":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
                events.quitting.add_listener(lambda **_kw: cls.shutdown())
            return cls._instance

    @classmethod
    def shutdown(cls, timeout: float = 10.0) -> None:
        """Close every driver (unregistering what was registered), stop the loop."""
        with cls._lock:
            engine, cls._instance = cls._instance, None
        if engine is None:
            return
        fut = asyncio.run_coroutine_threadsafe(engine._close_all(), engine.loop)
        try:
            fut.result(timeout)
        except Exception:  # noqa: BLE001 - quitting: best effort
            pass
        engine.loop.call_soon_threadsafe(engine.loop.stop)
        engine.thread.join(timeout)

    async def _close_all(self) -> None:
        self.ending.set()
        for driver in list(self.drivers.values()):
            try:
                await asyncio.wait_for(driver.close(), 8)
            except Exception:  # noqa: BLE001
                pass
        self.drivers.clear()

    def submit(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def driver(self, spec: LoadSpec) -> Any:
        """The open driver for ``spec`` (opened once, shared by every user of the process)."""
        key = repr(sorted(spec.to_json().items()))
        if key not in self.drivers:
            # one instance per Locust task: the core driver (the lean one runs whole loads)
            driver = driver_for(dataclasses.replace(spec, engine="core"))
            driver.on_transaction = self._collect
            await driver.open()
            self.drivers.setdefault(key, driver)
        return self.drivers[key]

    def _collect(self, i: int, method: str, ms: float, status: int | None,
                 failure: str | None) -> None:
        """The drivers' hook (asyncio thread): kept for the greenlet of instance ``i``."""
        bucket = self.reports.get(i)
        if bucket is not None:
            bucket.append((method, ms, status, failure))


def wait_future(fut: Future[Any]) -> Any:
    """Wait for a concurrent future without blocking gevent: the greenlet sleeps on an
    ``async_`` watcher that the future's thread sends when it is done (libev's thread-safe
    wake-up), then takes the result."""
    hub = gevent.get_hub()
    watcher = hub.loop.async_()
    waiter = gevent.hub.Waiter()
    watcher.start(waiter.switch, None)
    try:
        fut.add_done_callback(lambda _f: watcher.send())
        waiter.get()
    finally:
        watcher.close()
    return fut.result()


class SipUser(User):
    """A Locust user whose task is one SIP load instance (see the module docstring).

    Class attributes (override them in a subclass): ``sip_kind`` ("call", "register",
    "scenario"), ``sip_number``, ``sip_hold`` (seconds), ``sip_users`` (a range such as
    "1001-1020" for registrations and scenarios), ``sip_user``/``sip_password``,
    ``sip_lab_accounts`` (passwords of the built-in lab), ``sip_scenario`` (a .sip.yaml),
    ``sip_timeout``, ``sip_local_address``. The target is ``host`` (``--host``).
    """

    abstract = True
    sip_kind: str = "call"
    sip_number: str = "600"
    sip_hold: float = 0.0
    sip_users: str | None = None
    sip_user: str | None = None
    sip_password: str | None = None
    sip_lab_accounts: bool = False
    sip_scenario: str | None = None
    sip_timeout: float = 32.0
    sip_local_address: str | None = None

    _counter: ClassVar[int] = 0

    def spec(self) -> LoadSpec:
        kind = {"scenario": "run"}.get(self.sip_kind, self.sip_kind)
        if kind not in ("call", "register", "run"):
            raise ValueError(f"sip_kind {self.sip_kind!r}: expected call, register or "
                             "scenario")
        users = parse_number_range(self.sip_users, "sip_users") if self.sip_users else ()
        return LoadSpec(kind=kind, target=self.host or "", number=self.sip_number,
                        scenario=self.sip_scenario, hold=self.sip_hold, user=self.sip_user,
                        password=self.sip_password, users=users, timeout=self.sip_timeout,
                        local_addresses=(self.sip_local_address,)
                        if self.sip_local_address else (),
                        variables={"lab_accounts": "1"} if self.sip_lab_accounts else {})

    def on_start(self) -> None:
        self._engine = SipEngine.get()
        self._spec = self.spec()
        self._name = self.sip_scenario if self._spec.kind == "run" else (self.host or "")

    @task
    def sip_instance(self) -> None:
        """One call / registration / scenario; its transactions become request events."""
        engine = self._engine
        SipUser._counter += 1
        index = SipUser._counter
        reports = engine.reports[index] = []

        async def one() -> Any:
            driver = await engine.driver(self._spec)
            engine.stats.started(time.time())
            outcome = await driver.instance(index, engine.stats, engine.ending)
            engine.stats.ended(time.time(), *(outcome or (None,)))
            return outcome

        try:
            wait_future(engine.submit(one()))
        except Exception as exc:  # noqa: BLE001 - a broken target is a failure, not a crash
            reports.append(("ERROR", 0.0, None, f"{type(exc).__name__}: {exc}"))
        finally:
            engine.reports.pop(index, None)
        for method, ms, status, failure in reports:
            self.environment.events.request.fire(
                request_type=method, name=self._name, response_time=ms, response_length=0,
                exception=SipFailureReport(failure) if failure else None,
                context={"status": status})


class SipFailureReport(Exception):
    """What Locust lists as the failure: the status (``INVITE answered 486``) or timeout."""

