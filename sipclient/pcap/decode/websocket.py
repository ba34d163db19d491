"""WebSocket frames (RFC 6455 5.2) on a reassembled TCP byte stream.

:class:`WebSocketReader` is fed the bytes of one direction after the HTTP upgrade and
returns the complete messages (text or binary; fragmented messages joined; control frames
dropped), unmasking what a client sent (5.3). :func:`is_upgrade_request` and
:func:`is_upgrade_response` recognize the opening handshake (4.1, 4.2.2).
"""

from __future__ import annotations

from sipclient.pcap.decode.errors import DecodeError

_MAX_MESSAGE = 1 << 24


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte masking key (5.3), as one big-integer operation."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def is_upgrade_request(data: bytes) -> bool:
    head = data[:4096].lower()
    return head.startswith(b"get ") and b"upgrade: websocket" in head.replace(b"upgrade:websocket",
                                                                             b"upgrade: websocket")


def is_upgrade_response(data: bytes) -> bool:
    return data[:12].lower().startswith(b"http/1.1 101") or data[:12].startswith(b"HTTP/1.0 101")


class WebSocketReader:
    """Frames of one direction -> whole messages (``bytes``)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self.control_frames = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        buf = self._buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise DecodeError("WebSocket frame with reserved bits set (no extension "
                                  "was negotiated in a SIP capture)")
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if len(buf) < 4:
                    break
                length = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length = int.from_bytes(buf[2:10], "big")
                pos = 10
            if length > _MAX_MESSAGE:
                raise DecodeError(f"WebSocket frame of {length} bytes")
            key = None
            if b1 & 0x80:
                if len(buf) < pos + 4:
                    break
                key = bytes(buf[pos:pos + 4])
                pos += 4
            if len(buf) < pos + length:
                break
            payload = bytes(buf[pos:pos + length])
            del buf[:pos + length]
            if key is not None:
                payload = unmask(payload, key)
            if opcode >= 8:                   # close, ping, pong
                self.control_frames += 1
                continue
            if opcode not in (0, 1, 2):
                raise DecodeError(f"WebSocket frame with reserved opcode {opcode}")
            self._parts.append(payload)
            if b0 & 0x80:                     # FIN
                out.append(b"".join(self._parts))
                self._parts = []
        return out
