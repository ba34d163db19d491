"""A HEP collector for tests: a UDP (or TCP) listener on loopback in a thread that keeps
every datagram, writes them as a pcap, and asks tshark to decode them as HEP3 (through
scripts/wireshark/hep3.lua: Debian 12's tshark 4.0 has no HEP dissector)."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from sipclient.pcap.writer import PcapWriter

REPO = Path(__file__).resolve().parents[2]
LUA = REPO / "scripts" / "wireshark" / "hep3.lua"
FIELDS = ("hep.src_ip", "hep.src_port", "hep.dst_ip", "hep.dst_port", "hep.ts_sec",
          "hep.ts_usec", "hep.proto_type", "hep.capture_id", "hep.auth_key",
          "hep.correlation_id", "sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq")


class Collector:
    """``with Collector() as c: ...`` then ``c.datagrams``; ``c.port`` to send to."""

    def __init__(self, transport: str = "udp") -> None:
        self.transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[tuple[float, tuple[str, int], bytes]] = []
        self.stream = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Collector:
        if self.transport == "tcp":
            self.sock.listen(1)
        self.sock.settimeout(0.1)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _run(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if self.transport == "udp":
                    data, addr = self.sock.recvfrom(65535)
                    self.datagrams.append((time.time(), addr, data))
                elif conn is None:
                    conn, _ = self.sock.accept()
                    conn.settimeout(0.1)
                else:
                    data = conn.recv(65535)
                    if not data:
                        conn.close()
                        conn = None
                    self.stream += data
            except (socket.timeout, TimeoutError):
                continue
        if conn is not None:
            conn.close()

    def packets(self) -> list[bytes]:
        """The HEP3 packets received (a TCP stream cut by the HEP3 length field)."""
        if self.transport == "udp":
            return [d for _, _, d in self.datagrams]
        out, data = [], self.stream
        while len(data) >= 6:
            total = struct.unpack_from("!H", data, 4)[0]
            out.append(data[:total])
            data = data[total:]
        return out

    def write_pcap(self, path: Path) -> Path:
        with open(path, "wb") as fh:
            writer = PcapWriter(fh)
            for when, addr, data in self.datagrams:
                writer.write(when, "udp", addr, ("127.0.0.1", self.port), data)
        return path

    def tshark(self, path: Path) -> list[dict[str, str]]:
        """tshark's reading of the collected datagrams as HEP3: one dict per HEP packet."""
        self.write_pcap(path)
        cmd = ["tshark", "-n", "-X", f"lua_script:{LUA}", "-d", f"udp.port=={self.port},hep",
               "-r", str(path), "-Y", "hep", "-T", "fields", "-E", "occurrence=f"]
        for name in FIELDS:
            cmd += ["-e", name]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines() if line]
