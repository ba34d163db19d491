"""``sipclient lab up|down|status|logs|accounts``: the local Asterisk lab.

``lab up`` returns once Asterisk has booted and every transport answers; Asterisk keeps
running in the background (its own session) until ``lab down``. The other commands find the
lab through its run directory (``--lab-run-dir``/``--run-dir``, default ``./run/lab`` of the
current directory), whose ``lab.json`` keeps the ports it was started with. ``lab up`` on
default ports that another program holds starts on free ones and says which.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from sipclient.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Env
from sipclient.cli._help import add_command


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "lab")
    actions = parser.add_subparsers(dest="lab_action", metavar="ACTION")
    actions.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lab-run-dir", "--run-dir", dest="run_dir", metavar="DIR",
                       help="lab run directory (default: $SIPCLIENT_LAB_RUN_DIR, else "
                            "./run/lab of the current directory)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=run)

    up = actions.add_parser("up", help="render the config, start Asterisk, wait until ready")
    common(up)
    up.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--host", help="name clients use for the lab (certificate CN)")
    up.add_argument("--sip-port", type=int, help="SIP UDP+TCP port (default 7048)")
    up.add_argument("--tls-port", type=int, help="SIP TLS port (default 5061)")
    up.add_argument("--wss-port", type=int, help="WSS port, path /ws (default 8089)")
    up.add_argument("--http-port", type=int, help="plain HTTP/WS port (default 8088)")
    up.add_argument("--ami-port", type=int, help="AMI port on loopback (default 5038)")
    up.add_argument("--rtp-start", type=int, help="first RTP port (default 10000)")
    up.add_argument("--rtp-end", type=int, help="last RTP port (default 20000)")
    up.add_argument("--realm", help="digest realm (default asterisk)")
    up.add_argument("--sip-extensions", help="e.g. 1001-1020")
    up.add_argument("--webrtc-extensions", help="e.g. 2001-2010")
    up.add_argument("--timeout", type=float, help="seconds to wait for the boot (default 60)")
    up.add_argument("--container", action="store_true", default=None,
                    help="run Asterisk in a container built from docker/Dockerfile (built "
                    "when missing or stale; host networking, the same ports and run "
                    "directory); or $SIPCLIENT_LAB_CONTAINER=1")
    up.add_argument("--engine", choices=("podman", "docker"),
                    help="container engine (default: podman if it works, else docker; "
                    "implies --container)")
    up.add_argument("--registrar", choices=("asterisk", "kamailio"), default="asterisk",
                    help="kamailio: instead of Asterisk, the load tests' Kamailio registrar "
                    "with the lab's accounts, in the foreground until Ctrl-C (the same as "
                    "`sipclient load registrar`; --bind, --sip-port, --sip-extensions, "
                    "--run-dir apply)")

    for name, text in (("down", "stop the lab"), ("status", "is the lab up and answering?")):
        common(actions.add_parser(name, help=text))
    logs = actions.add_parser("logs", help="print a lab log (full, messages, console)")
    common(logs)
    logs.add_argument("--name", default="full", help="full (default), messages or console")
    logs.add_argument("--tail", type=int, default=None, help="only the last N lines")
    accounts = actions.add_parser("accounts", help="extensions, passwords, transports")
    common(accounts)


def _lab(args: argparse.Namespace, env: Env) -> Any:
    from sipclient.lab import Lab, LabConfig, parse_extensions
    from sipclient.lab.runner import STATE_FILE

    environ = env.environ if env.environ is not None else None
    base = LabConfig.from_env(environ, run_dir=args.run_dir)
    if args.lab_action != "up":
        if (base.run_dir / STATE_FILE).exists():
            return Lab.from_run_dir(base.run_dir)
        return Lab(base)
    overrides = {
        name: getattr(args, name)
        for name in ("bind", "host", "sip_port", "tls_port", "wss_port", "http_port",
                     "ami_port", "rtp_start", "rtp_end", "realm")
        if getattr(args, name) is not None
    }
    for name in ("sip_extensions", "webrtc_extensions"):
        if getattr(args, name) is not None:
            overrides[name] = parse_extensions(getattr(args, name))
    if args.timeout is not None:
        overrides["boot_timeout"] = args.timeout
    if args.container or args.engine:
        overrides["container"] = True
    if args.engine:
        overrides["engine"] = args.engine
    if "bind" in overrides and "host" not in overrides and overrides["bind"] != "0.0.0.0":
        overrides["host"] = overrides["bind"]
    config = base.replace(**overrides)
    chosen = any(name.endswith("_port") for name in overrides) or any(
        (environ or os.environ).get(f"SIPCLIENT_LAB_{name.upper()}") for name in
        ("sip_port", "tls_port", "wss_port", "http_port", "ami_port", "port_offset"))
    if not chosen and not config.external and not Lab(config).is_running():
        from sipclient.lab.testing import moved_ports_note, with_free_ports

        moved = with_free_ports(config)  # the default ports taken: free ones, said
        note = moved_ports_note(config, moved)
        if note:
            print(f"sipclient lab up: {note}", file=env.stderr)
        config = moved
    return Lab(config)


def _kamailio(args: argparse.Namespace, env: Env) -> int:
    """``lab up --registrar kamailio``: ``sipclient load registrar`` with the lab's options."""
    from sipclient.cli.load import registrar
    from sipclient.lab import LabConfig

    users = args.sip_extensions or ",".join(LabConfig.from_env(
        env.environ if env.environ is not None else None).sip_extensions)
    return registrar(argparse.Namespace(
        users=users, bind=args.bind or "127.0.0.1", port=args.sip_port or 0,
        run_dir=args.run_dir or "run/kamailio", no_auth_invite=False), env)


def run(args: argparse.Namespace, env: Env) -> int:
    from sipclient.lab import LabError

    if args.lab_action == "up" and args.registrar == "kamailio":
        return _kamailio(args, env)

    try:
        lab = _lab(args, env)
    except ValueError as exc:
        print(f"sipclient lab: {exc}", file=env.stderr)
        return EXIT_USAGE
    except LabError as exc:  # asking whether it runs needs the container engine
        print(f"sipclient lab {args.lab_action}: {exc}", file=env.stderr)
        return EXIT_FAILURE
    try:
        return _ACTIONS[args.lab_action](lab, args, env)
    except LabError as exc:
        print(f"sipclient lab {args.lab_action}: {exc}", file=env.stderr)
        return EXIT_FAILURE


def _print_json(data: Any, env: Env) -> None:
    print(json.dumps(data, indent=2, sort_keys=False), file=env.stdout)


def _endpoint_lines(lab: Any) -> list[str]:
    e = lab.endpoints()
    return [
        f"  SIP UDP   {e['udp']}",
        f"  SIP TCP   {e['tcp']}",
        f"  SIP TLS   {e['tls']}",
        f"  WSS       {e['wss']}",
        f"  WS        {e['ws']}",
        f"  AMI       {e['ami']} (user {lab.config.ami_user})",
        f"  RTP       {e['rtp']}",
        f"  CA file   {lab.cert_file}",
        f"  run dir   {lab.run_dir}",
    ] + ([f"  container {lab.container.name} ({os.path.basename(lab.container.engine)})"]
         if lab.container is not None else [])


def _up(lab: Any, args: argparse.Namespace, env: Env) -> int:
    already = lab.is_running()
    lab.up(say=lambda text: print(text, file=env.stderr, flush=True))
    if args.json:
        data = lab.status(probe_ports=False).to_dict()
        data["boot_seconds"] = round(lab.boot_seconds or 0.0, 3)
        if lab.container is not None:
            data["container"] = lab.container.name
            data["build_seconds"] = round(lab.container.build_seconds or 0.0, 3)
        _print_json(data, env)
        return EXIT_OK
    if already and not lab.boot_seconds:
        print(f"lab already up (asterisk pid {lab.pid})", file=env.stdout)
    else:
        print(f"lab up in {lab.boot_seconds:.1f} s (asterisk pid {lab.pid})", file=env.stdout)
    for line in _endpoint_lines(lab):
        print(line, file=env.stdout)
    sip = lab.config.sip_extensions
    web = lab.config.webrtc_extensions
    print(f"  accounts  SIP {_span(sip)}, WebRTC {_span(web)} (`sipclient lab accounts`)",
          file=env.stdout)
    return EXIT_OK


def _span(exts: tuple[str, ...]) -> str:
    if not exts:
        return "none"
    return exts[0] if len(exts) == 1 else f"{exts[0]}-{exts[-1]}"


def _down(lab: Any, args: argparse.Namespace, env: Env) -> int:
    was = lab.is_running()
    lab.down()
    if args.json:
        _print_json({"stopped": was, "run_dir": str(lab.run_dir)}, env)
    else:
        print("lab stopped" if was else f"lab not running ({lab.run_dir})", file=env.stdout)
    return EXIT_OK


def _status(lab: Any, args: argparse.Namespace, env: Env) -> int:
    st = lab.status()
    if args.json:
        _print_json(st.to_dict(), env)
    elif not st.running:
        print(f"lab down ({lab.run_dir})", file=env.stdout)
    else:
        state = "up" if st.healthy else "unhealthy"
        print(f"lab {state}: asterisk pid {st.pid}, {st.version.split(' built')[0]}",
              file=env.stdout)
        for name, answer in st.checks.items():
            print(f"  {name:4} {answer or 'NO ANSWER'}", file=env.stdout)
        for line in _endpoint_lines(lab):
            print(line, file=env.stdout)
    return EXIT_OK if st.healthy else EXIT_FAILURE


def _logs(lab: Any, args: argparse.Namespace, env: Env) -> int:
    text = lab.logs(args.name, args.tail)
    if args.json:
        _print_json({"name": args.name, "text": text}, env)
    else:
        env.stdout.write(text)
    return EXIT_OK


def _accounts(lab: Any, args: argparse.Namespace, env: Env) -> int:
    accounts = lab.accounts()
    if args.json:
        _print_json([a.to_dict() for a in accounts], env)
        return EXIT_OK
    print(f"{'ext':6} {'password':18} {'webrtc':6} transports", file=env.stdout)
    for a in accounts:
        print(f"{a.extension:6} {a.password:18} {'yes' if a.webrtc else 'no':6} "
              f"{', '.join(a.transports)}", file=env.stdout)
    print(f"realm {lab.config.realm}; register at {lab.config.host}", file=env.stdout)
    return EXIT_OK


_ACTIONS = {"up": _up, "down": _down, "status": _status, "logs": _logs, "accounts": _accounts}
