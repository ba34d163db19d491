"""``sipclient http receive`` under slowloris (500 connections that never finish their head)
and a Content-Length of 2^31: a huge body is refused (413) without being read, and SIGINT
still ends it at once with exit 130 (issue 18: ignored for over 30 s in 3 runs of 4)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time



def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_slowloris_and_a_huge_body_do_not_stop_sigint():
    port = free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "sipclient", "http", "receive", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    socks = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "http receive did not listen"
                time.sleep(0.2)
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /seed002/push HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            socks.append(s)
        big = socket.create_connection(("127.0.0.1", port), timeout=10)
        big.sendall(b"POST /seed002/push HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648"
                    b"\r\n\r\n" + b"a" * 65536)
        assert big.recv(100).startswith(b"HTTP/1.1 413"), "the body is refused, not read"
        socks.append(big)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert time.monotonic() - started < 10
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
