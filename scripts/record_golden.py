#!/usr/bin/env python3
"""Record the golden captures in captures/ against the Asterisk lab.

    .venv/bin/python scripts/record_golden.py              # all flows, into captures/
    .venv/bin/python scripts/record_golden.py --only invite-early-media --out /tmp/g

Each flow is a short run of sipclient agents (``capture=`` a PcapWriter: the SIP and RTP
as the agent saw it, plaintext SIP for WSS) against a lab this script starts on free ports
and stops afterwards (or an already running lab with ``--run-dir``). The same functions
(:data:`FLOWS`) make the fresh runs that tests/pcap/test_golden.py validates against the
golden files, so a golden capture and its test cannot drift apart. captures/README.md
describes every file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from sipclient.agent import Agent, AgentConfig, Secret  # noqa: E402
from sipclient.pcap.writer import PcapWriter  # noqa: E402


@dataclass(frozen=True)
class Lab:
    """What a flow needs from a lab: its address, ports and passwords."""

    host: str
    sip_port: int
    wss_port: int
    passwords: Callable[[str], str]

    @classmethod
    def of(cls, lab) -> "Lab":  # a sipclient.lab.Lab
        c = lab.config
        return cls(c.probe_host, c.sip_port, c.wss_port, lambda ext: lab.account(ext).password)


def config(lab: Lab, ext: str, writer: PcapWriter, transport: str = "udp", **kw) -> AgentConfig:
    if transport in ("ws", "wss"):
        server = f"{transport}://{lab.host}:{lab.wss_port}/ws"
        kw.setdefault("insecure", True)  # the lab's self-signed certificate
    else:
        server = f"{transport}:{lab.host}:{lab.sip_port}"
    kw.setdefault("password", Secret(lab.passwords(ext)))
    return AgentConfig(user=ext, server=server, capture=writer, **kw)


Flow = Callable[..., Awaitable[None]]


async def register_flow(lab: Lab, writer: PcapWriter, transport: str, ext: str) -> None:
    async with Agent(config(lab, ext, writer, transport)) as agent:
        result = await agent.register()
        assert result.ok, result
    # leaving: un-REGISTER (challenged too)


async def register_udp(lab: Lab, writer: PcapWriter) -> None:
    await register_flow(lab, writer, "udp", "1011")


async def register_tcp(lab: Lab, writer: PcapWriter) -> None:
    await register_flow(lab, writer, "tcp", "1012")


async def register_wss(lab: Lab, writer: PcapWriter) -> None:
    await register_flow(lab, writer, "wss", "2009")


async def invite_early_media(lab: Lab, writer: PcapWriter,
                             codecs: tuple[str, ...] = ("PCMU", "PCMA", "GSM")) -> None:
    """Seed 001's call: INVITE, 401, ACK, INVITE with credentials, 100, 183 with early media
    (602 plays a tone for 3 s), 200, ACK; we hang up 0.5 s later."""
    async with Agent(config(lab, "1013", writer, codecs=codecs)) as agent:
        call = await agent.call("602")
        final = await call.wait_final(timeout=15)
        assert final.status == 200, final
        await asyncio.sleep(0.5)
        await call.hangup()


async def busy(lab: Lab, writer: PcapWriter) -> None:
    async with Agent(config(lab, "1014", writer)) as agent:
        call = await agent.call("603")
        final = await call.wait_final(timeout=10)
        assert final.status == 486, final


async def cancel(lab: Lab, writer: PcapWriter) -> None:
    async with Agent(config(lab, "1015", writer)) as agent:
        call = await agent.call("604")
        while not any(r.status == 180 for r in call.provisional):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        final = await call.cancel()
        assert final is not None and final.status == 487, final


async def hold(lab: Lab, writer: PcapWriter) -> None:
    async with Agent(config(lab, "1016", writer)) as agent:
        call = await agent.call("600")
        final = await call.wait_final(timeout=10)
        assert final.status == 200, final
        await asyncio.sleep(0.3)
        await call.hold()
        await asyncio.sleep(0.5)
        await call.unhold()
        await asyncio.sleep(0.3)
        await call.hangup()


async def dtmf(lab: Lab, writer: PcapWriter) -> None:
    """606 reads 4 digits and sends them back: we send 1234 (RFC 4733), then hang up."""
    async with Agent(config(lab, "1017", writer)) as agent:
        call = await agent.call("606")
        final = await call.wait_final(timeout=10)
        assert final.status == 200, final
        await asyncio.sleep(0.7)
        await call.send_dtmf("1234", mode="rfc4733")
        await asyncio.sleep(0.5)
        await call.hangup()


#: file stem -> flow; the golden capture is captures/<stem>.pcap
FLOWS: dict[str, Flow] = {
    "register-udp": register_udp,
    "register-tcp": register_tcp,
    "register-wss": register_wss,
    "invite-early-media": invite_early_media,
    "busy": busy,
    "cancel": cancel,
    "hold": hold,
    "dtmf": dtmf,
}


async def record(name: str, lab: Lab, path: Path, **kw) -> Path:
    """Run flow ``name`` against ``lab`` writing its capture to ``path``."""
    with path.open("wb") as f:
        await asyncio.wait_for(FLOWS[name](lab, PcapWriter(f), **kw), 60)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "captures", help="folder (captures/)")
    ap.add_argument("--only", action="append", choices=sorted(FLOWS), help="record these only")
    ap.add_argument("--run-dir", help="use the lab already running from this run directory")
    args = ap.parse_args(argv)
    from sipclient.lab import Lab as AsteriskLab
    from sipclient.lab.testing import claim_test_lab

    claim = None
    if args.run_dir:
        lab = AsteriskLab.from_run_dir(args.run_dir)
    else:
        cfg, claim = claim_test_lab("golden", extra_offset=300)
        lab = AsteriskLab(cfg).up()
    return record_all(record, args.only or FLOWS, lab, args.out, stop=not args.run_dir,
                      claim=claim)


def record_all(record: Callable[[str, Lab, Path], Awaitable[Path]], names: Iterable[str],
               lab, out: Path, *, stop: bool, claim=None) -> int:
    """Record each of ``names`` into ``out/<name>.pcap`` on the running ``lab``; then stop
    the lab (when ``stop``) and release its ports' ``claim``, whatever happened."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = asyncio.run(record(name, Lab.of(lab), out / f"{name}.pcap"))
            print(f"{path}: {path.stat().st_size} bytes")
    finally:
        if stop:
            lab.down()
        if claim is not None:
            claim.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
