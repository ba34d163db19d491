"""``sipclient load``: calls, registrations or a scenario, at a rate, on every core.

    sipclient load call udp:127.0.0.1:5060 600 --rate 200 --calls 10000 --processes auto
    sipclient load register udp:127.0.0.1:5060 --users 1001-1020 --password-env PW --rate 50
    sipclient load run scenarios/calls/echo.sip.yaml --calls 50 --concurrency 10
    ... --json  --report out/  --max-failed 0.1% --max-setup-p99 200ms --max-loss 0.5%

Exit status: 0 every threshold held, 1 a threshold broke (``--max-failed`` defaults to 0:
one failed instance fails the run), 2 bad usage, 130 Ctrl-C, 143 SIGTERM (after hanging up,
unregistering and writing the report). See docs/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
from typing import Any

from sipclient.cli import EXIT_FAILURE, EXIT_OK, Env, UsageError
from sipclient.cli._common import (PASSWORD_ENV, SIGNAL_EXITS, _Redacting, positive_int,
                                   read_password, seconds)
from sipclient.cli._help import add_command
from sipclient.io.loop import on_signals


def _processes(text: str) -> str:
    if text == "auto" or (text.isdigit() and 1 <= int(text) <= 256):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: expected auto or a number 1-256")


def _rate(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate (instances per second, "
                                         "or max)") from None
    if not 0 < value <= 1e6:
        raise argparse.ArgumentTypeError(f"--rate {text}: expected 0 < R <= 1000000")
    return value


def _common(p: argparse.ArgumentParser, engine_help: str | None = None) -> None:
    """The options every load kind takes; ``--engine`` (with ``engine_help``) for a kind
    that has a lean engine."""
    g = p.add_argument_group("load")
    g.add_argument("--rate", type=_rate, default=10.0, metavar="R",
                   help="new instances per second (default 10); max: as fast as --concurrency "
                        "allows")
    g.add_argument("--ramp", type=seconds, default=0.0, metavar="S",
                   help="reach --rate linearly over S seconds (default 0)")
    g.add_argument("--concurrency", type=positive_int, default=1000, metavar="C",
                   help="at most C instances in flight (default 1000)")
    g.add_argument("--calls", type=positive_int, metavar="N",
                   help="start N instances in all, then finish")
    g.add_argument("--duration", type=seconds, metavar="S",
                   help="start instances for S seconds, then finish (without --calls or "
                        "--duration: until Ctrl-C)")
    g.add_argument("--hold", type=seconds, default=0.0, metavar="S",
                   help="call: seconds between the answer and BYE (default 0)")
    g.add_argument("--media", choices=("none", "packets", "full"), default="none",
                   help="media per call (default none: signalling only)")
    g.add_argument("--processes", type=_processes, default="1", metavar="auto|N",
                   help="engines in parallel, one per core with auto; each has its own "
                        "source port (or --local-address), results are merged (default 1)")
    g.add_argument("--local-address", metavar="RANGE",
                   help="source addresses, e.g. 127.0.0.1-127.0.0.4: one per process")
    g.add_argument("--timeout", type=seconds, default=32.0, metavar="S",
                   help="an instance waiting longer than S for a response fails (default 32)")
    a = p.add_argument_group("account")
    a.add_argument("--user", "-u", help="From user and digest username")
    pw = a.add_mutually_exclusive_group()
    pw.add_argument("--password", "-p", help="the password (visible in the process list; "
                    f"prefer --password-env or ${PASSWORD_ENV})")
    pw.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    pw.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    o = p.add_argument_group("output and thresholds")
    o.add_argument("--json", action="store_true", help="print one JSON object at the end")
    o.add_argument("--report", metavar="DIR",
                   help="write summary.json, seconds.csv and report.html into DIR")
    o.add_argument("--quiet", "-q", action="store_true", help="no live display")
    o.add_argument("--max-failed", metavar="SHARE", default=None,
                   help="fail (exit 1) above this share of failed instances, e.g. 0.1%% "
                        "(default 0: any failure fails the run)")
    o.add_argument("--max-setup-p99", metavar="TIME",
                   help="fail when the setup (REGISTER: round trip) p99 exceeds TIME, "
                        "e.g. 200ms")
    o.add_argument("--max-loss", metavar="SHARE",
                   help="fail when media packet loss exceeds SHARE, e.g. 0.5%%")
    if engine_help is not None:
        from sipclient.load.spec import ENGINES

        p.add_argument("--engine", choices=ENGINES, default="auto", help=engine_help)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "load")
    sub = p.add_subparsers(dest="load_kind", metavar="KIND")
    sub.required = True
    c = sub.add_parser("call", help="INVITE / answer / hold / BYE (like sipp -sn uac)")
    c.add_argument("target", metavar="TARGET", help="udp:host:port (or tcp:) of the PBX or UAS")
    c.add_argument("number", metavar="NUMBER", help="number or SIP URI to call (${i}: the "
                   "instance number)")
    _common(c, engine_help="auto (default): the lean engine (templates, targeted scan) for "
                           "--media none, the general SIP core otherwise; lean or core to force")
    c.set_defaults(func=run)
    r = sub.add_parser("register", help="REGISTER storms: each user's digest, refreshes")
    r.add_argument("target", metavar="TARGET", help="udp:host:port (or tcp:) of the registrar")
    r.add_argument("--users", required=True, metavar="RANGE",
                   help="user names, e.g. 1001-1020 or 1001,1005 (each instance registers "
                        "the next one)")
    r.add_argument("--expires", type=positive_int, default=3600, metavar="S",
                   help="Expires asked for (default 3600)")
    r.add_argument("--refresh", action="store_true",
                   help="keep each registration and refresh it until the run ends "
                        "(unregistered at the end)")
    r.add_argument("--lab-accounts", action="store_true",
                   help="each user's password is its password in the built-in lab (the lab's "
                        "seed; the Kamailio lab is given the same)")
    _common(r, engine_help="auto and lean (default): REGISTER templates, a targeted scan, "
                           "the digest computed per user; core: the general SIP core")
    r.set_defaults(func=run)
    s = sub.add_parser("run", help="a scenario file as the load instance")
    s.add_argument("scenario", metavar="FILE.sip.yaml")
    s.add_argument("--target", dest="target", metavar="TARGET",
                   help="the PBX (default: the built-in lab, started when not up)")
    s.add_argument("--users", metavar="RANGE",
                   help="an account range for ${user} (default: the scenario's accounts)")
    _common(s)
    s.set_defaults(func=run)
    k = sub.add_parser("registrar", help="a fast registrar for load tests: Kamailio in memory "
                       "with the lab's accounts, until Ctrl-C")
    k.add_argument("--users", default="1001-1020", metavar="RANGE",
                   help="accounts, with their lab passwords (default 1001-1020)")
    k.add_argument("--bind", default="127.0.0.1", help="address (default 127.0.0.1)")
    k.add_argument("--port", type=int, default=0, metavar="PORT",
                   help="SIP UDP+TCP port (default: a free one)")
    k.add_argument("--run-dir", default="run/kamailio", metavar="DIR",
                   help="config and log (default run/kamailio)")
    k.add_argument("--no-auth-invite", action="store_true",
                   help="relay INVITEs without asking for credentials")
    k.set_defaults(func=registrar)


# ----------------------------------------------------------------------------- registrar

def registrar(args: argparse.Namespace, env: Env) -> int:
    """Kamailio (sipclient.lab.kamailio) in the foreground: prints its target, runs until
    SIGINT/SIGTERM, then stops it (exit 130/143)."""
    from sipclient.lab.errors import LabError
    from sipclient.lab.kamailio import KamailioLab
    from sipclient.lab.probe import free_udp_port
    from sipclient.load.register import lab_password
    from sipclient.load.spec import parse_number_range

    try:
        users = parse_number_range(args.users, "--users")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    port = args.port or free_udp_port(args.bind)
    lab = KamailioLab(args.run_dir, port, {u: lab_password(u) for u in users},
                      bind=args.bind, auth_invite=not args.no_auth_invite)
    got: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: got.append(s)) for sig in SIGNAL_EXITS}
    try:
        try:
            lab.up()
        except LabError as exc:
            print(f"sipclient load registrar: {exc}", file=env.stderr)
            return EXIT_FAILURE
        print(f"kamailio registrar on {lab.server('udp')} (and tcp) with {len(users)} "
              f"accounts {users[0]}-{users[-1]} (lab passwords); log {lab.log_path}; "
              "Ctrl-C stops it", file=env.stdout, flush=True)
        _wait_signal_or_exit(got, lab.pid)
    finally:
        lab.down()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not got:
        print(f"kamailio exited:\n{lab.log_tail()}", file=env.stderr)
        return EXIT_FAILURE
    return SIGNAL_EXITS[got[0]]


def _wait_signal_or_exit(got: list[int], pid: int | None) -> None:
    """Sleep until a signal arrived (its handler appended to ``got``: the wake-up fd wakes
    the select) or process ``pid`` ended (its pidfd became readable): no polling."""
    import os
    import select
    import socket

    from sipclient.lab.follow import pidfd_of

    exited = pidfd_of(pid) if pid is not None else None
    if exited is None:
        return
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    previous = signal.set_wakeup_fd(wake_w.fileno())
    try:
        while not got:
            ready, _, _ = select.select([wake_r, exited], [], [])
            if exited in ready:
                return
            try:
                while wake_r.recv(64):
                    pass
            except BlockingIOError:
                pass
    finally:
        signal.set_wakeup_fd(previous)
        wake_r.close()
        wake_w.close()
        os.close(exited)


# ----------------------------------------------------------------------------- run

def build_spec(args: argparse.Namespace, env: Env) -> Any:
    from sipclient.load.spec import (LoadSpec, parse_address_range, parse_number_range)

    kind = args.load_kind
    try:
        users = parse_number_range(args.users, "--users") if getattr(args, "users", None) \
            else ()
        local = parse_address_range(args.local_address) if args.local_address else ()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.calls is None and args.duration is None and kind == "run":
        raise UsageError("load run needs --calls N or --duration S")
    return LoadSpec(
        kind=kind, target=getattr(args, "target", None) or "",
        number=getattr(args, "number", None), scenario=getattr(args, "scenario", None),
        rate=args.rate, ramp=args.ramp, concurrency=args.concurrency, calls=args.calls,
        duration=args.duration, hold=args.hold, media=args.media, user=args.user,
        password=read_password(args, env), users=users,
        expires=getattr(args, "expires", 3600), refresh=getattr(args, "refresh", False),
        local_addresses=local, timeout=args.timeout, engine=getattr(args, "engine", "auto"),
        variables={"lab_accounts": "1"} if getattr(args, "lab_accounts", False) else {})


def thresholds(args: argparse.Namespace) -> Any:
    from sipclient.load.spec import Thresholds, parse_duration_ms, parse_share

    try:
        return Thresholds(
            max_failed=parse_share(args.max_failed, "--max-failed")
            if args.max_failed is not None else None,
            max_setup_p99_ms=parse_duration_ms(args.max_setup_p99, "--max-setup-p99")
            if args.max_setup_p99 is not None else None,
            max_loss=parse_share(args.max_loss, "--max-loss")
            if args.max_loss is not None else None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace, env: Env) -> int:
    from sipclient.io.loop import run as run_loop
    from sipclient.lab.errors import LabError
    from sipclient.load.media import MediaUnavailable
    from sipclient.load.runner import WorkerFailed, auto_processes

    spec = build_spec(args, env)
    limits = thresholds(args)
    processes = auto_processes() if args.processes == "auto" else int(args.processes)
    if spec.kind in ("register", "run") and spec.users and processes > len(spec.users):
        processes = max(1, len(spec.users))
    stdout = _Redacting(env.stdout, spec.password)
    stderr = _Redacting(env.stderr, spec.password)
    try:
        merged, caught = run_loop(_main(spec, processes, args, stderr))
    except (ValueError, LookupError, OSError, WorkerFailed, MediaUnavailable, LabError) as exc:
        print(f"sipclient load {spec.kind}: {exc}", file=stderr)
        return 2
    return _finish(spec, processes, merged, caught, limits, args, stdout, stderr)


async def _main(spec: Any, processes: int, args: argparse.Namespace,
                stderr: Any) -> tuple[dict[str, Any], int | None]:
    from sipclient.load.display import LiveDisplay
    from sipclient.load.runner import run as run_all

    lab = None
    if spec.kind == "run":
        from sipclient.load.scenario import prepare
        if args.report:
            spec = dataclasses.replace(spec, variables={**spec.variables,
                                                        "report_dir": args.report})
        spec, lab = await prepare(spec)
    stopping = asyncio.Event()
    caught: list[int] = []

    def on_signal(sig: int) -> None:
        if not caught:
            caught.append(sig)
        stopping.set()

    title = f"sipclient load {spec.kind} -> {spec.target or spec.scenario}"
    try:
        with (on_signals(SIGNAL_EXITS, on_signal),
              LiveDisplay(stderr, title=title, asked=spec.rate, enabled=not args.quiet) as live):
            merged = await run_all(spec, processes, stopping, live.update)
    finally:
        if lab is not None:
            await asyncio.to_thread(lab.close)
    return merged, (caught[0] if caught else None)


def _finish(spec: Any, processes: int, merged: dict[str, Any], caught: int | None,
            limits: Any, args: argparse.Namespace, stdout: Any, stderr: Any) -> int:
    from sipclient.load.report import human_summary, write_report
    from sipclient.load.stats import summary
    from sipclient.load.thresholds import check

    result = summary(merged, kind=spec.kind, asked_rate=spec.rate, processes=processes)
    broken = check(result, limits)
    result["thresholds"] = {"passed": not broken, "broken": broken}
    if caught is not None:
        result["interrupted"] = signal.Signals(caught).name
    if args.report:
        try:
            paths = write_report(args.report, result, merged, title=f"sipclient load "
                                 f"{spec.kind} {spec.target or spec.scenario}")
        except OSError as exc:
            print(f"sipclient load: cannot write the report into {args.report}: "
                  f"{exc.strerror or exc}", file=stderr)
            return 2
        result["report"] = paths
    if args.json:
        print(json.dumps(result, indent=2), file=stdout)
    else:
        print(human_summary(result), file=stdout)
    if caught is not None:
        return SIGNAL_EXITS[caught]
    return EXIT_FAILURE if broken else EXIT_OK


__all__ = ["register", "run"]
