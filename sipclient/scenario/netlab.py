"""The namespace lab: where WebRTC scenarios run when the target is the built-in lab.

ICE never uses 127.0.0.1 (aioice offers nothing on loopback, Asterisk's pjlib skips it), so a
scenario with a ``webrtc: true`` agent cannot run on the ordinary lab. When the built-in lab
is on a loopback address, ``sipclient run`` and the pytest plugin give such scenarios a lab of
their own inside test network namespaces (:class:`sipclient.lab.netns.TestNet`, root needed)::

    sipc<pid>-<tag>-pbx   Asterisk, 10.213.N.2   <-- veth -->   10.213.N.1, the scenario's agents

    netlab = NetLab(environ, worker="w1", say=print)   # nothing made yet
    if netlab.wanted(scenario):                          # a webrtc agent, a loopback lab
        result = await netlab.run(lambda target: run_scenario(scenario, target, folder))
    netlab.close()                                       # lab down, namespaces removed

The namespaces and the lab are made on the first such scenario (one per run, or per worker
process: the names carry the pid, the run directory ``<lab run dir>-ns`` is claimed per
process), and removed by :meth:`NetLab.close`, also after Ctrl-C; a killed run's leftovers are
removed by the next one (``cleanup_stale``). A scenario runs on its own event loop in a thread
that joined the agents' namespace (:class:`NsJob`); cancelling :meth:`NetLab.run` cancels the
scenario there and waits for its cleanup (hang up, unregister, reports).

Without root or ``ip``, :meth:`NetLab.open` raises :class:`NetLabUnavailable` with one line
saying why; the caller reports it as the scenario's error. A lab already on a non-loopback
address (started by hand in a namespace, docs/webrtc.md) or an external target is used as is.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import threading
import time
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from sipclient.lab import netns

__all__ = ["NetLab", "NetLabUnavailable", "NsJob", "lab_is_loopback", "needs_netns",
           "unavailable"]

T = TypeVar("T")

_TRUE = ("true", "yes", "on", "1")
_tags = itertools.count(1)


class NetLabUnavailable(RuntimeError):
    """The namespace lab cannot be made or started here; the message says why, in one line."""


def unavailable() -> str | None:
    """None when test namespaces can be made here (root and ``ip``), else why not."""
    return netns.available()


def needs_netns(scenario: Any) -> bool:
    """Does a scenario have an agent with ``webrtc: true``?"""
    for spec in scenario.agents.values():
        value = spec.fields.get("webrtc")
        if value is True or (isinstance(value, str) and value.strip().lower() in _TRUE):
            return True
    return False


def lab_is_loopback(config: Any) -> bool:
    """Is a lab config one this machine starts on a loopback address (no ICE possible)?"""
    if config.external:
        return False
    try:
        return ipaddress.ip_address(config.probe_host).is_loopback
    except ValueError:
        return config.probe_host == "localhost"


class NsJob:
    """``factory()`` on a new event loop in a thread inside network namespace ``ns``.

    Cancellable from any thread (:meth:`cancel` cancels the coroutine, which then cleans up
    as it would on Ctrl-C); :meth:`wait` and :meth:`result` from a blocking caller,
    ``await job`` from another event loop."""

    def __init__(self, ns: str, factory: Callable[[], Awaitable[T]]) -> None:
        self.ns = ns
        self._factory = factory
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"netns-{ns}", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            netns.enter(self.ns)
            self._value = asyncio.run(self._body())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            self._error = exc
        finally:
            self._done.set()

    async def _body(self) -> Any:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            if self._cancelled:
                raise asyncio.CancelledError
        return await self._factory()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                try:
                    self._loop.call_soon_threadsafe(self._task.cancel)
                except RuntimeError:  # its loop already closed: nothing left to cancel
                    pass

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self) -> Any:
        """The coroutine's value (after :meth:`wait`), or its exception raised here."""
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Any:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Any:
        """Wait for the result; when the waiter is cancelled, cancel the job, wait for its
        cleanup, then re-raise the cancellation."""
        try:
            await asyncio.shield(asyncio.to_thread(self._done.wait))
        except asyncio.CancelledError:
            self.cancel()
            await asyncio.to_thread(self._done.wait)
            raise
        return self.result()


class NetLab:
    """The namespace lab of one run or worker (see the module docstring)."""

    def __init__(self, environ: Mapping[str, str] | None = None, worker: str = "",
                 say: Callable[[str], None] = lambda _text: None,
                 base: Any = None) -> None:
        """``base``: the ordinary lab's config (default: from ``environ``), whose run
        directory names ours (``<run dir>-ns``, ``-<worker>`` added) and whose settings
        (extensions, passwords) we keep; ``worker`` tells workers' labs apart."""
        from sipclient.lab import LabConfig

        self.environ = environ
        self.worker = worker
        self.say = say
        self.base = base if base is not None else LabConfig.from_env(environ)
        self.net: Any = None
        self.lab: Any = None
        self.target: Any = None
        self._claim: Any = None
        self._failed: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        #: where the lab ran, once it was started (kept after close, for the run's report)
        self.description: str | None = None

    def wanted(self, scenario: Any) -> bool:
        """Should ``scenario`` run here rather than on the ordinary lab?"""
        return needs_netns(scenario) and lab_is_loopback(self.base)

    @property
    def is_open(self) -> bool:
        return self.target is not None

    # --------------------------------------------------------------------- making, removing

    def open(self) -> Any:
        """Make the namespaces and start the lab in them, once; returns the target.
        :class:`NetLabUnavailable` (remembered: later calls raise it at once) when it
        cannot be done here."""
        with self._lock:
            if self.target is not None:
                return self.target
            if self._failed:
                raise NetLabUnavailable(self._failed)
            if self._closed:
                raise NetLabUnavailable("the WebRTC namespace lab was already shut down")
            try:
                self._open()
            except BaseException as exc:
                self._teardown()
                if isinstance(exc, NetLabUnavailable):
                    self._failed = str(exc)
                    raise
                if isinstance(exc, Exception):  # a claim, a subprocess: still one line
                    self._failed = (f"the WebRTC namespace lab could not be made: "
                                    f"{type(exc).__name__}: {exc}")
                    raise NetLabUnavailable(self._failed) from None
                raise
            return self.target

    def _open(self) -> None:
        from sipclient.lab import Lab, LabError
        from sipclient.lab.testing import RunDirClaim

        from .target import Target

        why = unavailable()
        if why:
            raise NetLabUnavailable(
                f"WebRTC scenarios on the built-in lab need a lab in a test network namespace "
                f"(ICE cannot use 127.0.0.1), and {why}: run as root, or give --target/"
                f"--profile of a PBX on a routable address")
        self.net = netns.TestNet(tag=f"r{next(_tags)}")
        try:
            self.net.create()
        except netns.NetnsError as exc:
            raise NetLabUnavailable(f"cannot make the test network namespaces for WebRTC "
                                    f"scenarios: {exc}") from None
        run_dir = self.base.run_dir
        name = f"{run_dir.name}-ns" + (f"-{self.worker}" if self.worker else "")
        self._claim = RunDirClaim(run_dir.with_name(name))
        config = self.base.replace(run_dir=self._claim.path, bind=self.net.pbx_ip,
                                   host=self.net.pbx_ip, external=False)
        lab = Lab(config)
        self.say(f"starting the WebRTC lab in namespace {self.net.pbx_ns} "
                 f"({self.net.pbx_ip}, agents at {self.net.ue_ip}) in {config.run_dir} ...")
        began = time.monotonic()
        self.lab = lab
        try:
            self.net.run(lab.up, where="pbx")
        except (LabError, OSError) as exc:
            raise NetLabUnavailable(f"the WebRTC lab did not start in namespace "
                                    f"{self.net.pbx_ns}: {exc}") from None
        self.target = Target.from_lab(lab)
        self.description = (f"lab wss://{config.probe_host}:{config.wss_port}/ws in "
                            f"namespace {self.net.pbx_ns} ({config.run_dir})")
        self.say(f"WebRTC lab up in {time.monotonic() - began:.1f} s")

    def close(self) -> None:
        """Stop the lab and remove the namespaces (waits for a start still under way)."""
        with self._lock:
            self._closed = True
            self._teardown()

    def _teardown(self) -> None:
        try:
            if self.lab is not None:
                try:
                    self.lab.down()
                except Exception:  # noqa: BLE001 - the namespaces' removal kills what is left
                    pass
        finally:
            self.lab = None
            self.target = None
            try:
                if self.net is not None:
                    self.net.destroy()
            finally:
                self.net = None
                if self._claim is not None:
                    self._claim.release()
                    self._claim = None

    # --------------------------------------------------------------------- running inside

    def start(self, factory: Callable[[Any], Awaitable[T]]) -> NsJob:
        """Open (if needed), then ``factory(target)`` in the agents' namespace."""
        target = self.open()
        return NsJob(self.net.ue_ns, lambda: factory(target))

    async def run(self, factory: Callable[[Any], Awaitable[T]]) -> T:
        """``await factory(target)`` in the agents' namespace, from an event loop: the lab
        is opened in a thread; cancelling this cancels the scenario inside and waits for
        its cleanup. :class:`NetLabUnavailable` when the lab cannot be had."""
        opening = asyncio.ensure_future(asyncio.to_thread(self.open))
        try:
            await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.cancel()  # the thread finishes the start; close() waits for it
            raise
        job = NsJob(self.net.ue_ns, lambda: factory(self.target))
        return await job

    def run_blocking(self, factory: Callable[[Any], Awaitable[T]]) -> T:
        """:meth:`run` for a caller without an event loop (pytest): Ctrl-C cancels the
        scenario inside and waits for its cleanup before it is re-raised."""
        job = self.start(factory)
        try:
            job.wait()
        except BaseException:
            job.cancel()
            job.wait(60)
            raise
        return job.result()
