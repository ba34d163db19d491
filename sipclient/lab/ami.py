"""Asterisk CLI commands over AMI (the Manager Interface), for a lab that runs elsewhere.

A local lab is driven through its control socket (``asterisk -rx``); a lab in a container
(a CI service) is reached over TCP: ``Action: Login`` then ``Action: Command``, whose
response carries the CLI output as ``Output:`` lines (Asterisk 14+).
"""

from __future__ import annotations

import socket

from sipclient.lab.errors import LabError


def _read_message(sock: socket.socket, buf: bytearray) -> str:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise LabError("AMI connection closed")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    message = bytes(buf[:end]).decode(errors="replace")
    del buf[: end + 4]
    return message


def ami_command(host: str, port: int, user: str, secret: str, command: str,
                timeout: float = 10.0) -> str:
    """Run one CLI ``command`` through AMI and return its output text."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            buf = bytearray()
            while b"\r\n" not in buf:  # the banner: "Asterisk Call Manager/5.0.x"
                chunk = sock.recv(1024)
                if not chunk:
                    raise LabError("AMI closed before its banner")
                buf += chunk
            del buf[: buf.index(b"\r\n") + 2]
            sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n"
                         f"Events: off\r\nActionID: login\r\n\r\n".encode())
            reply = _read_message(sock, buf)
            if "Response: Success" not in reply:
                raise LabError(f"AMI login refused for user {user}")
            sock.sendall(f"Action: Command\r\nCommand: {command}\r\nActionID: cmd\r\n\r\n"
                         .encode())
            while True:
                reply = _read_message(sock, buf)
                if "ActionID: cmd" in reply:
                    break
            sock.sendall(b"Action: Logoff\r\n\r\n")
    except OSError as exc:
        raise LabError(f"AMI at {host}:{port} unreachable: {exc}") from None
    if "Response: Error" in reply:
        raise LabError(f"AMI command failed: {command}")
    lines = []
    for line in reply.split("\r\n"):
        if line.startswith("Output: "):
            lines.append(line[len("Output: "):])
        elif line == "Output:":
            lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")
