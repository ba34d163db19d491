"""HTTP/1.1 messages as values, parsed and built without sockets (RFC 9112).

Only what the integration surface needs: one request per connection, Content-Length bodies
(chunked bodies are refused with 501 by the server), JSON and form bodies. ``parse_head`` and
``build_response`` are pure, so the twin's and the receivers' routing is tested without I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sipclient.proto.limits import limit

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
           422: "Unprocessable Entity", 500: "Internal Server Error",
           501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable"}

MAX_HEAD = 16 * 1024
MAX_BODY = 4 * 1024 * 1024


class WireError(ValueError):
    """The peer sent something that is not HTTP/1.1; ``status`` is the answer to give."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    peer: tuple[str, int] = ("", 0)
    tls: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body as JSON; :class:`WireError` (400) naming the position when it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise WireError("body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise WireError(f"body is not JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from None

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (or a JSON object) as a dict."""
        ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/json" or self.body.lstrip().startswith(b"{"):
            data = self.json()
            if not isinstance(data, dict):
                raise WireError("JSON body is not an object")
            return {str(k): "" if v is None else str(v) for k, v in data.items()}
        try:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True,
                                  strict_parsing=False))
        except UnicodeDecodeError:
            raise WireError("form body is not UTF-8") from None


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WireError(f"answer is not JSON ({exc}): {self.body[:200]!r}") from None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def json_response(data: Any, status: int = 200, *, separators: tuple[str, str] | None = None
                  ) -> HttpResponse:
    body = json.dumps(data, ensure_ascii=False, separators=separators).encode()
    return HttpResponse(status, body, {"content-type": "application/json; charset=utf-8"})


def text_response(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(status, text.encode(), {"content-type": "text/plain; charset=utf-8"})


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """Request line and headers (without the blank line) -> (method, target, headers)."""
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
        raise WireError("undecodable head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise WireError(f"bad request line: {lines[0][:80]!r}")
    method, target, _version = parts
    headers: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise WireError(f"bad header line {number}: {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method.upper(), target, headers


def body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise WireError("chunked request bodies are not supported: send Content-Length", 501)
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise WireError(f"bad Content-Length: {raw!r}")
    length = int(raw)
    if length > min(MAX_BODY, limit("http_body_bytes")):
        raise WireError(f"body of {length} bytes is too large", 413)
    return length


def build_response(resp: HttpResponse) -> bytes:
    reason = REASONS.get(resp.status, "Status")
    headers = {"content-length": str(len(resp.body)), "connection": "close",
               "server": "sipclient-http"}
    headers.update({k.lower(): v for k, v in resp.headers.items()})
    head = f"HTTP/1.1 {resp.status} {reason}\r\n" + "".join(
        f"{'-'.join(p.capitalize() for p in k.split('-'))}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + resp.body
