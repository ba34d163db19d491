"""What the softclient commands (``register``, ``call``, ``answer``, ``options``) share.

* :func:`add_common_options` - the option spec every command takes (server, account,
  transport and TLS, output, impairment, timers); the media options are in
  :mod:`sipclient.cli._media` (re-exported here);
* :class:`Session` - turns parsed options into an ``AgentConfig`` (bad usage raises
  :class:`~sipclient.cli.UsageError`: exit 2, one line, no traceback), runs a command body
  with an :class:`~sipclient.agent.Agent` under ``asyncio.run``, cancels it on SIGINT/SIGTERM
  (the agent's cleanup - hang up, unregister - still runs), maps errors to exit codes and
  prints the result: human lines, or exactly one JSON object with ``--json``.

Exit codes (docs/cli.md): 0 ok, 1 SIP failure, 2 bad usage, 3 authentication failed,
4 timeout, 130 SIGINT, 143 SIGTERM - each after cleanup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TextIO

from sipclient.io.loop import on_signals
from sipclient.io.loop import run as run_loop
from sipclient.cli import (EXIT_AUTH, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED,
                           EXIT_TIMEOUT,
                           EXIT_USAGE, Env, UsageError)
from sipclient.cli._hep import add_hep_options, hep_settings, with_hep
from sipclient.cli._checks import (check_ca_file, check_header_text, check_ip, check_output,
                                   read_secret, seconds)
from sipclient.cli._media import (DTMF_MODES, add_media_options, add_webrtc_option,  # noqa: F401
                                  codec_choices, media_config, media_report, send_dtmf_later,
                                  webrtc_factory)
from sipclient.cli._trace import TracePrinter, use_color

PASSWORD_ENV = "SIPCLIENT_PASSWORD"

SIGNAL_EXITS = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}
TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")
AUTH_STATUSES = (401, 403, 407)


# ----------------------------------------------------------------------------- option spec

def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share within 0..1 (e.g. 0.3)")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _nth_list(text: str) -> tuple[int, ...]:
    return tuple(positive_int(part.strip()) for part in text.split(",") if part.strip())


def add_common_options(p: argparse.ArgumentParser, *, server_required: bool = True) -> None:
    """The flags every softclient command takes (see docs/cli.md)."""
    acc = p.add_argument_group("server and account")
    acc.add_argument("--server", "-s", metavar="TARGET",
                     help="udp:host:port, host:port;transport=tcp, sip:1001@host:7048;"
                          "transport=tcp, wss://host:8089/ws ..."
                          + ("" if server_required else " (default: TARGET)"))
    acc.add_argument("--user", "-u", help="extension / user part (default: the TARGET's user)")
    acc.add_argument("--auth-user", help="digest username when it differs from --user")
    acc.add_argument("--domain", help="From/To domain (default: the server's host)")
    pw = acc.add_mutually_exclusive_group()
    pw.add_argument("--password", "-p", help="the password (visible in the process list; "
                    f"prefer --password-env / ${PASSWORD_ENV})")
    pw.add_argument("--password-env", metavar="VAR",
                    help=f"read the password from $VAR (default: ${PASSWORD_ENV} if set)")
    pw.add_argument("--password-file", metavar="FILE", help="read the password from FILE "
                    "(first line)")
    acc.add_argument("--expires", type=positive_int, metavar="S",
                     help="registration lifetime to ask for (default: 3600)")
    acc.add_argument("--user-agent", metavar="TEXT", help="User-Agent header")

    net = p.add_argument_group("transport")
    net.add_argument("--transport", "-t", choices=TRANSPORTS, type=str.lower,
                     help="override the TARGET's transport")
    net.add_argument("--local-address", metavar="IP", help="source address (default: any)")
    net.add_argument("--local-port", type=_port, metavar="PORT",
                     help="source port (default: any)")
    net.add_argument("--insecure", "-k", action="store_true",
                     help="TLS/WSS: accept a certificate that does not verify (the lab's "
                          "self-signed one); verification is on by default")
    net.add_argument("--ca-file", metavar="FILE", help="TLS/WSS: trust the CAs in FILE")
    net.add_argument("--timeout", type=seconds, metavar="S",
                     help="give up waiting for an answer after S seconds (exit 4)")
    net.add_argument("--t1", type=seconds, help=argparse.SUPPRESS)  # RFC 3261 T1, for tests

    out = p.add_argument_group("output")
    out.add_argument("--trace", action="store_true",
                     help="print every SIP message in full as sent/received")
    out.add_argument("--json", action="store_true",
                     help="print exactly one JSON object at the end")
    out.add_argument("--pcap", metavar="FILE", help="write every SIP message and RTP/RTCP "
                     "packet of this run to FILE (pcap, readable by Wireshark/tshark)")
    out.add_argument("--capture-interface", metavar="IFACE", help="with root: also capture "
                     "on IFACE with dumpcap while the run lasts, into NAME.iface.pcapng "
                     "beside --pcap NAME.pcap")
    add_hep_options(out)
    out.add_argument("--color", "--colour", choices=("auto", "always", "never"),
                     default="auto", type=str.lower, help="colour the trace (default: auto, "
                     "only on a terminal)")

    imp = p.add_argument_group("network impairment (this client's transport)")
    imp.add_argument("--drop", type=_share, metavar="P", help="drop a share P of messages")
    imp.add_argument("--duplicate", type=_share, metavar="P",
                     help="send/deliver a share P of messages twice")
    imp.add_argument("--delay", type=seconds, metavar="S", help="delay messages by S seconds")
    imp.add_argument("--jitter", type=seconds, metavar="S", help="+/- S around --delay")
    imp.add_argument("--drop-nth", type=_nth_list, action="append", metavar="N[,N]",
                     help="drop the Nth message (1-based)")
    imp.add_argument("--impair", choices=("both", "out", "in"), default="both",
                     help="which direction to impair (default: both)")
    imp.add_argument("--seed", default="0", help="random seed of the impairment (default 0)")


# ----------------------------------------------------------------------------- exit codes

def exit_for_status(status: int | None) -> int:
    """The exit code of a final SIP status (None: no final response)."""
    if status is None:
        return EXIT_TIMEOUT
    if status < 300:
        return EXIT_OK
    if status in AUTH_STATUSES:
        return EXIT_AUTH
    if status == 408:
        return EXIT_TIMEOUT
    return EXIT_FAILURE


def exit_for_error(exc: BaseException) -> int:
    """Map an agent error (or a local timeout) to an exit code."""
    from sipclient import agent as a

    if isinstance(exc, a.AuthenticationFailed):
        return EXIT_AUTH
    if isinstance(exc, (a.SipTimeout, TimeoutError, asyncio.TimeoutError)):
        return EXIT_TIMEOUT
    if isinstance(exc, a.SipFailure):
        status = getattr(getattr(exc, "response", None), "status", None)
        return exit_for_status(status) if status else EXIT_FAILURE
    return EXIT_FAILURE


# ----------------------------------------------------------------------------- secrets

def read_password(args: argparse.Namespace, env: Env) -> str | None:
    """--password, --password-file, --password-env VAR, else $SIPCLIENT_PASSWORD, else None."""
    if args.password is not None:
        return args.password
    return read_secret(env, file=args.password_file, file_flag="--password-file",
                       var=args.password_env, var_flag="--password-env", default_var=PASSWORD_ENV)


class _Redacting:
    """A stream wrapper that masks the password should anything try to print it."""

    def __init__(self, stream: TextIO, secret: str | None) -> None:
        self._stream = stream
        self._secret = secret if secret and len(secret) >= 3 else None

    def write(self, text: str) -> int:
        if self._secret:
            text = text.replace(self._secret, "***")
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# ----------------------------------------------------------------------------- targets

def server_for(target: Any, text: str, transport: str | None) -> str:
    """The server string for the agent: what the user wrote, or rebuilt for --transport."""
    if transport is None or transport == target.transport:
        return text
    from sipclient.io.transport import format_hostport

    port = target.port if target.port_explicit else None
    hostport = format_hostport(target.host, port)
    if transport in ("ws", "wss"):
        return f"{transport}://{hostport}{target.path or '/'}"
    return f"sip:{hostport};transport={transport}"


# ----------------------------------------------------------------------------- the result

@dataclass
class Result:
    """What a command reports; the JSON object is built from it."""

    command: str
    ok: bool = False
    status: int | None = None
    reason: str = ""
    call_id: str | None = None
    error: str | None = None
    exit_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def final(self, response: Any) -> None:
        self.status = getattr(response, "status", None)
        self.reason = getattr(response, "reason", "") or ""

    def fail(self, message: str, code: int) -> None:
        if self.error is None:
            self.error, self.exit_code = message, code
        self.ok = False


class Session:
    """One run of a softclient command; see the module docstring."""

    def __init__(self, command: str, args: argparse.Namespace, env: Env, *,
                 need_user: bool = True, target_text: str | None = None) -> None:
        self.command, self.args, self.env = command, args, env
        self.result = Result(command)
        self.password = read_password(args, env)
        self.stdout = _Redacting(env.stdout, self.password)
        self.stderr = _Redacting(env.stderr, self.password)
        self.agent: Any = None
        self.signal: int | None = None
        self.started = time.monotonic()
        server = args.server or target_text
        if not server:
            raise UsageError("--server TARGET is required (e.g. udp:127.0.0.1:7048)")
        from sipclient.io.target import TargetError, parse_target

        try:
            self.target = parse_target(server)
        except TargetError as exc:
            raise UsageError(str(exc)) from None
        self.transport = args.transport or self.target.transport
        self.server = server_for(self.target, server, args.transport)
        self.user = args.user or self.target.user
        if not self.user:
            if need_user:
                raise UsageError("--user is required (or name it in the target: "
                                 "sip:1001@host:7048)")
            self.user = "sipclient"
        for flag, value in (("--user", self.user), ("--auth-user", args.auth_user),
                            ("--domain", args.domain), ("--user-agent", args.user_agent)):
            check_header_text(flag, value)
        if hasattr(args, "number"):
            check_header_text("NUMBER|URI", args.number, empty_ok=False)
        check_ip("--local-address", args.local_address)
        check_ca_file(args.ca_file)
        check_output("--pcap", getattr(args, "pcap", None))
        self.media_factory = webrtc_factory(args)
        if self.media_factory is not None:
            if self.transport not in ("ws", "wss"):
                raise UsageError(f"--webrtc needs a WebSocket server (wss://host:8089/ws), "
                                 f"not {self.transport}")
            self.result.extra["webrtc"] = True
        trace_stream = self.stderr if args.json else self.stdout
        color = use_color(args.color, env.stderr if args.json else env.stdout,
                          env.getenv("NO_COLOR"))
        self.tracer = TracePrinter(trace_stream, color) if args.trace else None
        self.hep = hep_settings(args, env)  # --hep: HEP3 to Homer (sipclient.cli._hep)

    # -------------------------------------------------------------- configuration

    def impairment(self) -> Any:
        """The agent's impairment settings from --drop/--delay/..., or None."""
        a = self.args
        nth = tuple(n for group in (a.drop_nth or ()) for n in group)
        if not (a.drop or a.duplicate or a.delay or a.jitter or nth):
            return None
        from sipclient.io.impair import Impairment

        rule = Impairment(drop=a.drop or 0.0, duplicate=a.duplicate or 0.0,
                          delay=a.delay or 0.0, jitter=a.jitter or 0.0, drop_nth=nth)
        return _impairment_config(rule, a.impair, a.seed)

    def config(self, **extra: Any) -> Any:
        from sipclient.agent import AgentConfig, Secret

        a = self.args
        kwargs: dict[str, Any] = dict(
            user=self.user, server=self.server, domain=a.domain, auth_user=a.auth_user,
            password=Secret(self.password) if self.password is not None else None,
            insecure=a.insecure, ca_file=a.ca_file, expires=a.expires,
            impairment=self.impairment())
        kwargs["local_address"] = a.local_address  # None: any address, chosen toward the server
        if a.local_port is not None:
            kwargs["local_port"] = a.local_port
        if a.user_agent is not None:
            kwargs["user_agent"] = a.user_agent
        if getattr(a, "pcap", None) is not None:
            kwargs["capture"] = a.pcap
        if a.t1 is not None:
            from sipclient.proto.timers import TimerConfig

            kwargs["timers"] = TimerConfig(t1=a.t1, t2=max(a.t1 * 8, 0.01))
        kwargs.update(extra)
        return AgentConfig(**kwargs)

    # -------------------------------------------------------------- output

    def say(self, line: str) -> None:
        """A human line on stdout (nothing with --json)."""
        if not self.args.json:
            self.trace_now()
            print(line, file=self.stdout, flush=True)

    def trace_now(self) -> None:
        if self.tracer is not None and self.agent is not None:
            self.tracer.print_new(getattr(self.agent, "trace", ()))

    async def _follow_trace(self) -> None:
        """Print each message as the agent records it (woken by the trace, no polling)."""
        while True:
            self.trace_now()
            trace = getattr(self.agent, "trace", None)
            if trace is None or not hasattr(trace, "changed"):
                return
            await trace.changed()

    def call_id_of(self, method: str | None) -> str | None:
        """The Call-ID of the last ``method`` request (None: of any) this agent sent."""
        for entry in reversed(list(getattr(self.agent, "trace", ()))):
            message = getattr(entry, "message", None)
            sent = getattr(message, "method", None)
            if entry.direction == "out" and sent is not None and method in (None, sent):
                return entry.call_id
        return None

    async def keep_registration(self, agent: Any) -> None:
        """Close now without un-REGISTER: the binding stays for its lifetime."""
        await agent.close(cleanup=False)

    def flow(self) -> list[str]:
        try:
            return list(self.agent.flow()) if self.agent is not None else []
        except Exception:  # noqa: BLE001 - a report must still come out
            return []

    def report(self) -> int:
        r = self.result
        code = r.exit_code if r.exit_code is not None else (EXIT_OK if r.ok else EXIT_FAILURE)
        r.ok = code == EXIT_OK
        self.trace_now()
        if self.args.json:
            obj: dict[str, Any] = {
                "command": r.command, "ok": r.ok, "status": r.status, "reason": r.reason,
                "flow": self.flow(),
                "duration_ms": round((time.monotonic() - self.started) * 1000),
                "call_id": r.call_id, "server": self.server, "transport": self.transport,
                "user": self.user, "exit_code": code}
            dropped = getattr(getattr(self.agent, "trace", None), "dropped", 0)
            if dropped:  # the trace is a ring (trace_limit): the oldest messages left it
                obj["flow_dropped"] = dropped
            obj.update(r.extra)
            if not r.ok:
                obj["error"] = r.error or "failed"
            if self.signal is not None:
                obj["interrupted"] = signal.Signals(self.signal).name
            print(json.dumps(obj), file=self.stdout, flush=True)
        elif not r.ok and r.error:
            print(f"sipclient {r.command}: {r.error}", file=self.stderr, flush=True)
        return code

    # -------------------------------------------------------------- running

    def run(self, body: Callable[["Session", Any], Awaitable[None]],
            **config: Any) -> int:
        """Build the agent config, run ``body(session, agent)``, report; the exit code."""
        cfg = self.config(**config)
        return run_loop(self._main(body, cfg))

    async def _main(self, body: Callable[["Session", Any], Awaitable[None]], cfg: Any) -> int:
        task = asyncio.get_running_loop().create_task(self._drive(body, cfg))
        with on_signals(SIGNAL_EXITS, lambda signum: self._interrupt(signum, task)):
            await task
        return self.report()

    def _interrupt(self, signum: int, task: asyncio.Task[None]) -> None:
        first = self.signal is None
        self.signal = signum
        self.result.fail(f"interrupted by {signal.Signals(signum).name}", EXIT_INTERRUPTED)
        self.result.exit_code = SIGNAL_EXITS.get(signum, EXIT_INTERRUPTED)
        if first and not self.args.json:
            limit = getattr(getattr(self.agent, "config", None), "cleanup_timeout", None)
            within = f" (at most {limit:g} s)" if limit else ""
            print(f"{signal.Signals(signum).name}: hanging up and unregistering{within}",
                  file=self.stderr, flush=True)
        task.cancel()

    async def _drive(self, body: Callable[["Session", Any], Awaitable[None]],
                     cfg: Any) -> None:
        from sipclient.agent import Agent, AgentError
        from sipclient.pcap.live import LiveCaptureError, start_beside

        follower = None
        live = None  # --capture-interface (sipclient.pcap.live)
        try:
            if getattr(self.args, "capture_interface", None):
                live = await asyncio.to_thread(start_beside, self.args.capture_interface,
                                               getattr(self.args, "pcap", None))
            async with with_hep(self.hep, cfg) as cfg:
                agent = Agent(cfg, media_factory=self.media_factory)
                self.agent = agent
                if self.tracer is not None:
                    self.tracer.clock_offset = time.time() - asyncio.get_running_loop().time()
                    follower = asyncio.get_running_loop().create_task(self._follow_trace())
                async with agent:
                    await body(self, agent)
            self._check_outputs(agent)
        except asyncio.CancelledError:
            if self.signal is None:
                raise
        except (AgentError, TimeoutError, asyncio.TimeoutError, OSError) as exc:
            response = getattr(exc, "response", None)
            if response is not None and self.result.status is None:
                self.result.final(response)
            if self.result.call_id is None:  # the failed request's, for the JSON report
                self.result.call_id = self.call_id_of(None)
            self.result.fail(describe_error(exc, self), exit_for_error(exc))
        except LiveCaptureError as exc:
            self.result.fail(str(exc), EXIT_USAGE)
        finally:
            if follower is not None:
                follower.cancel()
            if live is not None:
                await asyncio.shield(asyncio.to_thread(live.stop))


    def _check_outputs(self, agent: Any) -> None:
        """A capture or a recording cut short (a full disk) fails the run, saying which."""
        problems = [getattr(agent, "capture_error", None)] + [
            m.get("record_error") for m in self.result.extra.get("media") or ()
            if isinstance(m, dict)]
        for problem in filter(None, problems):
            self.result.fail(problem, EXIT_FAILURE)


async def bounded(session: Session, awaitable: Awaitable[Any],
                  timeout: float | None = None) -> Any:
    """``awaitable``, given up after --timeout (or ``timeout``) seconds: TimeoutError."""
    limit = session.args.timeout if session.args.timeout is not None else timeout
    if limit is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, limit)
    except (TimeoutError, asyncio.TimeoutError):
        raise TimeoutError(f"no answer within {limit:g} s") from None


def describe_error(exc: BaseException, session: Session) -> str:
    """One line a user can act on."""
    from sipclient import agent as a

    where = f"{session.user} at {session.server}"
    if isinstance(exc, a.AuthenticationFailed):
        response = getattr(exc, "response", None)
        if response is not None:
            return (f"authentication failed for {where}: {response.status} {response.reason} "
                    "after credentials were sent (wrong password or --auth-user?)")
        return f"authentication failed for {where}: {exc}"
    if isinstance(exc, a.SipTimeout) or isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        text = str(exc) or "no answer in time"
        return f"timeout: {text} (is {session.server} reachable?)"
    if isinstance(exc, a.SipFailure):
        response = getattr(exc, "response", None)
        if response is not None:
            return f"{response.status} {response.reason}"
    text = str(exc) or type(exc).__name__
    if ("certificate" in text.lower() and not session.args.insecure
            and "--insecure" not in text):
        text += " (use --ca-file FILE, or --insecure for the lab's self-signed certificate)"
    return text


def _impairment_config(rule: Any, direction: str, seed: str) -> Any:
    """``sipclient.agent.ImpairmentSettings``: ``rule`` on the chosen direction(s)."""
    from sipclient.agent import ImpairmentSettings

    return ImpairmentSettings(outgoing=rule if direction in ("both", "out") else None,
                              incoming=rule if direction in ("both", "in") else None,
                              seed=seed)


def run_session(command: str, args: argparse.Namespace, env: Env,
                body: Callable[[Session, Any], Awaitable[None]], *,
                need_user: bool = True, target_text: str | None = None,
                config_from: Callable[[argparse.Namespace], dict[str, Any]] | None = None,
                **config: Any) -> int:
    """The whole command: usage checks (exit 2, also as JSON with --json), then the run.
    ``config_from(args)`` gives more AgentConfig fields (it may raise UsageError)."""
    try:
        session = Session(command, args, env, need_user=need_user, target_text=target_text)
        if config_from is not None:
            config = {**config, **config_from(args)}
        return session.run(body, **config)
    except UsageError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"command": command, "ok": False, "status": None, "reason": "",
                              "flow": [], "duration_ms": 0, "call_id": None,
                              "exit_code": EXIT_USAGE, "error": str(exc)}), file=env.stdout)
        raise


__all__ = ["EXIT_TERMINATED", "PASSWORD_ENV", "Result", "Session", "add_common_options",
           "add_media_options", "add_webrtc_option", "bounded", "media_config", "media_report",
           "send_dtmf_later",
           "exit_for_error", "exit_for_status", "positive_int", "read_password", "run_session",
           "seconds", "server_for", "webrtc_factory"]
