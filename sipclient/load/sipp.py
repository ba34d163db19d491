"""SIPp as the peer of load runs (benchmarks, tests, docs/load.md): a UAS on a free port, and
the ``sipp -sn uac`` comparison run.

    with SippUas() as uas:                         # sipp -sn uas on 127.0.0.1:<free port>
        ... sipclient load call udp:127.0.0.1:{uas.port} 600 ...
    with SippUas(scenario="uas_delay.xml") as uas: # any UAS scenario file

:func:`sipp_uac` runs ``sipp -sn uac`` to the end and returns its calls and calls/s (parsed
from its final statistics screen). A missing ``sipp`` binary raises :class:`FileNotFoundError`
with the way to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sipclient.lab.follow import pidfd_of, wait_for_text
from sipclient.lab.probe import free_udp_port, port_in_use

__all__ = ["SippUas", "SippResult", "sipp_binary", "sipp_uac"]


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise FileNotFoundError("sipp is not installed (make lab-deps installs it)")
    return path


class SippUas:
    """``sipp -sn uas`` (or ``-sf scenario``) on ``host``:<free port>, stopped on exit.

    Started is an event, not a poll: sipp opens its sockets before its traffic loop, whose
    first act is to write its statistics file's header (``-trace_stat``); ``__enter__`` waits
    for that line (inotify, :mod:`sipclient.lab.follow`) or sipp's exit (a pidfd)."""

    def __init__(self, host: str = "127.0.0.1", *, scenario: str | Path | None = None,
                 extra: tuple[str, ...] = (), transport: str = "udp") -> None:
        self.host = host
        self.transport = transport  # "udp", or "tcp": sipp -t t1 (one TCP socket)
        self.port = free_udp_port(host, also=(2,))
        self.scenario = scenario
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    @property
    def target(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"

    def __enter__(self) -> "SippUas":
        cmd = [sipp_binary(), *(("-sf", str(self.scenario)) if self.scenario else ("-sn", "uas")),
               "-i", self.host, "-p", str(self.port), "-mp", str(self.port + 2), "-nostdin",
               "-max_recv_loops", "10000", "-buff_size", "4194304",
               *(("-t", "t1") if self.transport == "tcp" else ()), *self.extra]
        self._dir = tempfile.mkdtemp(prefix="sipclient-sipp-uas-")
        stat = Path(self._dir) / "stat.csv"
        # its first statistics line at once (the header), then one an hour
        cmd += ["-trace_stat", "-stf", str(stat), "-fd", "3600"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        exited = pidfd_of(self.proc.pid)
        try:
            how = wait_for_text(stat, b"StartTime", time.monotonic() + 10,
                                exits=[exited] if exited is not None else [])
        finally:
            if exited is not None:
                os.close(exited)
        if how != "found" or not port_in_use(self.host, self.port,
                                             _TCP if self.transport == "tcp" else _UDP):
            if self.proc.poll() is None:
                self.proc.terminate()
            self.proc.wait(5)
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            self.__exit__()
            why = {"timeout": " within 10 s"}.get(how, "")
            raise RuntimeError(f"sipp UAS did not start on {self.target}{why}: {err[-400:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


_UDP = 2  # socket.SOCK_DGRAM, without importing socket for one constant
_TCP = 1  # socket.SOCK_STREAM


@dataclass(frozen=True)
class SippResult:
    successful: int
    failed: int
    elapsed_s: float
    calls_per_second: float
    #: sipp's own clock: its statistics' Start Time to Current Time (its process start-up
    #: and exit left out, as our ``calls_per_second`` leaves ours out); 0 when not printed
    own_elapsed_s: float = 0.0

    @property
    def own_calls_per_second(self) -> float:
        """Successful calls over sipp's own elapsed time (its wall time when not printed)."""
        elapsed = self.own_elapsed_s or self.elapsed_s
        return self.successful / elapsed if elapsed > 0 else 0.0


def sipp_uac(target_host: str, target_port: int, *, calls: int, concurrency: int,
             rate: float = 100000.0, local: str = "127.0.0.1", timeout: float = 120.0,
             scenario: str | Path | None = None, inf: str | Path | None = None) -> SippResult:
    """``sipp -sn uac`` (or ``-sf scenario``, with ``-inf`` an injection file) with
    ``-m calls -l concurrency -r rate``; calls/s = successful calls over its wall time."""
    how = ["-sf", str(scenario)] if scenario else ["-sn", "uac"]
    if inf:
        how += ["-inf", str(inf)]
    cmd = [sipp_binary(), *how, f"{target_host}:{target_port}", "-i", local,
           "-p", str(free_udp_port(local)), "-mp", str(free_udp_port(local, also=(2,))), "-r", str(int(rate)), "-m", str(calls), "-l", str(concurrency),
           "-nostdin", "-buff_size", "4194304", "-max_recv_loops", "10000"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    text = out.stdout.decode(errors="replace")
    ok = _last_count(text, "Successful call")
    failed = _last_count(text, "Failed call")
    return SippResult(ok, failed, elapsed, ok / elapsed if elapsed > 0 else 0.0,
                      _own_elapsed(text))


def _own_elapsed(text: str) -> float:
    """Current Time minus Start Time of sipp's last statistics screen (epoch seconds)."""
    start = re.findall(r"Start Time\s*\|\s*\S+\s+\S+\s+(\d+\.\d+)", text)
    now = re.findall(r"Current Time\s*\|\s*\S+\s+\S+\s+(\d+\.\d+)", text)
    if not start or not now:
        return 0.0
    return max(0.0, float(now[-1]) - float(start[-1]))


def _last_count(text: str, label: str) -> int:
    found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return int(found[-1]) if found else 0
