"""``sipclient demo``: start the lab, run the built-in checks, show a results table, stop.

This is what ``make demo`` runs for a newcomer. Until the YAML scenario suite lands
(issue 6) the checks are the seed's documented flows, each run by its own agent against the
real lab: registration over UDP, TCP and WSS (``REGISTER, 401, REGISTER, 200``), an echo
call to 600, the 183-before-200 call to 602 and the busy 603. Every SIP message and RTP/RTCP
packet goes into one pcap (the agents share its writer, ``AgentConfig.capture``) and each
check into a JSON report under ``reports/demo-<time>/``, both written as the run goes, so
an interrupted run keeps what it did.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from sipclient.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Env

EXPECTED_REGISTER = ["REGISTER", "401", "REGISTER", "200"]
EXPECTED_CALL_600 = ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"]


@dataclass
class Check:
    name: str
    transport: str
    expected: str
    passed: bool = False
    flow: list[str] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="start the lab, run the built-in checks, stop the lab")
    p.add_argument("--report-dir", default=None, help="where reports and captures go")
    p.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards")
    p.set_defaults(func=run)


def run(args, env: Env) -> int:
    from sipclient.lab import Lab, LabConfig, LabError

    out = env.stdout
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report_dir = Path(args.report_dir or f"reports/demo-{stamp}").resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    config = LabConfig.from_env().replace(run_dir=Path("run/demo").resolve())
    lab = Lab(config)
    print(f"starting the Asterisk lab in {config.run_dir} ...", file=out, flush=True)
    started = time.monotonic()
    try:
        lab.up()
    except LabError as exc:
        print(f"sipclient demo: the lab did not start: {exc}", file=env.stderr)
        return EXIT_USAGE
    print(f"lab up in {time.monotonic() - started:.1f} s: SIP udp/tcp {config.host}:{config.sip_port}, "
          f"wss {config.host}:{config.wss_port}/ws", file=out, flush=True)
    try:
        checks = asyncio.run(_run_checks(lab, report_dir, out))
    finally:
        if not args.keep_lab:
            lab.down()
            print("lab stopped", file=out)
    _print_table(checks, out)
    print(f"\nreport:  {report_dir / 'results.json'}\ncapture: {report_dir / 'demo.pcap'}", file=out)
    return EXIT_OK if checks and all(c.passed for c in checks) else EXIT_FAILURE


async def _run_checks(lab, report_dir: Path, out) -> list[Check]:
    from sipclient.agent import Agent, AgentConfig
    from sipclient.pcap.writer import PcapWriter

    cfg = lab.config
    servers = {
        "udp": f"udp:{cfg.host}:{cfg.sip_port}",
        "tcp": f"tcp:{cfg.host}:{cfg.sip_port}",
        "wss": f"wss://{cfg.host}:{cfg.wss_port}/ws",
    }
    accounts = iter(a for a in lab.accounts() if not a.webrtc)
    checks: list[Check] = []
    pcap_file = open(report_dir / "demo.pcap", "wb")
    pcap = PcapWriter(pcap_file)

    def agent_for(transport: str) -> Agent:
        account = next(accounts)
        return Agent(AgentConfig(user=account.extension, password=account.password,
                                 server=servers[transport], insecure=True, codecs=("PCMU", "PCMA"),
                                 capture=pcap))

    async def registration(agent: Agent, check: Check) -> None:
        result = await agent.register()
        check.flow = list(result.flow)
        check.passed = check.flow == EXPECTED_REGISTER
        check.detail = f"expires {result.expires}"

    def calling(number: str, verdict: Callable[[list[str], object], tuple[bool, str]]):
        async def body(agent: Agent, check: Check) -> None:
            call = await agent.call(number)
            final = await call.wait_final(timeout=15)
            if 200 <= final.status < 300:
                await asyncio.sleep(1.0)
                await call.hangup()
            check.flow = agent.flow(call.call_id)
            check.passed, check.detail = verdict(check.flow, final)
        return body

    plan: list[tuple[str, str, str, Callable[[Agent, Check], Awaitable[None]]]] = [
        ("register", "udp", "REGISTER 401 REGISTER 200", registration),
        ("register", "tcp", "REGISTER 401 REGISTER 200", registration),
        ("register", "wss", "REGISTER 401 REGISTER 200", registration),
        ("call 600 (echo)", "udp", " ".join(EXPECTED_CALL_600),
         calling("600", lambda f, r: (f == EXPECTED_CALL_600, f"{r.status} {r.reason}"))),
        ("call 602 (early media)", "udp", "183 before 200",
         calling("602", lambda f, r: ("183" in f and "200" in f and f.index("183") < f.index("200"),
                                      f"{r.status} {r.reason}"))),
        ("call 603 (busy)", "tcp", "486",
         calling("603", lambda f, r: (r.status == 486, f"{r.status} {r.reason}"))),
    ]
    try:
        for n, (name, transport, expected, body) in enumerate(plan, 1):
            check = Check(name, transport, expected)
            print(f"[{n}/{len(plan)}] {name} over {transport} ...", end=" ", file=out, flush=True)
            started = time.monotonic()
            agent = agent_for(transport)
            try:
                async with agent:
                    await body(agent, check)
            except Exception as exc:  # noqa: BLE001 - a failed check is reported, not raised
                check.passed, check.detail = False, f"{type(exc).__name__}: {exc}"
            finally:
                check.seconds = time.monotonic() - started
            checks.append(check)
            print(f"{'ok' if check.passed else 'FAILED'} ({check.seconds * 1000:.0f} ms)", file=out, flush=True)
            _write_report(report_dir, checks)
    finally:
        pcap_file.close()
        _write_report(report_dir, checks)
    return checks


def _write_report(report_dir: Path, checks: list[Check]) -> None:
    data = [{"name": c.name, "transport": c.transport, "passed": c.passed, "expected": c.expected,
             "flow": c.flow, "detail": c.detail, "seconds": round(c.seconds, 3)} for c in checks]
    (report_dir / "results.json").write_text(json.dumps({"checks": data}, indent=2) + "\n")


def _print_table(checks: list[Check], out) -> None:
    rows = [("check", "transport", "result", "time", "flow")]
    rows += [(c.name, c.transport, "pass" if c.passed else "FAIL", f"{c.seconds:.2f}s",
              " ".join(c.flow) + (f"  [{c.detail}]" if c.detail and not c.passed else ""))
             for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print("", file=out)
    for i, r in enumerate(rows):
        print("  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4], file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * 4, file=out)
    passed = sum(c.passed for c in checks)
    print(f"\n{passed} passed, {len(checks) - passed} failed", file=out)
