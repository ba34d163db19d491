"""The ``-n`` worker processes of a run (multiprocessing, spawn).

The parent (:func:`run_workers`, called by :func:`sipclient.scenario.runner.run_plan`) puts
every scenario's index, path and report folder on a task queue and reads the workers'
messages (``note``, ``lab-error``, ``start``, ``step``, ``done``) from another; SIGINT/SIGTERM are
forwarded to every worker. A worker (:func:`_worker_main`, importable by its module path, as
spawn needs) opens its own lab (its own run directory, ports shifted by 10 per worker) or
uses the shared external target, makes its own namespace lab when a WebRTC scenario needs
one, then runs scenarios one at a time until the end marker or a signal; an interrupted
scenario's result is read back from its ``result.json``. Each step that ends is a ``step``
message (:func:`~sipclient.scenario.runner.step_event`), given to the listener's ``step``;
``plan.capture_interface`` reaches every worker (each scenario captures that interface).
"""

from __future__ import annotations

import asyncio
import os
import queue as queue_mod
import signal
import time
from pathlib import Path
from typing import Any

from sipclient.io.loop import run as run_loop
from .labs import LabHandle, TargetSpec, make_netlab
from .runner import (SIGNAL_NAMES, Interrupted, RunListener, RunOutcome, RunPlan, annotate,
                     complete_results, interrupted_result, needs_ordinary_lab, raise_interrupt,
                     restore_signals, run_placed, step_event)


def run_workers(plan: RunPlan, listener: RunListener) -> RunOutcome:
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
    needs_lab = needs_ordinary_lab(plan, netlab)
    procs = [ctx.Process(target=_worker_main,
                         args=(w, plan.target, tasks, messages, needs_lab, wants_netlab,
                               plan.capture_interface),
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
        restore_signals(saved)
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
    outcome.results = complete_results(plan, results, outcome)
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
    elif kind == "step":
        step = getattr(listener, "step", None)
        if step is not None:
            step(msg[2], msg[3], worker)
    elif kind == "done":
        index, data = msg[2], msg[3]
        results[index] = annotate(data, plan.scenarios[index])
        listener.finished(index, results[index], worker)


def _worker_main(worker: int, spec: TargetSpec, tasks: Any, messages: Any,
                 needs_lab: bool = True, wants_netlab: bool = False,
                 capture_interface: str | None = None) -> None:
    """A worker process: its own lab (or the shared external target), then scenarios from
    ``tasks`` until the end marker or a signal. WebRTC scenarios get the worker's own
    namespace lab (made when the first one comes)."""
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_interrupt)
    handle = netlab = None

    def say(text: str) -> None:
        messages.put(("note", worker, text))

    try:
        if wants_netlab:
            netlab = make_netlab(spec, worker, say)
        if spec.is_lab and needs_lab:
            try:
                handle = LabHandle.open(spec.environ, worker, say)
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 - reported by the parent, one line
                messages.put(("lab-error", worker, str(exc)))
                return
        target = spec.build(handle.lab if handle else None) \
            if handle is not None or not spec.is_lab else None
        run_loop(_worker_loop(worker, target, tasks, messages, netlab, capture_interface))
    except (Interrupted, KeyboardInterrupt):
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
                       netlab: Any = None, capture_interface: str | None = None) -> None:
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

        def on_step(res: Any, index: int = index) -> None:
            messages.put(("step", worker, index, step_event(res)))

        task = loop.create_task(run_placed(scenario, target, Path(report_dir), netlab,
                                           on_step=on_step,
                                           capture_interface=capture_interface))
        current[:] = [task]
        await asyncio.wait([task])
        if task.cancelled():
            data = interrupted_result(scenario, Path(report_dir))
        else:
            data = task.result()
        messages.put(("done", worker, index, data))
