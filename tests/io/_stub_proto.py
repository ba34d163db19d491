"""TEMPORARY stand-ins for sipclient.proto.message/framer until they land (to be deleted)."""
import re
import sys
import types

from sipclient.proto.errors import ParseError  # noqa
from sipclient.proto.message import parse_message


class KeepAlivePing:
    pass


class KeepAlivePong:
    pass


class StreamFramer:
    def __init__(self, max_message_size=65535):
        self.buf = b""
        self.max = max_message_size

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            if self.buf.startswith(b"\r\n\r\n"):
                self.buf = self.buf[4:]
                out.append(KeepAlivePing())
                continue
            if self.buf == b"\r\n":
                self.buf = b""
                out.append(KeepAlivePong())
                continue
            if self.buf.startswith(b"\r\n") and len(self.buf) > 2 and not self.buf.startswith(b"\r\n\r"):
                self.buf = self.buf[2:]
                out.append(KeepAlivePong())
                continue
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                if len(self.buf) > self.max:
                    raise ParseError("too big")
                return out
            head = self.buf[:i]
            if not re.match(rb"^(SIP/2\.0 |[A-Z]+ \S+ SIP/2\.0)", head):
                raise ParseError("garbage")
            m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", head)
            if not m:
                raise ParseError("no content-length")
            n = i + 4 + int(m.group(2))
            if len(self.buf) < n:
                return out
            out.append(parse_message(self.buf[:n]))
            self.buf = self.buf[n:]


def frame_websocket_message(data):
    if not data.strip():
        return None
    return parse_message(data)


def install():
    fr = types.ModuleType("sipclient.proto.framer")
    for k in ("StreamFramer", "KeepAlivePing", "KeepAlivePong", "frame_websocket_message"):
        setattr(fr, k, globals()[k])
    sys.modules.setdefault("sipclient.proto.framer", fr)
