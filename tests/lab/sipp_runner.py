"""Run sipp (from Debian's sip-tester) against a lab: an independent SIP implementation."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sipclient.lab.probe import free_udp_port

SCENARIOS = Path(__file__).parent / "sipp"


@dataclass
class SippRun:
    returncode: int
    messages: str
    output: str

    def first_lines(self) -> list[str]:
        """Request/status lines in the order sipp sent or received them."""
        return [line.strip() for line in self.messages.splitlines()
                if line.startswith(("SIP/2.0 ", "REGISTER ", "INVITE ", "ACK ", "BYE ",
                                    "CANCEL ", "OPTIONS "))]


def sipp_command(lab, scenario: str, rows: list[str], user: str, password: str,
                 workdir: Path, transport: str = "u1", timeout_s: int = 20) -> tuple[list[str], Path]:
    sipp = shutil.which("sipp") or "/usr/bin/sipp"
    csv = workdir / f"{scenario}.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(r + ";\n" for r in rows))
    messages = workdir / f"{scenario}-messages.log"
    cmd = [
        sipp, f"{lab.config.probe_host}:{lab.config.sip_port}",
        "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(csv),
        "-au", user, "-ap", password,
        "-t", transport, "-m", "1", "-l", "1",
        "-p", str(free_udp_port()), "-mp", str(free_udp_port(also=(1, 2, 3))),
        "-nostdin", "-trace_msg", "-message_file", str(messages),
        "-timeout", f"{timeout_s}s", "-timeout_error", "-max_recv_loops", "1000",
    ]
    if not lab.config.external:  # a local lab: speak from loopback, where it listens
        cmd[cmd.index("-p"):cmd.index("-p")] = ["-i", "127.0.0.1"]
    return cmd, messages


def run_sipp(lab, scenario: str, rows: list[str], user: str, password: str,
             workdir: Path, transport: str = "u1") -> SippRun:
    cmd, messages = sipp_command(lab, scenario, rows, user, password, workdir, transport)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=workdir)
    text = messages.read_text(errors="replace") if messages.exists() else ""
    return SippRun(done.returncode, text, done.stdout + done.stderr)
