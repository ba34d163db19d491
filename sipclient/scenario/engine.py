"""Run one loaded scenario against a PBX with real agents: :func:`run_scenario`.

The engine creates the agents of the file (``AgentSpec`` -> :class:`~sipclient.agent.Agent`,
accounts from the :class:`~sipclient.scenario.target.Target`), all writing one capture
(``capture.pcap`` in the report folder), then runs the steps in order, each through its
executor in the table of step kinds (:func:`sipclient.scenario.kinds.kinds`), under the
scenario's ``timeout``. The first step that fails stops the run; the steps after it are
``skipped``.

Whatever happens (a failure, an unexpected error, the timeout, Ctrl-C arriving as a
cancellation), the end is the same: calls still up are hung up, registered agents
unregistered, agents closed (each bounded by its ``cleanup_timeout``), the capture closed,
and ``result.json`` and ``ladder.txt`` written into the report folder.

Errors raised by agents (``AuthenticationFailed``, ``SipTimeout``, ``SipFailure``,
``TransportFailure``) make the step *failed* with a message in words; anything unexpected
makes it *error*, with the traceback kept only in ``ScenarioResult.debug`` (redacted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import ipaddress
import os
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sipclient.agent import (Agent, AgentConfig, AgentError, AuthenticationFailed, Secret,
                             SipFailure, SipTimeout, TransportFailure)
from sipclient.io.hep import CaptureTee, HepSendError, HepSink
from sipclient.io.atomic import OutputError
from sipclient.io.target import TargetError, parse_target
from sipclient.pcap.writer import PcapWriter

from .context import CURRENT_PATH, RunContext, StepFailed, StepStopped
from .matchers import MatchError
from .model import Scenario, Step
from .result import ScenarioResult, StepResult, flow_of, ladder_text, trace_dicts
from .kinds import StepKind, kinds
from .steps._common import DEFAULT_TIMEOUT, text_of
from .target import ProfileError, Target, hep_settings
from .variables import UnknownVariable, Variables

__all__ = ["SetupFailed", "agent_config", "run_scenario"]

OnStep = Callable[[StepResult], Any]

#: seconds the whole cleanup may take beyond the agents' own cleanup_timeout
CLEANUP_MARGIN = 5.0


class SetupFailed(Exception):
    """The scenario cannot start: an agent cannot be built or opened (in words)."""


async def run_scenario(scenario: Scenario, target: Target, report_dir: str | Path, *,
                       on_step: OnStep | None = None,
                       instance: int | None = None) -> ScenarioResult:
    """Run ``scenario`` against ``target``; reports go into ``report_dir`` (created).

    Returns the :class:`ScenarioResult` (also written as ``result.json``, with
    ``ladder.txt`` and ``capture.pcap`` beside it). ``on_step(step_result)`` (a function or
    a coroutine function) is called as each step ends, skipped ones included.
    ``instance``: the number of this run as a load instance (``sipclient load run``), the
    value of ``${i}`` outside ``repeat`` (load it with ``load_scenario(instance=True)``).

    Cancellation (Ctrl-C in the runner arrives as ``CancelledError``): the running step and
    the scenario become ``interrupted``, ``on_step`` is called for it, agents hang up and
    unregister, the result is written to ``report_dir/result.json`` - and then
    ``CancelledError`` is raised again. The runner catches it (and reads the result file
    when it needs the interrupted result).
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = ScenarioResult(name=scenario.name, path=scenario.path, started=time.time(),
                            tags=tuple(scenario.tags), report_dir=report_dir)
    capture_path = report_dir / "capture.pcap"
    try:
        capture_file = open(capture_path, "wb")
        writer = PcapWriter(capture_file)  # writes the header: may be ENOSPC
    except OSError as exc:
        capture_path.unlink(missing_ok=True)  # no 0-byte capture left behind
        raise OutputError(exc.errno, f"cannot write the capture {capture_path}: "
                                     f"{exc.strerror or exc}") from None
    result.capture = capture_path
    ctx: RunContext | None = None
    cancelled = False
    hep = None  # HEP3 to Homer beside the capture (target.hep; sipclient.io.hep)
    try:
        try:
            variables = Variables.from_scenario(scenario, target=target.facts())
            if instance is not None:  # a load instance: ${i} is its number (load run)
                variables = variables.with_index(instance)
        except (UnknownVariable, OSError) as exc:
            raise SetupFailed(f"vars: {exc}") from None
        result.redact = variables.redact
        ctx = RunContext(scenario=scenario, target=target, report_dir=report_dir,
                         variables=variables, result=result,
                         wall_offset=time.time() - loop.time())

        async def run_children(steps: Sequence[Step], prefix: str) -> None:
            await _run_steps(ctx, steps, prefix, on_step)  # type: ignore[arg-type]

        ctx.run_steps = run_children
        try:
            async with asyncio.timeout(scenario.timeout):
                settings = getattr(target, "hep", None) or _scenario_hep(scenario)
                if settings is not None:
                    hep = await _open_hep(settings)
                await _open_agents(ctx, CaptureTee(writer, hep) if hep else writer)
                await _run_steps(ctx, scenario.steps, "", on_step)
                _unanswered_calls(ctx)
        except TimeoutError:
            message = f"the scenario's timeout ({scenario.timeout:g} s) ran out"
            for step in result.steps:
                if step.status == "interrupted":
                    step.status, step.message = "failed", message
            result.status, result.error = "failed", message
    except StepStopped as stop:
        bad = result.failing_step or stop.result
        result.status = "error" if bad.status == "error" else "failed"
        result.error = f"step {bad.path} ({bad.title}): {bad.message}"
    except SetupFailed as exc:
        result.status, result.error = "error", str(exc)
    except asyncio.CancelledError:
        cancelled = True
        result.status, result.error = "interrupted", "interrupted"
    except Exception as exc:  # noqa: BLE001 - an engine bug must still leave a report
        result.status = "error"
        result.error = f"internal error: {type(exc).__name__}: {exc}"
        result.debug = traceback.format_exc()
    finally:
        if ctx is not None:
            if await _close_agents(ctx):
                cancelled = True
            for cleanup in reversed(ctx.cleanups):  # servers steps started (http_twin)
                try:
                    await asyncio.wait_for(cleanup(), CLEANUP_MARGIN + 5)
                except (Exception, asyncio.CancelledError):  # noqa: BLE001 - best effort
                    pass
        if hep is not None:
            await hep.close()
        try:
            capture_file.close()
        except OSError:
            pass
        if result.status in ("failed", "error", "interrupted"):
            _skip_the_rest(result, scenario.steps)
        result.duration = loop.time() - t0
        if ctx is not None:
            _collect(ctx, result)
        result.write(report_dir)
    if cancelled:
        raise asyncio.CancelledError()
    return result


# ---------------------------------------------------------------------- steps

async def _run_steps(ctx: RunContext, steps: Sequence[Step], prefix: str,
                     on_step: OnStep | None) -> None:
    """Run ``steps`` in order; the first that does not pass stops them (the rest are
    recorded as skipped) and :class:`StepStopped` is raised."""
    for n, step in enumerate(steps):
        try:
            await _run_step(ctx, step, f"{prefix}.{step.index}" if prefix else str(step.index),
                            on_step)
        except BaseException:
            for later in steps[n + 1:]:
                path = f"{prefix}.{later.index}" if prefix else str(later.index)
                await _report(ctx, on_step, _new_result(ctx, later, path, "skipped"))
            raise


def _new_result(ctx: RunContext, step: Step, path: str, status: str) -> StepResult:
    res = StepResult(path=path, kind=step.kind, title=step.title, where=step.where,
                     status=status, source=ctx.scenario.lines_of(step))
    ctx.result.steps.append(res)
    return res


async def _report(ctx: RunContext, on_step: OnStep | None, res: StepResult) -> None:
    """Hand ``on_step`` a copy of ``res`` with every secret redacted (it may print it)."""
    if on_step is None:
        return
    redact = ctx.variables.redact
    shown = dataclasses.replace(
        res, message=redact(res.message),
        expected=None if res.expected is None else redact(res.expected),
        received=None if res.received is None else redact(res.received))
    try:
        out = on_step(shown)
        if inspect.isawaitable(out):
            await out
    except Exception:  # noqa: BLE001 - a listener's bug must not change the result
        pass


async def _run_step(ctx: RunContext, step: Step, path: str, on_step: OnStep | None) -> None:
    res = _new_result(ctx, step, path, "running")
    loop = asyncio.get_running_loop()
    res.started = time.time()
    t0 = loop.time()
    token = CURRENT_PATH.set(path)
    limit: Any = DEFAULT_TIMEOUT
    try:
        kind = kinds().get(step.kind)
        if kind is None:
            raise StepFailed(f"the step kind {step.kind!r} is not available here (known: "
                             f"{', '.join(sorted(kinds()))})")
        args = step.args if kind.unresolved else ctx.resolve(step.args)
        limit = args.get("timeout", DEFAULT_TIMEOUT)
        if ctx.deferred:
            await _open_named(ctx, args)
        _mark(ctx, step, kind, args)
        shown = await kind.run(ctx, step, args)
        if isinstance(shown, str):     # what the step saw, for the report (e.g. a webhook)
            res.received = shown
        res.status = "passed"
    except StepFailed as exc:
        res.status, res.message = "failed", exc.message
        res.expected, res.received = exc.expected, exc.received
    except AuthenticationFailed as exc:
        res.status, res.message = "failed", f"authentication failed: {exc}"
        res.received = text_of(exc.response)
    except SipFailure as exc:
        res.status, res.message = "failed", str(exc)
        res.received = text_of(exc.response)
    except SipTimeout as exc:
        res.status, res.message = "failed", f"no answer in time: {exc}"
    except TransportFailure as exc:
        res.status, res.message = "failed", f"transport failure: {exc}"
    except AgentError as exc:
        res.status, res.message = "failed", str(exc)
    except TimeoutError:
        res.status = "failed"
        res.message = f"{step.kind} did not finish within its timeout ({limit} s)"
    except (UnknownVariable, ProfileError, MatchError) as exc:
        res.status, res.message = "error", str(exc)
    except asyncio.CancelledError:
        res.status, res.message = "interrupted", "interrupted"
        raise
    except Exception as exc:  # noqa: BLE001 - reported in words, traceback in debug
        res.status, res.message = "error", f"{type(exc).__name__}: {exc}"
        if ctx.result.debug is None:
            ctx.result.debug = f"step {path} ({step.kind}):\n{traceback.format_exc()}"
    finally:
        CURRENT_PATH.reset(token)
        res.duration = loop.time() - t0
        await _report(ctx, on_step, res)
    if res.status != "passed":
        raise StepStopped(res)


def _mark(ctx: RunContext, step: Step, kind: StepKind, args: dict[str, Any]) -> None:
    """Where ``expect`` looks: a step that acts on an agent (or one of its calls) starts its
    window; a step with a ``name:`` is remembered for ``since: NAME``."""
    name = args.get("name") if not kind.unresolved else None
    if isinstance(name, str):
        ctx.named[name] = {a: len(agent.trace) for a, agent in ctx.agents.items()}
    if not kind.acts:
        return
    agents = {args.get("agent"), args.get("from")}
    ref = ctx.calls.get(str(args.get("call"))) if args.get("call") is not None else None
    if ref is not None:
        agents.add(ref.agent)
    for agent in agents:
        if isinstance(agent, str) and agent in ctx.agents:
            ctx.touch(agent, len(ctx.agents[agent].trace))


def _unanswered_calls(ctx: RunContext) -> None:
    """Every step passed: a call made without ``expect`` still had to be answered 200 (the
    call step's default) unless a later step waited on it or checked its messages (then the
    answer was theirs), or it was cancelled (487). Else its ``call`` step fails now."""
    for ref in ctx.calls.values():
        final = getattr(ref.session, "final", None)
        if ref.expect is not None or ref.checked or not ref.path or final is None \
                or 200 <= final.status < 300 or final.status == 487 \
                or not hasattr(ref.session, "wait_final"):  # an outgoing call
            continue
        res = next((r for r in ctx.result.steps if r.path == ref.path), None)
        if res is None:
            continue
        res.status = "failed"
        res.message = (f"call {ref.label}: expected 200, received {final.status} "
                       f"{final.reason} (no later step waited on the call)")
        res.expected, res.received = f"call {ref.label} answered 200", text_of(final)
        raise StepStopped(res)


def _skip_the_rest(result: ScenarioResult, steps: Sequence[Step]) -> None:
    """Top-level steps that never started (the agents could not be opened) as skipped."""
    seen = {s.path for s in result.steps}
    for step in steps:
        if str(step.index) not in seen:
            result.steps.append(StepResult(path=str(step.index), kind=step.kind,
                                           title=step.title, where=step.where,
                                           status="skipped"))


# ---------------------------------------------------------------------- agents

def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _route_address(host: str, port: int) -> str | None:
    """The local address the system would use toward ``host`` (no packet is sent)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, port or 9))
            return s.getsockname()[0]
    except OSError:
        return None


async def agent_config(ctx: RunContext, name: str, f: dict[str, Any],
                       capture: PcapWriter | CaptureTee | str | None) -> AgentConfig:
    """An agent's settings (``f``: its resolved fields) -> :class:`AgentConfig`."""
    target = ctx.target
    account = None
    if f.get("account") is not None:
        try:
            account = target.account(f["account"])
        except ProfileError as exc:
            raise SetupFailed(f"agent {name}: {exc}") from None
    user = f.get("user") or (account.user if account else None)
    if not user:
        raise SetupFailed(f"agent {name}: give account: (an extension of the target) or "
                          "user:")
    password = f.get("password")
    password = Secret(str(password)) if password is not None else (
        account.password if account else None)
    transport = str(f.get("transport") or ("wss" if f.get("webrtc") else "udp")).lower()
    try:
        server = str(f["server"]) if f.get("server") else target.server(transport)
        host = parse_target(server).host
        port = parse_target(server).port
    except (ProfileError, TargetError) as exc:
        raise SetupFailed(f"agent {name}: {exc}") from None
    local = f.get("local_address")
    if local is None:
        local = "127.0.0.1" if _loopback(host) else await asyncio.to_thread(
            _route_address, host, port)
    play = f.get("play")
    if play is not None and not str(play).lower().startswith(("tone:", "silence")):
        path = Path(str(play)).expanduser()
        if not path.is_absolute():
            path = ctx.scenario.path.parent / path
        if not path.is_file():
            raise SetupFailed(f"agent {name}: play: {play}: no such file ({path})")
        play = str(path)
    record = f.get("record")
    if record is not None:
        record = str(ctx.report_dir / Path(str(record)).name)
    impairment = f.get("impairment")
    if isinstance(impairment, dict):
        impairment = {k: ({kk: tuple(vv) if isinstance(vv, list) else vv
                           for kk, vv in v.items()} if isinstance(v, dict) else v)
                      for k, v in impairment.items()}
    kw: dict[str, Any] = {}
    if f.get("codecs"):
        codecs = f["codecs"]
        kw["codecs"] = tuple(str(c).upper() for c in ([codecs] if isinstance(codecs, str)
                                                       else codecs))
    if f.get("user_agent") is not None:
        kw["user_agent"] = str(f["user_agent"])
    if f.get("challenge_delay") is not None:
        kw["challenge_delay"] = float(f["challenge_delay"])
    headers = f.get("headers") or {}
    try:
        return AgentConfig(
            user=str(user), password=password, server=server,
            domain=str(f.get("domain") or (account.domain if account else None)
                       or target.domain),
            auth_user=str(f.get("auth_user") or (account.auth_user if account else None)
                          or "") or None,
            display_name=f.get("display_name"), local_address=local,
            local_port=int(f.get("local_port") or 0),
            expires=int(f["expires"]) if f.get("expires") is not None else None,
            insecure=bool(f.get("insecure", target.insecure)), ca_file=target.ca_file,
            impairment=impairment, play=str(play) if play is not None else None,
            record=record, capture=capture,
            extra_headers=tuple((str(k), str(v)) for k, v in headers.items()), **kw)
    except (TypeError, ValueError) as exc:
        raise SetupFailed(f"agent {name}: {exc}") from None


def _webrtc_factory(name: str, fields: dict[str, Any]) -> Any:
    """The WebRTC media of issue 8: ``webrtc.media_factory(options)`` given the agent's
    resolved fields (``play``/``record`` left out: the agent's config has them, with their
    paths already made absolute)."""
    try:
        module = importlib.import_module("webrtc")
    except ImportError:
        module = None
    factory = getattr(module, "media_factory", None)
    if factory is None:
        raise SetupFailed(f"agent {name}: webrtc agents need the webrtc extra (issue 8)")
    options = {k: v for k, v in fields.items() if k not in ("play", "record")}
    try:
        return factory(options)
    except ValueError as exc:
        raise SetupFailed(f"agent {name}: webrtc: {exc}") from None


def _scenario_hep(scenario: Scenario) -> Any:
    """The scenario's own ``hep:`` (the run's ``--hep`` or profile wins over it)."""
    if scenario.hep is None:
        return None
    try:
        return hep_settings(scenario.hep, f"{scenario.path}: hep", os.environ, scenario.path)
    except ProfileError as exc:
        raise SetupFailed(str(exc)) from None


async def _open_hep(settings: Any) -> HepSink:
    try:
        return await HepSink.open(settings)
    except HepSendError as exc:
        raise SetupFailed(str(exc)) from None


async def _open_agents(ctx: RunContext, capture: PcapWriter | CaptureTee) -> None:
    """Build every agent (so a bad one fails before any step) and open them, except an
    agent whose fixed local address and port an earlier agent holds (seed 001's conflict:
    two phones on one source port): it opens when a step first names it."""
    held: set[tuple[str | None, int]] = set()
    for name, spec in ctx.scenario.agents.items():
        try:
            fields = ctx.resolve(dict(spec.fields))
        except UnknownVariable as exc:
            raise SetupFailed(f"agent {name}: {exc}") from None
        config = await agent_config(ctx, name, fields, capture)
        media_factory = _webrtc_factory(name, fields) if fields.get("webrtc") else None
        try:
            agent = Agent(config, media_factory=media_factory)
        except (TargetError, ValueError) as exc:
            raise SetupFailed(f"agent {name}: {exc}") from None
        if config.password is not None:  # never in a report, whatever echoes it
            ctx.variables.set(f"password of agent {name}", config.password.reveal(),
                              secret=True)
        if fields.get("auto_answer") is not None:
            agent.auto_answer = float(fields["auto_answer"])
        ctx.agents[name] = agent
        ctx.variables.set_agent(name, _agent_facts(agent, config))  # completed when open
        where = (config.local_address, config.local_port)
        if config.local_port and where in held:
            ctx.deferred.add(name)
            continue
        held.add(where)
        await _open_agent(ctx, name)


async def _open_agent(ctx: RunContext, name: str) -> None:
    """Open one agent; its facts (``${alice.local_port}``...) exist from then on."""
    agent = ctx.agents[name]
    ctx.deferred.discard(name)
    try:
        await agent.open()
    except AgentError as exc:
        raise SetupFailed(f"agent {name}: {exc}") from None
    ctx.variables.set_agent(name, _agent_facts(agent, agent.config))


async def _open_named(ctx: RunContext, args: dict[str, Any]) -> None:
    """Open the deferred agents a step names (``agent``, ``from``) before it runs."""
    for key in ("agent", "from"):
        name = args.get(key)
        if isinstance(name, str) and name in ctx.deferred:
            try:
                await _open_agent(ctx, name)
            except SetupFailed as exc:
                raise StepFailed(str(exc)) from None


def _agent_facts(agent: Agent, config: AgentConfig) -> dict[str, Any]:
    """``${alice.user}``...; the socket's address and the Contact once the agent is open."""
    local: tuple[str, int] = (config.local_address or "", config.local_port)
    contact = ""
    if agent.endpoint is not None and agent.endpoint.transport is not None:
        local = agent.endpoint.transport.local_address
        contact = agent.contact_uri
    return {"user": config.user, "domain": agent.domain, "uri": agent.aor,
            "local_address": local[0], "local_port": local[1],
            "transport": agent.target.transport, "contact": contact}


async def _close_agents(ctx: RunContext) -> bool:
    """Hang up, unregister and close every agent, even when cancelled meanwhile (bounded);
    True when a cancellation arrived during the cleanup."""
    agents = list(ctx.agents.values())
    if not agents:
        return False
    tasks = [asyncio.ensure_future(a.close()) for a in agents]
    bound = max(a.config.cleanup_timeout for a in agents) + CLEANUP_MARGIN
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    cancelled = False
    pending = set(tasks)
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            _, pending = await asyncio.wait(pending, timeout=left)
        except asyncio.CancelledError:
            cancelled = True  # a second Ctrl-C: keep cleaning up, within the bound
    for task in tasks:
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved: reported by the agent's own log
    return cancelled


def _collect(ctx: RunContext, result: ScenarioResult) -> None:
    """Traces, flows, media statistics and the ladder into the result."""
    traces = {}
    pbx = {}
    for name, agent in ctx.agents.items():
        traces[name] = agent.trace
        host, port = agent.server_addr[0], agent.server_addr[1]
        pbx[f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] = ctx.target.name
        result.agents[name] = trace_dicts(agent.trace, ctx.wall_offset)
        result.flows[name] = flow_of(agent.trace)
    for name, ref in ctx.calls.items():
        try:
            streams = ref.session.media.stats()
        except Exception:  # noqa: BLE001 - media that cannot report is reported as none
            streams = []
        result.media[name] = dict(streams[0]) if streams else {}
    try:
        result.ladder = ladder_text(traces, names=pbx)
    except Exception:  # noqa: BLE001 - a drawing bug must not lose the result
        result.ladder = "\n".join(f"{name}: {' '.join(flow)}"
                                  for name, flow in result.flows.items())
        if result.debug is None:
            result.debug = f"ladder:\n{traceback.format_exc()}"
