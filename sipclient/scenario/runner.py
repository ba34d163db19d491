"""Running many scenarios: the run plan, in this process or in worker processes, Ctrl-C.

    files = collect_files(["scenarios/"])            # sipclient.scenario.selection
    scenarios, errors = load_all(files)
    chosen = select(scenarios, "echo and not tls")
    outcome = run_plan(RunPlan(chosen, TargetSpec(), Path("reports/run-x")), listener)

Which files and ``-k``: :mod:`sipclient.scenario.selection`. The target and its lab:
:mod:`sipclient.scenario.labs`. The ``-n`` worker processes: :mod:`sipclient.scenario.workers`.

A scenario's result is a plain dict (``ScenarioResult.to_dict()``) from here on: the same
shape whether it ran in this process, in a worker process, or was read back from the
``result.json`` the engine wrote when it was interrupted.

Targets: the built-in lab by default (used when it is already up, else started for the run
and stopped afterwards), or ``--target``/``--profile``. With ``workers > 1`` every worker
process runs its own lab, because two scenarios registering one extension on one Asterisk
disturb each other; an external target is shared by the workers, so their scenarios must use
different accounts.

WebRTC scenarios (an agent with ``webrtc: true``) cannot run on a lab on 127.0.0.1 (ICE never
uses loopback): on the built-in lab they get a lab in test network namespaces instead
(:mod:`sipclient.scenario.netlab`: made on the first one, per run or per worker, removed at
the end, also after Ctrl-C) and run in the agents' namespace on an event loop of their own.
The ordinary lab is started only when some other scenario needs it. Without root, such a
scenario is an error saying why, in one line. An external target runs them as it is.

Progress inside a scenario: the engine's ``on_step`` callback becomes the listener's optional
``step(index, event, worker)`` (``event``: :func:`step_event`, a small dict), called as each
step ends - from worker processes too (a ``step`` message on their queue). A listener without
a ``step`` method simply gets none.

``RunPlan.capture_interface``: each scenario also gets a real capture of that interface
(dumpcap, :class:`sipclient.pcap.live.InterfaceCapture`), ``capture.iface.pcapng`` beside its
``capture.pcap``: started before its agents open, stopped after its cleanup - also when it
fails or is interrupted. The CLI checks beforehand that dumpcap can capture there.

Ctrl-C / SIGTERM: the running scenarios are cancelled (each engine hangs up, unregisters and
writes its ``result.json`` and ``ladder.txt``), waited for, and reported as ``interrupted``;
scenarios that had not started are ``skipped``. Workers get the signal forwarded and do the
same before they exit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from sipclient.io.loop import on_signals
from sipclient.io.loop import run as run_loop
from sipclient.io.atomic import OutputError
from .labs import LabHandle, TargetSpec, make_netlab
from .model import Scenario
from .selection import slug

__all__ = ["IFACE_CAPTURE", "RunListener", "RunOutcome", "RunPlan", "annotate", "read_result",
           "run_one", "run_placed", "run_plan", "step_event", "stub_result",
           # what the -n worker processes (workers.py) use: signals, lab need, results
           "SIGNAL_NAMES", "Interrupted", "complete_results", "interrupted_result",
           "needs_ordinary_lab", "raise_interrupt", "restore_signals"]

OnStep = Callable[[Any], Any]

SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

#: the interface capture's name in a scenario's report folder (``--capture-interface``)
IFACE_CAPTURE = "capture.iface.pcapng"


# ----------------------------------------------------------------------------- results

def stub_result(scenario: Scenario, status: str, message: str,
                report_dir: Path | None = None, debug: str | None = None) -> dict[str, Any]:
    """A result dict for a scenario the engine gave none for (not started; crashed)."""
    return {"name": scenario.name, "path": str(scenario.path), "status": status,
            "started": time.time(), "duration": 0.0, "tags": list(scenario.tags),
            "error": message, "failing_step": None, "steps": [], "agents": {}, "flows": {},
            "media": {}, "ladder": "", "capture": None,
            "report_dir": str(report_dir) if report_dir else None, "debug": debug}


def read_result(report_dir: Path) -> dict[str, Any] | None:
    """The ``result.json`` the engine wrote (on cancellation), or None."""
    try:
        data = json.loads((report_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_step(steps: Iterable[Any], path: str) -> Any:
    for step in steps:
        if step.path == path:
            return step
        inner = [*step.children, *(s for b in step.branches.values() for s in b)]
        found = find_step(inner, path)
        if found is not None:
            return found
    return None


def annotate(result: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """Give the failing step its YAML lines (``source``) when the engine did not."""
    from .reports import failing_step

    bad = failing_step(result)
    if bad is None or bad.get("source"):
        return result
    step = find_step(scenario.steps, str(bad.get("path", "")).split("#")[0])
    if step is None:
        return result
    for s in result.get("steps") or ():
        if isinstance(s, dict) and s.get("path") == bad.get("path"):
            s["source"] = scenario.lines_of(step)
    return result


# ----------------------------------------------------------------------------- running

class RunListener(Protocol):
    """What a run reports. A listener may also have ``step(index, event, worker)``: called
    as each step of scenario ``index`` ends (``event``: :func:`step_event`)."""

    def note(self, text: str) -> None: ...
    def started(self, index: int, scenario: Scenario, worker: int | None) -> None: ...
    def finished(self, index: int, result: dict[str, Any], worker: int | None) -> None: ...


def step_event(res: Any) -> dict[str, Any]:
    """What the listeners get of a step that ended (a ``StepResult``): plain, picklable."""
    return {"path": str(res.path), "kind": str(res.kind), "title": str(res.title),
            "status": str(res.status), "duration": float(res.duration or 0.0),
            "message": str(res.message or "")}


def step_reporter(listener: Any, index: int, worker: int | None = None) -> OnStep | None:
    """The engine's ``on_step`` for scenario ``index``: the listener's ``step``, if any."""
    step = getattr(listener, "step", None)
    if step is None:
        return None
    return lambda res: step(index, step_event(res), worker)


class _Quiet:
    def note(self, text: str) -> None:
        pass

    def started(self, index: int, scenario: Scenario, worker: int | None) -> None:
        pass

    def finished(self, index: int, result: dict[str, Any], worker: int | None) -> None:
        pass


@dataclass
class RunPlan:
    scenarios: list[Scenario]
    target: TargetSpec
    report_root: Path
    workers: int = 1
    #: report folder names are the scenario paths relative to this folder
    root: Path = field(default_factory=Path.cwd)
    #: also capture this interface (dumpcap, root) per scenario: ``capture.iface.pcapng``
    capture_interface: str | None = None

    def report_dirs(self) -> list[Path]:
        names: dict[str, int] = {}
        out = []
        for s in self.scenarios:
            name = slug(s.path, self.root)
            names[name] = names.get(name, 0) + 1
            out.append(self.report_root / (name if names[name] == 1 else f"{name}-{names[name]}"))
        return out


@dataclass
class RunOutcome:
    results: list[dict[str, Any]]  # in plan order
    started: float
    duration: float
    target: str
    signal: int | None = None
    error: str | None = None  # the run could not start (the lab did not come up)

    @property
    def signal_name(self) -> str | None:
        return SIGNAL_NAMES.get(self.signal) if self.signal else None  # type: ignore[arg-type]


def run_plan(plan: RunPlan, listener: RunListener | None = None) -> RunOutcome:
    """Run every scenario of ``plan`` (in this process, or in ``plan.workers`` worker
    processes) and return their results; SIGINT/SIGTERM interrupt it cleanly."""
    listener = listener or _Quiet()
    plan.report_root.mkdir(parents=True, exist_ok=True)
    if plan.workers > 1 and len(plan.scenarios) > 1:
        from .workers import run_workers  # workers build on this module

        return run_workers(plan, listener)
    return _run_here(plan, listener)


# ----------------------------------------------------------------------------- signals

class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived while blocking (``signum`` says which)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_interrupt(signum: int, _frame: Any) -> None:
    """A signal handler: raise :class:`Interrupted`."""
    raise Interrupted(signum)


def _blocking_signals() -> list[tuple[int, Any]]:
    """While blocking (a lab booting): SIGINT/SIGTERM raise :class:`Interrupted`."""
    saved = []
    for signum in SIGNAL_NAMES:
        try:
            saved.append((signum, signal.signal(signum, raise_interrupt)))
        except ValueError:  # not the main thread
            pass
    return saved


def _deferred_signals(got: list[int]) -> list[tuple[int, Any]]:
    """While cleaning up (a lab stopping): SIGINT/SIGTERM are noted in ``got``, not raised."""
    saved = []
    for signum in SIGNAL_NAMES:
        try:
            saved.append((signum, signal.signal(signum, lambda n, _f: got.append(n))))
        except ValueError:
            pass
    return saved


def restore_signals(saved: list[tuple[int, Any]]) -> None:
    """Put back the handlers ``saved`` by the signal guards."""
    for signum, previous in saved:
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def needs_ordinary_lab(plan: RunPlan, netlab: Any) -> bool:
    """True when some scenario of ``plan`` runs on the ordinary lab (not the netns one)."""
    return plan.target.is_lab and any(netlab is None or not netlab.wanted(s)
                                      for s in plan.scenarios)


def _close_quietly(closers: Sequence[Any], outcome: RunOutcome) -> None:
    """Close labs with SIGINT/SIGTERM noted, not raised: a late Ctrl-C must not cut a stop."""
    late: list[int] = []
    shield = _deferred_signals(late)
    try:
        for closer in closers:
            if closer is not None:
                closer.close()
    finally:
        restore_signals(shield)
    if late and outcome.signal is None:
        outcome.signal = late[0]


def _run_here(plan: RunPlan, listener: RunListener) -> RunOutcome:
    started = time.time()
    results: list[dict[str, Any] | None] = [None] * len(plan.scenarios)
    saved = _blocking_signals()
    handle = netlab = None
    outcome = RunOutcome([], started, 0.0, plan.target.describe())
    try:
        try:
            netlab = make_netlab(plan.target, 0, listener.note)
            target = None
            if needs_ordinary_lab(plan, netlab):
                handle = LabHandle.open(plan.target.environ, 0, listener.note)
            if handle is not None or not plan.target.is_lab:
                target = plan.target.build(handle.lab if handle else None)
                outcome.target = plan.target.describe(handle.lab if handle else None)
            outcome.signal = run_loop(_sequence(plan, target, listener, results, netlab,
                                            handle.lab.gone if handle else None))
        finally:
            if netlab is not None and netlab.description:
                outcome.target = (f"{outcome.target}; WebRTC scenarios: {netlab.description}"
                                  if handle is not None else netlab.description)
            _close_quietly([netlab, handle], outcome)
    except Interrupted as exc:
        outcome.signal = exc.signum
    except Exception as exc:  # noqa: BLE001 - the lab did not start: one line, no traceback
        from sipclient.lab import LabError

        if not isinstance(exc, (LabError, ValueError, OSError)):
            raise
        outcome.error = str(exc)
    finally:
        restore_signals(saved)
    outcome.results = complete_results(plan, results, outcome)
    outcome.duration = time.time() - started
    return outcome


def complete_results(plan: RunPlan, results: Sequence[dict[str, Any] | None],
                     outcome: RunOutcome) -> list[dict[str, Any]]:
    """Every planned scenario gets a result: those that never started are ``skipped``."""
    why = (f"not run: {outcome.error}" if outcome.error else
           f"not run: the run was interrupted ({outcome.signal_name})" if outcome.signal else
           "not run")
    status = "error" if outcome.error else "skipped"
    return [r if r is not None else stub_result(s, status, why, d)
            for r, s, d in zip(results, plan.scenarios, plan.report_dirs())]


async def _sequence(plan: RunPlan, target: Any, listener: RunListener,
                    results: list[dict[str, Any] | None], netlab: Any = None,
                    lab_gone: Callable[[], str | None] | None = None) -> int | None:
    loop = asyncio.get_running_loop()
    got: list[int] = []
    task = loop.create_task(_one_by_one(plan, target, listener, results, netlab, lab_gone))

    def interrupt(signum: int) -> None:
        if not got:  # a second Ctrl-C must not cut the cleanup short
            got.append(signum)
            listener.note(f"{SIGNAL_NAMES.get(signum, signum)}: stopping the running scenario "
                          "(hang up, unregister, write its reports) ...")
            task.cancel()

    with on_signals(SIGNAL_NAMES, interrupt):
        await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    return got[0] if got else None


async def run_one(scenario: Scenario, target: Any, report_dir: Path, *,
                  on_step: OnStep | None = None,
                  capture_interface: str | None = None) -> dict[str, Any]:
    """One scenario's result dict; re-raises CancelledError after the engine cleaned up
    (its interrupted result is then in ``report_dir/result.json``). ``on_step``: the
    engine's callback. ``capture_interface``: dumpcap on that interface from before the
    agents open until after the cleanup, into ``report_dir/capture.iface.pcapng``."""
    from .engine import run_scenario

    live = None
    if capture_interface:
        from sipclient.pcap.live import InterfaceCapture, LiveCaptureError

        report_dir.mkdir(parents=True, exist_ok=True)
        live = InterfaceCapture(capture_interface, report_dir / IFACE_CAPTURE)
        try:
            # blocking on purpose (well under a second): a signal meanwhile is handled by
            # the loop once it returns, and no dumpcap can be left behind by a cancellation
            live.start()
        except LiveCaptureError as exc:
            return stub_result(scenario, "error", str(exc), report_dir)
    try:
        result = await run_scenario(scenario, target, report_dir, on_step=on_step)
    except asyncio.CancelledError:
        raise
    except OutputError as exc:  # a full disk: the path and why, no "internal error"
        return stub_result(scenario, "error", exc.strerror, report_dir)
    except Exception as exc:  # noqa: BLE001 - an engine bug: an error result, not a crash
        return stub_result(scenario, "error", f"internal error: {type(exc).__name__}: {exc}",
                           report_dir, traceback.format_exc())
    finally:
        if live is not None:
            live.stop()  # after the engine's cleanup (hang-ups, unregistrations)
    return annotate(result.to_dict(), scenario)


async def run_placed(scenario: Scenario, target: Any, report_dir: Path,
                     netlab: Any = None, *, on_step: OnStep | None = None,
                     capture_interface: str | None = None) -> dict[str, Any]:
    """:func:`run_one` where the scenario belongs: a WebRTC scenario on the namespace lab
    (``netlab``, made on first use; its agents' namespace, its own event loop), anything
    else on ``target``. A namespace lab that cannot be had is the scenario's error, one line."""
    if netlab is not None and netlab.wanted(scenario):
        from .netlab import NetLabUnavailable

        try:
            hep = getattr(target, "hep", None)  # --hep / a profile's: the namespace lab's too
            return await netlab.run(lambda lab_target: run_one(
                scenario, lab_target if hep is None else dataclasses.replace(lab_target, hep=hep),
                report_dir, on_step=on_step, capture_interface=capture_interface))
        except NetLabUnavailable as exc:
            return stub_result(scenario, "error", str(exc))  # nothing ran: no report folder
    return await run_one(scenario, target, report_dir, on_step=on_step,
                         capture_interface=capture_interface)


def interrupted_result(scenario: Scenario, report_dir: Path) -> dict[str, Any]:
    """The result of a scenario cut short: what it wrote, marked interrupted, or a stub."""
    data = read_result(report_dir)
    if data is None:
        return stub_result(scenario, "interrupted", "interrupted", report_dir)
    data["status"] = "interrupted" if data.get("status") == "passed" else data.get("status")
    return annotate(data, scenario)


async def _one_by_one(plan: RunPlan, target: Any, listener: RunListener,
                      results: list[dict[str, Any] | None], netlab: Any = None,
                      lab_gone: Callable[[], str | None] | None = None) -> None:
    """The scenarios in order. ``lab_gone`` (the built-in lab's :meth:`Lab.gone`) is asked
    after each one that did not pass: once the lab has stopped (a killed container, a
    crashed Asterisk), the failure says so and the rest are errors without being tried."""
    stopped: str | None = None
    for index, (scenario, report_dir) in enumerate(zip(plan.scenarios, plan.report_dirs())):
        if stopped:
            results[index] = stub_result(scenario, "error", f"not run: the lab stopped: "
                                         f"{stopped}", report_dir)
            listener.finished(index, results[index], None)
            continue
        listener.started(index, scenario, None)
        try:
            results[index] = await run_placed(scenario, target, report_dir, netlab,
                                              on_step=step_reporter(listener, index),
                                              capture_interface=plan.capture_interface)
        except asyncio.CancelledError:
            results[index] = interrupted_result(scenario, report_dir)
            listener.finished(index, results[index], None)
            raise
        result = results[index]
        if lab_gone is not None and result is not None and result.get("status") != "passed":
            stopped = await asyncio.to_thread(lab_gone)
            if stopped:
                result["error"] = "; ".join(x for x in (
                    result.get("error"), f"the lab stopped during this scenario: {stopped}") if x)
                listener.note(f"the lab stopped: {stopped}; the remaining scenarios are not run")
        listener.finished(index, result, None)
