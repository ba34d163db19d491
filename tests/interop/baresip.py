"""baresip 1.0 (Debian ``baresip``) as a headless peer for the interop tests.

    with Baresip(workdir, play=tone_wav, account="<sip:baresip@127.0.0.1>;regint=0") as b:
        b.dial("sip:1002@127.0.0.1:5070")        # or: it auto-answers (answermode=auto)
        b.wait_event("CALL_ESTABLISHED")
        b.hangup()
        b.recording("dec")                         # what it received, as a WAV path

It runs from ``workdir`` (``config``, ``accounts``, ``contacts`` written there): SIP on a free
loopback port (UDP and TCP), G.711 only, audio from ``aufile`` (a WAV file: what it sends),
no sound card (``aubridge`` as player), every call's audio dumped by ``sndfile`` to
``workdir/rec`` (``dump-<peer>-dec.wav`` received and decoded, ``-enc.wav`` sent), and
controlled over ``ctrl_tcp`` (netstring JSON commands; its events are collected).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sipclient.lab.probe import free_udp_port, port_in_use, tcp_accepts

from .tools import require_binary

MODULES = "/usr/lib/baresip/modules"


def baresip_binary() -> str:
    return require_binary("baresip", "run `make lab-deps` (Debian package baresip)")


def version() -> str:
    out = subprocess.run([baresip_binary(), "-h"], capture_output=True, text=True).stdout
    out += subprocess.run([baresip_binary(), "-h"], capture_output=True, text=True).stderr
    first = out.splitlines()[0] if out else "baresip"
    return first.split(" Copyright")[0]


def _free_both(host: str = "127.0.0.1") -> int:
    for _ in range(50):
        port = free_udp_port(host)
        if not port_in_use(host, port, socket.SOCK_STREAM):
            return port
    raise RuntimeError(f"no port free on both UDP and TCP on {host}")


class Baresip:
    def __init__(self, workdir: Path, *, play: Path, account: str, codecs: str = "PCMU,PCMA"
                 ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.play = play
        self.account = account
        self.codecs = codecs
        self._pick_ports()
        self.events: list[dict] = []
        self.responses: list[dict] = []
        self._cond = threading.Condition()
        self.proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self.log_path = self.workdir / "baresip.log"

    # ------------------------------------------------------------------ lifecycle

    def _pick_ports(self) -> None:
        """SIP on a port free on UDP and TCP (baresip listens on both), the control
        listener on a free TCP port, RTP in a range of its own."""
        self.port = _free_both()
        self.ctrl_port = _free_both()
        rtp = free_udp_port(low=30000, high=50000)
        self.rtp_ports = (rtp, rtp + 40)

    def _write_config(self) -> None:
        rec = self.workdir / "rec"
        rec.mkdir(exist_ok=True)
        (self.workdir / "config").write_text("\n".join([
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.port}",
            f"audio_source aufile,{self.play}",
            "audio_player aubridge,nowhere",
            "audio_alert aubridge,nowhere",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "rtcp_mux no",
            f"module_path {MODULES}",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {rec}",
            "",
        ]))
        codecs = ",".join(f"{c}/8000/1" for c in self.codecs.split(","))
        (self.workdir / "accounts").write_text(f"{self.account};audio_codecs={codecs}\n")
        (self.workdir / "contacts").write_text("")

    def start(self) -> "Baresip":
        # a port checked free may be taken (by another program's ephemeral port) before
        # baresip binds it: then new ports, at most three times
        for attempt in range(3):
            if self._start_once(last=attempt == 2):
                return self
            self._pick_ports()
        return self

    def _start_once(self, *, last: bool) -> bool:
        self._write_config()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([baresip_binary(), "-f", str(self.workdir), "-s"],
                                     cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while not tcp_accepts("127.0.0.1", self.ctrl_port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                if not last and "Address already in use" in self.log_tail():
                    if self.proc.poll() is None:
                        self.proc.kill()
                    self.proc.wait(5)
                    return False
                pytest.fail(f"baresip did not start:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.05)
        self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.command("quit")
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "Baresip":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def uri(self) -> str:
        return f"sip:baresip@127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ ctrl_tcp

    def _read(self) -> None:
        buf = b""
        sock = self._sock
        while sock is not None:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b":" in buf:
                head, _, rest = buf.partition(b":")
                if not head.isdigit():
                    buf = b""
                    break
                size = int(head)
                if len(rest) < size + 1:
                    break
                body, buf = rest[:size], rest[size + 1:]
                try:
                    obj = json.loads(body)
                except ValueError:
                    continue
                with self._cond:
                    (self.events if obj.get("event") else self.responses).append(obj)
                    self._cond.notify_all()

    def command(self, command: str, params: str = "") -> None:
        assert self._sock is not None
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def wait_event(self, kind: str, timeout: float = 10.0, since: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if ev.get("type") == kind:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"baresip: no {kind} within {timeout} s; events "
                                         f"{[e.get('type') for e in self.events]}\n"
                                         f"{self.log_tail()}")
                self._cond.wait(left)

    def event_types(self) -> list[str]:
        with self._cond:
            return [str(e.get("type")) for e in self.events]

    def dial(self, uri: str) -> None:
        self.command("dial", uri)

    def hangup(self) -> None:
        self.command("hangup")

    def send_dtmf(self, digits: str) -> None:
        for d in digits:
            self.command("sndcode", d)
            time.sleep(0.25)

    # ------------------------------------------------------------------ what it heard

    def recording(self, kind: str = "dec") -> Path:
        files = sorted((self.workdir / "rec").glob(f"dump-*-{kind}.wav"),
                       key=lambda p: p.stat().st_mtime)
        if not files:
            raise AssertionError(f"baresip wrote no {kind} recording\n{self.log_tail()}")
        return files[-1]
