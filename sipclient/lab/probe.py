"""Is the lab answering? Minimal, dependency-free probes of its listening ports.

These speak just enough SIP (an OPTIONS request, RFC 3261 section 11) and HTTP (a WebSocket
upgrade, RFC 6455 section 4.1 with the ``sip`` subprotocol of RFC 7118) to see a real answer
from Asterisk, not merely an open port. Any SIP response counts (Asterisk challenges an
unknown sender with 401).
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import uuid


def _options(host: str, port: int, transport: str, local: tuple[str, int]) -> bytes:
    branch = "z9hG4bK-labprobe-" + uuid.uuid4().hex[:16]
    tag = uuid.uuid4().hex[:10]
    lhost, lport = local
    host, lhost = (f"[{h}]" if ":" in h else h for h in (host, lhost))
    return (
        f"OPTIONS sip:{host}:{port};transport={transport.lower()} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} {lhost}:{lport};branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:lab-probe@{lhost}>;tag={tag}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: labprobe-{uuid.uuid4().hex}\r\n"
        f"CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:lab-probe@{lhost}:{lport};transport={transport.lower()}>\r\n"
        f"Accept: application/sdp\r\n"
        f"User-Agent: sipclient-lab-probe\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def _status_line(data: bytes) -> str | None:
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line if line.startswith(("SIP/2.0 ", "HTTP/1.1 ", "HTTP/1.0 ")) else None


def sip_options_udp(host: str, port: int, timeout: float = 1.0) -> str | None:
    """Send one OPTIONS over UDP; the response's status line, or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
            sock.send(_options(host, port, "UDP", sock.getsockname()[:2]))
            return _status_line(sock.recv(65535))
        except OSError:
            return None


def _read_head(sock: socket.socket, limit: int = 65536) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _connect(host: str, port: int, timeout: float, tls: bool) -> socket.socket:
    raw = socket.create_connection((host, port), timeout=timeout)
    raw.settimeout(timeout)
    if not tls:
        return raw
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        return ctx.wrap_socket(raw, server_hostname=host)
    except Exception:
        raw.close()
        raise


def sip_options_stream(host: str, port: int, *, tls: bool = False,
                       timeout: float = 2.0) -> str | None:
    """OPTIONS over TCP (or TLS); the response's status line, or None."""
    try:
        with _connect(host, port, timeout, tls) as sock:
            sock.sendall(_options(host, port, "TLS" if tls else "TCP", sock.getsockname()[:2]))
            return _status_line(_read_head(sock))
    except (OSError, ssl.SSLError):
        return None


def websocket_upgrade(host: str, port: int, path: str = "/ws", *, tls: bool = True,
                      timeout: float = 2.0) -> str | None:
    """A WebSocket handshake with subprotocol ``sip``; the HTTP status line, or None.

    ``HTTP/1.1 101 Switching Protocols`` means Asterisk's SIP WebSocket transport answers.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    ).encode()
    try:
        with _connect(host, port, timeout, tls) as sock:
            sock.sendall(request)
            status = _status_line(_read_head(sock))
            if status and " 101 " in status:
                # a masked Close frame, status 1000 (RFC 6455 section 5.5.1): a clean goodbye
                mask = os.urandom(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"\x03\xe8"))
                try:
                    sock.sendall(b"\x88\x82" + mask + payload)
                    sock.recv(16)
                except (OSError, ssl.SSLError):
                    pass
            return status
    except (OSError, ssl.SSLError):
        return None


def tcp_accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int, kind: int) -> bool:
    """Would binding ``host:port`` (SOCK_STREAM or SOCK_DGRAM) fail?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def address_is_local(host: str) -> bool:
    """Does this network namespace have ``host`` (can anything be bound to it)?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError:
            return False
    return True


def free_udp_port(host: str = "127.0.0.1", *, also: tuple[int, ...] = (),
                  low: int = 20000, high: int = 60000) -> int:
    """An even UDP port free on ``host`` now, with ``port + d`` free too for each ``d`` in
    ``also`` (sipp's media ports: ``also=(2,)``; an RTP/RTCP pair and the next: ``(1, 2, 3)``).
    For peers such as sipp that must be told a port before they bind it. The port itself is
    free on TCP too: SIP peers listen on both (and outgoing TCP connections take their local
    ports from the same range)."""
    import random

    for _ in range(500):
        port = random.randrange(low, high, 2)
        if not any(port_in_use(host, p, socket.SOCK_DGRAM) for p in (port, *(port + d for d in also))) \
                and not port_in_use(host, port, socket.SOCK_STREAM):
            return port
    raise RuntimeError(f"no free UDP port on {host} in {low}-{high}")
