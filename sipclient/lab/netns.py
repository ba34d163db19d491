"""Test network namespaces: a private, loopback-free link between the lab and the agents.

WebRTC needs a non-loopback address on both sides: aioice never offers 127.0.0.1 and
Asterisk's pjlib skips loopback interfaces when it gathers ICE candidates. A test must not
use the machine's real interfaces either. :class:`TestNet` builds, with ``ip`` (root
needed), two network namespaces joined by one veth pair::

    <name>-pbx (Asterisk) 10.213.N.2/30 <-- veth --> 10.213.N.1/30 <name>-ue (the agents)

Each namespace sees only its end of the veth and its own (down) loopback, so ICE on either
side can only offer the test address, and nothing can reach the machine's other interfaces
(no default route). The root namespace holds no address of the test link at all, so the
addresses never clash with the host's.

Namespaces are per thread on Linux (``setns(2)``): :meth:`TestNet.run` runs a function (a
lab start, an asyncio loop of agents) in a new thread that first joins a namespace; every
socket and every child process made from that thread lives there. Asterisk's control
socket is a file in the run directory, so ``asterisk -rx`` and ``Lab.down()`` work from
anywhere.

Names are ``sipc<pid>-<tag>``; :func:`cleanup_stale` removes the namespaces (and the
processes left in them) of runs whose process is gone (a killed pytest).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["NetnsError", "TestNet", "cleanup_stale", "available", "enter", "run_in_netns"]

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"
_NAME = re.compile(r"^sipc(\d+)-")


class NetnsError(RuntimeError):
    """A namespace could not be made, joined or removed (the message says which command)."""


def available() -> str | None:
    """None when test namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


def _ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    cmd = ["ip", *(("-n", netns) if netns else ()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _enter(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (setns(2), CLONE_NEWNET)."""
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        if _libc().setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError(f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def enter(name: str) -> None:
    """Move the calling thread into namespace ``name``, for a caller that runs its own thread
    (a long-lived event loop it can cancel: ``sipclient.scenario.netlab``)."""
    _enter(name)


def run_in_netns(name: str, fn: Callable[[], T], *, timeout: float | None = None) -> T:
    """Run ``fn()`` in a new thread inside namespace ``name``; return or raise its outcome."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            _enter(name)
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NetnsError(f"work in namespace {name} still running after {timeout} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")  # type: ignore[return-value]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _kill_members(name: str) -> list[int]:
    """SIGKILL the processes still inside namespace ``name`` (what a dead run left)."""
    try:
        pids = [int(p) for p in _ip("netns", "pids", name, check=False).split()]
    except (ValueError, OSError):
        return []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def cleanup_stale() -> list[str]:
    """Delete ``sipc<pid>-*`` namespaces whose creating process is gone; returns their names."""
    removed = []
    for name in _namespaces():
        m = _NAME.match(name)
        if not m or _alive(int(m.group(1))):
            continue
        _kill_members(name)
        _ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


@dataclass
class TestNet:
    """Two namespaces and the veth between them (see the module docstring).

    ``subnet`` picks N in 10.213.N.0/30 (a private block unlikely to be in use; it exists only
    inside the two namespaces anyway).
    """

    __test__ = False  # not a pytest test class

    tag: str = "net"
    subnet: int | None = None
    #: True: named ``sipcnet-<tag>-*``, kept after this process exits (``down`` removes it)
    persistent: bool = False

    def __post_init__(self) -> None:
        pid = os.getpid()
        if not re.fullmatch(r"[a-z0-9]{1,8}", self.tag):
            raise NetnsError(f"namespace tag {self.tag!r}: 1-8 lower-case letters or digits")
        if self.subnet is None:
            self.subnet = 250 if self.persistent else (pid % 249) + 1
        if not 1 <= self.subnet <= 254:
            raise NetnsError(f"subnet {self.subnet}: 1-254 (10.213.N.0/30)")
        base = f"sipcnet-{self.tag}" if self.persistent else f"sipc{pid}-{self.tag}"
        self.pbx_ns = f"{base}-pbx"
        self.ue_ns = f"{base}-ue"
        self.pbx_ip = f"10.213.{self.subnet}.2"
        self.ue_ip = f"10.213.{self.subnet}.1"
        # interface names: at most 15 characters
        stem = f"sn{self.tag}" if self.persistent else f"sp{pid % 10**7}"
        self._veth_pbx = f"{stem}p"
        self._veth_ue = f"{stem}u"
        self.created = False

    def create(self) -> TestNet:
        """Make both namespaces and the link (removing a leftover of the same name first)."""
        reason = available()
        if reason:
            raise NetnsError(reason)
        cleanup_stale()
        self.destroy()
        try:
            for ns in (self.pbx_ns, self.ue_ns):
                _ip("netns", "add", ns)
            _ip("link", "add", self._veth_pbx, "type", "veth", "peer", "name", self._veth_ue)
            _ip("link", "set", self._veth_pbx, "netns", self.pbx_ns)
            _ip("link", "set", self._veth_ue, "netns", self.ue_ns)
            # netlink's link events of the UE side, heard from before the links go up
            monitor = subprocess.Popen(["ip", "-n", self.ue_ns, "-o", "monitor", "link"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
            for ns, dev, ip in ((self.pbx_ns, self._veth_pbx, self.pbx_ip),
                                (self.ue_ns, self._veth_ue, self.ue_ip)):
                # IPv4 only: no IPv6 link-local candidates, no router solicitations
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                "net.ipv6.conf.all.disable_ipv6=1"], capture_output=True,
                               timeout=20)
                _ip("addr", "add", f"{ip}/30", "dev", dev, netns=ns)
                _ip("link", "set", dev, "up", netns=ns)
                # loopback up: Asterisk's AMI and control paths bind 127.0.0.1
                _ip("link", "set", "lo", "up", netns=ns)
            self.created = True
            try:
                self._wait_link(monitor)
            finally:
                monitor.kill()
                monitor.wait()
                monitor.stdout.close()
        except BaseException:
            self.destroy()
            raise
        return self

    def _wait_link(self, monitor: subprocess.Popen, timeout: float = 5.0) -> None:
        """Wait for the UE side's carrier: up already, or the ``ip monitor link`` event that
        says so (no polling)."""
        out = _ip("-br", "link", "show", self._veth_ue, netns=self.ue_ns, check=False)
        if " UP " in f" {out} ":
            return
        deadline = time.monotonic() + timeout
        pending = b""
        fd = monitor.stdout.fileno()
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([fd], [], [], left)[0]:
                break
            data = os.read(fd, 65536)
            if not data:
                break  # the monitor ended
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if self._veth_ue.encode() in line and b"state UP" in line:
                    return
        out = _ip("-br", "link", "show", self._veth_ue, netns=self.ue_ns, check=False)
        if " UP " in f" {out} ":
            return
        raise NetnsError(f"veth {self._veth_ue} did not come up in {timeout} s")

    def destroy(self) -> None:
        """Kill what is left inside, delete both namespaces (the veth goes with them)."""
        present = set(_namespaces())
        for ns in (self.ue_ns, self.pbx_ns):
            if ns in present:
                _kill_members(ns)
                _ip("netns", "del", ns, check=False)
        self.created = False

    def __enter__(self) -> TestNet:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # --- running code inside -------------------------------------------------------------

    def run(self, fn: Callable[[], T], *, where: str = "ue", timeout: float | None = None) -> T:
        """``fn()`` in a thread inside the ``"ue"`` (agents) or ``"pbx"`` (lab) namespace."""
        return run_in_netns(self.ue_ns if where == "ue" else self.pbx_ns, fn, timeout=timeout)

    def run_async(self, factory: Callable[[], Coroutine[Any, Any, T]], *,
                  where: str = "ue", timeout: float | None = None) -> T:
        """``asyncio.run(factory())`` in a thread inside a namespace (agents' event loop)."""
        return self.run(lambda: asyncio.run(factory()), where=where, timeout=timeout)


def _cli(argv: list[str] | None = None) -> int:
    """``python -m sipclient.lab.netns up|down [--tag lab] [--subnet N]``: a persistent pair
    of namespaces for running the lab and ``sipclient`` by hand (docs/webrtc.md)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m sipclient.lab.netns",
                                description="test network namespaces for WebRTC")
    p.add_argument("action", choices=("up", "down"))
    p.add_argument("--tag", default="lab")
    p.add_argument("--subnet", type=int, default=None, help="N in 10.213.N.0/30 (default 250)")
    args = p.parse_args(argv)
    try:
        net = TestNet(tag=args.tag, subnet=args.subnet, persistent=True)
        if args.action == "down":
            net.destroy()
            print(f"removed {net.pbx_ns} and {net.ue_ns}")
            return 0
        net.create()
    except NetnsError as exc:
        print(f"netns: {exc}")
        return 1
    print(f"lab namespace    {net.pbx_ns}  {net.pbx_ip}\n"
          f"agents namespace {net.ue_ns}  {net.ue_ip}\n"
          f"ip netns exec {net.pbx_ns} env SIPCLIENT_LAB_BIND={net.pbx_ip} "
          f"SIPCLIENT_LAB_RUN_DIR=run/lab-netns sipclient lab up\n"
          f"ip netns exec {net.ue_ns} env SIPCLIENT_LAB_RUN_DIR=run/lab-netns "
          f"sipclient run scenarios/webrtc")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_cli())
