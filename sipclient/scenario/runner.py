"""Running many scenarios: which files, ``-k``, the target and its lab, workers, Ctrl-C.

    files = collect_files(["scenarios/"])            # *.sip.yaml, folders recursively, sorted
    scenarios, errors = load_all(files)              # every file checked before anything runs
    chosen = select(scenarios, "echo and not tls")   # -k like pytest's
    outcome = run_plan(RunPlan(chosen, TargetSpec(), Path("reports/run-x")), listener)

A scenario's result is a plain dict (``ScenarioResult.to_dict()``) from here on: the same
shape whether it ran in this process, in a worker process, or was read back from the
``result.json`` the engine wrote when it was interrupted.

Targets (:class:`TargetSpec`): the built-in lab by default - used when it is already up
(``SIPCLIENT_LAB_RUN_DIR``, else ``run/lab``), started for the run and stopped afterwards when
it is not - or ``--target``/``--profile``. With ``workers > 1`` every worker process
(multiprocessing, spawn) runs its own lab (its own run directory, ports shifted by 10 per
worker), because two scenarios registering one extension on one Asterisk disturb each other;
an external target is shared by the workers, so their scenarios must use different accounts.

WebRTC scenarios (an agent with ``webrtc: true``) cannot run on a lab on 127.0.0.1 (ICE never
uses loopback): on the built-in lab they get a lab in test network namespaces instead
(:mod:`sipclient.scenario.netlab`: made on the first one, per run or per worker, removed at
the end, also after Ctrl-C) and run in the agents' namespace on an event loop of their own.
The ordinary lab is started only when some other scenario needs it. Without root, such a
scenario is an error saying why, in one line. An external target runs them as it is.

Ctrl-C / SIGTERM: the running scenarios are cancelled (each engine hangs up, unregisters and
writes its ``result.json`` and ``ladder.txt``), waited for, and reported as ``interrupted``;
scenarios that had not started are ``skipped``. Workers get the signal forwarded and do the
same before they exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue as queue_mod
import re
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from .model import Scenario, ScenarioError, ScenarioErrors

__all__ = ["SUFFIX", "KeywordError", "LabHandle", "RunListener", "RunOutcome", "RunPlan",
           "TargetSpec", "annotate", "collect_files", "keyword_matcher", "keywords_of",
           "load_all", "run_plan", "select", "slug", "stub_result"]

SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


# ----------------------------------------------------------------------------- loading

def load_all(files: Sequence[Path]) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every file loaded and checked; the scenarios, and every error of every file."""
    from .loader import load_scenario

    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    for path in files:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioErrors as exc:
            errors.extend(exc.errors)
        except ScenarioError as exc:
            errors.append(exc)
        except OSError as exc:
            errors.append(ScenarioError(path, None, f"cannot read it: {exc.strerror or exc}"))
        except Exception as exc:  # noqa: BLE001 - a loader bug: still one line, no traceback
            errors.append(ScenarioError(path, None, f"internal error of the loader: "
                                                    f"{type(exc).__name__}: {exc}"))
    return scenarios, errors


def select(scenarios: Iterable[Scenario], expr: str | None) -> list[Scenario]:
    """The scenarios ``-k expr`` keeps (all without an expression)."""
    if not expr:
        return list(scenarios)
    match = keyword_matcher(expr)
    return [s for s in scenarios if match(keywords_of(s.name, s.path, s.tags))]


# ----------------------------------------------------------------------------- targets, labs

@dataclass(frozen=True)
class TargetSpec:
    """Where the scenarios run: the built-in lab (no target, no profile), or a target
    string and/or a profile (the profile's accounts; ``target`` then replaces its main
    server). Plain data, so a worker process can build the same target."""

    target: str | None = None
    profile: str | None = None
    insecure: bool = False
    #: ``SIPCLIENT_LAB_*`` variables (and the profile's ``password_env``); None: os.environ
    environ: dict[str, str] | None = None

    @property
    def is_lab(self) -> bool:
        return not self.target and not self.profile

    def describe(self, lab: Any = None) -> str:
        if self.is_lab:
            if lab is None:
                return "the built-in lab"
            c = lab.config
            return f"lab udp:{c.probe_host}:{c.sip_port} ({c.run_dir})"
        if self.profile and self.target:
            return f"{self.target} (profile {self.profile})"
        return str(self.profile or self.target)

    def build(self, lab: Any = None) -> Any:
        """The :class:`~sipclient.scenario.target.Target`; ``ProfileError`` when unusable."""
        import dataclasses

        from .target import Target

        if self.is_lab:
            if lab is None:
                raise ValueError("the lab target needs a running lab")
            return Target.from_lab(lab)
        if not self.profile:
            return Target.from_string(str(self.target), insecure=self.insecure)
        profile = Target.from_profile(self.profile, insecure=True if self.insecure else None,
                                      environ=self.environ)
        if not self.target:
            return profile
        bare = Target.from_string(str(self.target), insecure=profile.insecure,
                                  domain=profile.domain)
        return dataclasses.replace(profile, host=bare.host, port=bare.port,
                                   servers={**profile.servers, **bare.servers},
                                   name=f"{self.target} (profile {self.profile})")


class LabHandle:
    """A lab for a run: adopted when already up (left running), else started here and
    stopped by :meth:`close`."""

    def __init__(self, lab: Any, started: bool, claim: Any = None) -> None:
        self.lab, self.started, self._claim = lab, started, claim

    @staticmethod
    def base_config(environ: Mapping[str, str] | None = None) -> Any:
        """The lab config of ``SIPCLIENT_LAB_*`` (that of the lab running from its run
        directory, when there is one): what :meth:`open` starts from."""
        from sipclient.lab import Lab, LabConfig
        from sipclient.lab.runner import STATE_FILE

        base = LabConfig.from_env(environ)
        if (base.run_dir / STATE_FILE).exists():
            base = Lab.from_run_dir(base.run_dir).config
        return base

    @classmethod
    def open(cls, environ: Mapping[str, str] | None = None, worker: int = 0,
             say: Callable[[str], None] = lambda _text: None) -> "LabHandle":
        """Worker 0 (and a run without workers): the lab of ``SIPCLIENT_LAB_RUN_DIR`` (else
        ``run/lab``) when it is up; else one started in that run directory (``-2``, ``-3``...
        when another live run holds it) on its ports, shifted by 1000 when they are taken.
        Worker N: a lab of its own in ``<run dir>-wN``, ports shifted by 10 * N (or further
        when taken). ``LabError`` when it does not come up."""
        from sipclient.lab import Lab
        from sipclient.lab.testing import WORKER_PORT_STEP, RunDirClaim, with_free_ports

        base = cls.base_config(environ)
        if base.external:
            return cls(Lab(base), started=False)
        if not worker:
            running = Lab(base)
            if running.is_running() and running.status().healthy:
                return cls(running, started=False)
        # ours to start (and stop): a run directory no other live process holds, free ports
        name = base.run_dir.name + (f"-w{worker}" if worker else "")
        claim = RunDirClaim(base.run_dir.with_name(name))
        config = base.replace(run_dir=claim.path).with_port_offset(WORKER_PORT_STEP * worker)
        lab = Lab(with_free_ports(config))
        c = lab.config
        say(f"starting the Asterisk lab in {c.run_dir} (SIP {c.probe_host}:{c.sip_port}) ...")
        began = time.monotonic()
        try:
            lab.up()
        except BaseException:
            if claim is not None:
                claim.release()
            raise
        say(f"lab up in {time.monotonic() - began:.1f} s")
        return cls(lab, started=True, claim=claim)

    def close(self) -> None:
        try:
            if self.started:
                self.lab.down()
        finally:
            if self._claim is not None:
                self._claim.release()
                self._claim = None


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
    def note(self, text: str) -> None: ...
    def started(self, index: int, scenario: Scenario, worker: int | None) -> None: ...
    def finished(self, index: int, result: dict[str, Any], worker: int | None) -> None: ...


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
        return _run_workers(plan, listener)
    return _run_here(plan, listener)


class _Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise _Interrupted(signum)


def _blocking_signals() -> list[tuple[int, Any]]:
    """While blocking (a lab booting): SIGINT/SIGTERM raise :class:`_Interrupted`."""
    saved = []
    for signum in SIGNAL_NAMES:
        try:
            saved.append((signum, signal.signal(signum, _raise_interrupt)))
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


def _restore(saved: list[tuple[int, Any]]) -> None:
    for signum, previous in saved:
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def make_netlab(spec: TargetSpec, worker: int = 0,
                say: Callable[[str], None] = lambda _text: None) -> Any:
    """The :class:`~sipclient.scenario.netlab.NetLab` WebRTC scenarios get when the target is
    the built-in lab on a loopback address (nothing is made until one needs it); else None:
    an external target, or a lab already on a routable address, runs them as it is."""
    from .netlab import NetLab, lab_is_loopback

    if not spec.is_lab:
        return None
    base = LabHandle.base_config(spec.environ)
    if not lab_is_loopback(base):
        return None
    return NetLab(spec.environ, worker=f"w{worker}" if worker else "", say=say, base=base)


def _needs_ordinary_lab(plan: RunPlan, netlab: Any) -> bool:
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
        _restore(shield)
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
            if _needs_ordinary_lab(plan, netlab):
                handle = LabHandle.open(plan.target.environ, 0, listener.note)
            if handle is not None or not plan.target.is_lab:
                target = plan.target.build(handle.lab if handle else None)
                outcome.target = plan.target.describe(handle.lab if handle else None)
            outcome.signal = asyncio.run(_sequence(plan, target, listener, results, netlab))
        finally:
            if netlab is not None and netlab.description:
                outcome.target = (f"{outcome.target}; WebRTC scenarios: {netlab.description}"
                                  if handle is not None else netlab.description)
            _close_quietly([netlab, handle], outcome)
    except _Interrupted as exc:
        outcome.signal = exc.signum
    except Exception as exc:  # noqa: BLE001 - the lab did not start: one line, no traceback
        from sipclient.lab import LabError

        if not isinstance(exc, (LabError, ValueError, OSError)):
            raise
        outcome.error = str(exc)
    finally:
        _restore(saved)
    outcome.results = _complete(plan, results, outcome)
    outcome.duration = time.time() - started
    return outcome


def _complete(plan: RunPlan, results: Sequence[dict[str, Any] | None],
              outcome: RunOutcome) -> list[dict[str, Any]]:
    """Every planned scenario gets a result: those that never started are ``skipped``."""
    why = (f"not run: {outcome.error}" if outcome.error else
           f"not run: the run was interrupted ({outcome.signal_name})" if outcome.signal else
           "not run")
    status = "error" if outcome.error else "skipped"
    return [r if r is not None else stub_result(s, status, why, d)
            for r, s, d in zip(results, plan.scenarios, plan.report_dirs())]


async def _sequence(plan: RunPlan, target: Any, listener: RunListener,
                    results: list[dict[str, Any] | None], netlab: Any = None) -> int | None:
    loop = asyncio.get_running_loop()
    got: list[int] = []
    task = loop.create_task(_one_by_one(plan, target, listener, results, netlab))

    def interrupt(signum: int) -> None:
        if not got:  # a second Ctrl-C must not cut the cleanup short
            got.append(signum)
            listener.note(f"{SIGNAL_NAMES.get(signum, signum)}: stopping the running scenario "
                          "(hang up, unregister, write its reports) ...")
            task.cancel()

    installed = []
    for signum in SIGNAL_NAMES:
        try:
            loop.add_signal_handler(signum, interrupt, signum)
            installed.append(signum)
        except (ValueError, RuntimeError, NotImplementedError):
            pass
    try:
        await asyncio.wait([task])
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    return got[0] if got else None


async def run_one(scenario: Scenario, target: Any, report_dir: Path) -> dict[str, Any]:
    """One scenario's result dict; re-raises CancelledError after the engine cleaned up
    (its interrupted result is then in ``report_dir/result.json``)."""
    from .engine import run_scenario

    try:
        result = await run_scenario(scenario, target, report_dir)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - an engine bug: an error result, not a crash
        return stub_result(scenario, "error", f"internal error: {type(exc).__name__}: {exc}",
                           report_dir, traceback.format_exc())
    return annotate(result.to_dict(), scenario)


async def run_placed(scenario: Scenario, target: Any, report_dir: Path,
                     netlab: Any = None) -> dict[str, Any]:
    """:func:`run_one` where the scenario belongs: a WebRTC scenario on the namespace lab
    (``netlab``, made on first use; its agents' namespace, its own event loop), anything
    else on ``target``. A namespace lab that cannot be had is the scenario's error, one line."""
    if netlab is not None and netlab.wanted(scenario):
        from .netlab import NetLabUnavailable

        try:
            return await netlab.run(lambda lab_target: run_one(scenario, lab_target,
                                                               report_dir))
        except NetLabUnavailable as exc:
            return stub_result(scenario, "error", str(exc))  # nothing ran: no report folder
    return await run_one(scenario, target, report_dir)


def _interrupted_result(scenario: Scenario, report_dir: Path) -> dict[str, Any]:
    data = read_result(report_dir)
    if data is None:
        return stub_result(scenario, "interrupted", "interrupted", report_dir)
    data["status"] = "interrupted" if data.get("status") == "passed" else data.get("status")
    return annotate(data, scenario)


async def _one_by_one(plan: RunPlan, target: Any, listener: RunListener,
                      results: list[dict[str, Any] | None], netlab: Any = None) -> None:
    for index, (scenario, report_dir) in enumerate(zip(plan.scenarios, plan.report_dirs())):
        listener.started(index, scenario, None)
        try:
            results[index] = await run_placed(scenario, target, report_dir, netlab)
        except asyncio.CancelledError:
            results[index] = _interrupted_result(scenario, report_dir)
            listener.finished(index, results[index], None)
            raise
        listener.finished(index, results[index], None)


# ----------------------------------------------------------------------------- workers

def _run_workers(plan: RunPlan, listener: RunListener) -> RunOutcome:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    started = time.time()
    n = min(plan.workers, len(plan.scenarios))
    tasks = ctx.Queue()
    messages = ctx.Queue()
    dirs = plan.report_dirs()
    for index, (scenario, report_dir) in enumerate(zip(plan.scenarios, dirs)):
        tasks.put((index, str(scenario.path), str(report_dir)))
    for _ in range(n):
        tasks.put(None)
    results: list[dict[str, Any] | None] = [None] * len(plan.scenarios)
    outcome = RunOutcome([], started, 0.0, plan.target.describe())
    got: list[int] = []
    netlab = make_netlab(plan.target)  # only asked whether WebRTC scenarios need one
    wants_netlab = netlab is not None and any(netlab.wanted(s) for s in plan.scenarios)
    needs_lab = _needs_ordinary_lab(plan, netlab)
    procs = [ctx.Process(target=_worker_main,
                         args=(w, plan.target, tasks, messages, needs_lab, wants_netlab),
                         name=f"sipclient-run-w{w}") for w in range(n)]

    def forward(signum: int, _frame: Any) -> None:
        if not got:
            got.append(signum)
            listener.note(f"{SIGNAL_NAMES.get(signum, signum)}: stopping the workers' "
                          "running scenarios (hang up, unregister, write reports) ...")
        for p in procs:
            if p.pid is not None and p.is_alive():
                try:
                    os.kill(p.pid, signum)
                except ProcessLookupError:
                    pass

    saved = []
    for signum in SIGNAL_NAMES:
        try:
            saved.append((signum, signal.signal(signum, forward)))
        except ValueError:
            pass
    labs: list[str] = []
    try:
        for p in procs:
            p.start()
        while True:
            try:
                msg = messages.get(timeout=0.2)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            _handle(msg, plan, results, listener, labs)
        while True:  # what the last worker put just before it exited
            try:
                _handle(messages.get(timeout=0.2), plan, results, listener, labs)
            except queue_mod.Empty:
                break
        for p in procs:
            p.join()
    finally:
        _restore(saved)
        tasks.cancel_join_thread()
    failed = [p for p in procs if p.exitcode not in (0, None) and p.exitcode > 0]
    if labs and not any(r is not None for r in results):
        outcome.error = labs[0]
    elif failed and not got and any(r is None for r in results):
        outcome.error = f"worker {failed[0].name} exited with status {failed[0].exitcode}"
    outcome.signal = got[0] if got else None
    if plan.target.is_lab:
        outcome.target = f"the built-in lab, one per worker ({n} workers)" if needs_lab \
            else f"{n} workers"
        if wants_netlab:
            outcome.target += "; WebRTC scenarios: a lab in test network namespaces per worker"
    outcome.results = _complete(plan, results, outcome)
    outcome.duration = time.time() - started
    return outcome


def _handle(msg: tuple[Any, ...], plan: RunPlan, results: list[dict[str, Any] | None],
            listener: RunListener, labs: list[str]) -> None:
    kind, worker = msg[0], msg[1]
    if kind == "note":
        listener.note(f"[w{worker}] {msg[2]}")
    elif kind == "lab-error":
        labs.append(msg[2])
        listener.note(f"[w{worker}] the lab did not start: {msg[2]}")
    elif kind == "start":
        listener.started(msg[2], plan.scenarios[msg[2]], worker)
    elif kind == "done":
        index, data = msg[2], msg[3]
        results[index] = annotate(data, plan.scenarios[index])
        listener.finished(index, results[index], worker)


def _worker_main(worker: int, spec: TargetSpec, tasks: Any, messages: Any,
                 needs_lab: bool = True, wants_netlab: bool = False) -> None:
    """A worker process: its own lab (or the shared external target), then scenarios from
    ``tasks`` until the end marker or a signal. WebRTC scenarios get the worker's own
    namespace lab (made when the first one comes)."""
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    handle = netlab = None

    def say(text: str) -> None:
        messages.put(("note", worker, text))

    try:
        if wants_netlab:
            netlab = make_netlab(spec, worker, say)
        if spec.is_lab and needs_lab:
            try:
                handle = LabHandle.open(spec.environ, worker, say)
            except _Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 - reported by the parent, one line
                messages.put(("lab-error", worker, str(exc)))
                return
        target = spec.build(handle.lab if handle else None) \
            if handle is not None or not spec.is_lab else None
        asyncio.run(_worker_loop(worker, target, tasks, messages, netlab))
    except (_Interrupted, KeyboardInterrupt):
        pass
    finally:
        # the parent forwards every signal it gets: a late one must not cut the lab's stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if netlab is not None:
                netlab.close()
        finally:
            if handle is not None:
                handle.close()


async def _worker_loop(worker: int, target: Any, tasks: Any, messages: Any,
                       netlab: Any = None) -> None:
    from .loader import load_scenario

    loop = asyncio.get_running_loop()
    current: list[asyncio.Task[Any]] = []
    stopped: list[int] = []

    def interrupt(signum: int) -> None:
        if not stopped:
            stopped.append(signum)
            for t in current:
                t.cancel()

    for signum in SIGNAL_NAMES:
        loop.add_signal_handler(signum, interrupt, signum)
    while not stopped:
        item = tasks.get()
        if item is None or stopped:
            break
        index, path, report_dir = item
        scenario = load_scenario(Path(path))
        messages.put(("start", worker, index))
        task = loop.create_task(run_placed(scenario, target, Path(report_dir), netlab))
        current[:] = [task]
        await asyncio.wait([task])
        if task.cancelled():
            data = _interrupted_result(scenario, Path(report_dir))
        else:
            data = task.result()
        messages.put(("done", worker, index, data))


# ----------------------------------------------------------------------------- selection

SUFFIX = ".sip.yaml"


class KeywordError(ValueError):
    """A ``-k`` expression that does not parse; the message says where."""


def collect_files(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files of ``paths``, in order, each once. A missing path raises
    ``FileNotFoundError`` naming it."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*" + SUFFIX) if p.is_file())
        elif path.is_file():
            found = [path]
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def stem(path: str | Path) -> str:
    name = Path(path).name
    return name[:-len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem


def keywords_of(name: str, path: str | Path, tags: Iterable[str]) -> list[str]:
    """What ``-k`` words are matched against: the name, the file's stem, the tags."""
    return [str(name), stem(path), *(str(t) for t in tags)]


def slug(path: str | Path, root: str | Path | None = None) -> str:
    """``scenarios/calls/echo-udp.sip.yaml`` -> ``scenarios-calls-echo-udp``: relative to
    ``root`` (default: the current folder) when inside it."""
    p = Path(path)
    base = Path(root) if root is not None else Path.cwd()
    try:
        p = p.resolve().relative_to(base.resolve())
    except ValueError:
        p = Path(*[x for x in p.parts if x not in ("/", "..", ".")])
    text = "-".join([*p.parent.parts, stem(p)])
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return text or "scenario"


# ----------------------------------------------------------------------------- -k

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_OPS = ("and", "or", "not")


def _tokens(expr: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise KeywordError(f"-k {expr!r}: unexpected {expr[pos:]!r} at column {pos + 1}")
        word = m.group(1) or m.group(2) or m.group(3)
        out.append((word, m.start(m.lastindex or 0) + 1))
        pos = m.end()
    return out


def keyword_matcher(expr: str) -> Callable[[Iterable[str]], bool]:
    """A predicate on a scenario's keywords (:func:`keywords_of`) for ``-k expr``.

    Grammar as pytest's: ``expr := term ("or" term)*``, ``term := factor ("and" factor)*``,
    ``factor := "not" factor | "(" expr ")" | WORD``. A WORD matches when it is a
    case-insensitive substring of one keyword. An empty expression matches everything."""
    tokens = _tokens(expr)
    if not tokens:
        return lambda _words: True
    pos = 0

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    def fail(what: str) -> KeywordError:
        where = f"column {tokens[pos][1]}" if pos < len(tokens) else "the end"
        return KeywordError(f"-k {expr!r}: {what} at {where}")

    def take() -> str:
        nonlocal pos
        word = tokens[pos][0]
        pos += 1
        return word

    def parse_expr() -> Callable[[list[str]], bool]:
        parts = [parse_term()]
        while peek() == "or":
            take()
            parts.append(parse_term())
        return parts[0] if len(parts) == 1 else (lambda ws: any(p(ws) for p in parts))

    def parse_term() -> Callable[[list[str]], bool]:
        parts = [parse_factor()]
        while peek() == "and":
            take()
            parts.append(parse_factor())
        return parts[0] if len(parts) == 1 else (lambda ws: all(p(ws) for p in parts))

    def parse_factor() -> Callable[[list[str]], bool]:
        word = peek()
        if word is None:
            raise fail("expected a word")
        if word == "not":
            take()
            inner = parse_factor()
            return lambda ws: not inner(ws)
        if word == "(":
            take()
            inner = parse_expr()
            if peek() != ")":
                raise fail("expected ')'")
            take()
            return inner
        if word in (")", "and", "or"):
            raise fail(f"unexpected {word!r}")
        take()
        needle = word.lower()
        return lambda ws: any(needle in w for w in ws)

    predicate = parse_expr()
    if pos != len(tokens):
        raise fail(f"unexpected {tokens[pos][0]!r}")
    return lambda words: predicate([str(w).lower() for w in words])
