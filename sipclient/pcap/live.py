"""A real capture on a network interface, beside the run's own capture (issue 7, part 1).

The own-traffic capture (:mod:`sipclient.pcap.writer`) needs no privileges and shows what the
application saw; this one shows what the interface carried (NAT rewrites, other hosts'
packets, TLS as ciphertext), taken by Wireshark's ``dumpcap`` while the run lasts. It needs
root, or a ``dumpcap`` allowed to capture (``CAP_NET_RAW``/``CAP_NET_ADMIN``, the Debian
``wireshark`` group): whatever dumpcap says when it cannot capture is raised as
:class:`LiveCaptureError`, one line.

``dumpcap`` is stopped with SIGINT by :meth:`InterfaceCapture.stop` (it then closes a
complete pcapng file), and it gets SIGTERM from the kernel if this process dies first
(``PR_SET_PDEATHSIG``), so no capture outlives its run.
"""

from __future__ import annotations

import ctypes
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["InterfaceCapture", "LiveCaptureError", "beside", "start_beside"]

_PR_SET_PDEATHSIG = 1


class LiveCaptureError(Exception):
    """The interface capture could not start (no dumpcap, no permission, no interface...)."""


def beside(pcap: str | os.PathLike[str]) -> Path:
    """Where the interface capture of ``run.pcap`` goes: ``run.iface.pcapng``."""
    p = Path(pcap)
    return p.with_name((p.stem if p.suffix else p.name) + ".iface.pcapng")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class InterfaceCapture:
    """``dumpcap -i INTERFACE -w PATH [-f FILTER]`` for the time between :meth:`start` and
    :meth:`stop`. ``packets`` is dumpcap's count once stopped."""

    def __init__(self, interface: str, path: str | os.PathLike[str],
                 capture_filter: str | None = None, dumpcap: str | None = None) -> None:
        self.interface = interface
        self.path = Path(path)
        self.capture_filter = capture_filter
        self.dumpcap = dumpcap or shutil.which("dumpcap") or "/usr/bin/dumpcap"
        self.packets: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr = b""

    def start(self, timeout: float = 10.0) -> None:
        """Start dumpcap and return once it captures (LiveCaptureError if it cannot)."""
        if not os.access(self.dumpcap, os.X_OK):
            raise LiveCaptureError(f"--capture-interface needs Wireshark's dumpcap "
                                   f"({self.dumpcap} not found: apt-get install tshark)")
        args = [self.dumpcap, "-i", self.interface, "-w", str(self.path), "-q"]
        if self.capture_filter:
            args += ["-f", self.capture_filter]
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          preexec_fn=_die_with_parent,
                                          # its own session: a Ctrl-C typed at the terminal
                                          # reaches sipclient only, which stops the capture
                                          # after its cleanup (un-REGISTER included)
                                          start_new_session=True)
        except OSError as exc:
            raise LiveCaptureError(f"cannot run {self.dumpcap}: {exc.strerror or exc}") from None
        assert self._proc.stderr is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stderr, selectors.EVENT_READ)
            # "Capturing on" comes before the interface is opened; "File:" once it is open
            # and the output file created: from then on nothing is missed
            while b"File: " not in self._stderr:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._kill()
                    raise LiveCaptureError(f"dumpcap did not start capturing on "
                                           f"{self.interface} within {timeout:g} s")
                if not sel.select(left):
                    continue
                chunk = os.read(self._proc.stderr.fileno(), 4096)
                if not chunk:  # dumpcap exited: it says why
                    self._proc.wait()
                    raise LiveCaptureError(self._why())
                self._stderr += chunk

    def stop(self, timeout: float = 10.0, grace: float = 0.5) -> int | None:
        """Stop dumpcap (SIGINT: it closes the file properly); the packets it captured.

        libpcap hands packets to dumpcap in blocks, at the latest every 250 ms, and dumpcap
        drops a block still in the kernel when told to stop: ``grace`` seconds are left to
        it first, so the run's last packets are in the file."""
        proc, self._proc = self._proc, None
        if proc is None:
            return self.packets
        if proc.poll() is None:
            time.sleep(grace)
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        self._stderr += err or b""
        m = re.search(rb"Packets captured: (\d+)", self._stderr)
        self.packets = int(m.group(1)) if m else None
        return self.packets

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _why(self) -> str:
        lines = [line.strip() for line in self._stderr.decode("utf-8", "replace").splitlines()
                 if line.strip() and not line.startswith("Running as user")]
        text = " ".join(lines[:2]) or f"dumpcap exited with status {self._proc.returncode}"
        return f"cannot capture on {self.interface}: {text}"

    def __enter__(self) -> "InterfaceCapture":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_beside(interface: str, pcap: str | os.PathLike[str] | None,
                 capture_filter: str | None = None) -> InterfaceCapture:
    """The CLI's ``--capture-interface IFACE`` next to ``--pcap FILE``: started, into
    :func:`beside` ``FILE``."""
    if pcap is None:
        raise LiveCaptureError(f"--capture-interface {interface} needs --pcap FILE: the "
                               "interface capture is written beside it (run.pcap -> run.iface.pcapng)")
    capture = InterfaceCapture(interface, beside(pcap), capture_filter)
    capture.start()
    return capture
