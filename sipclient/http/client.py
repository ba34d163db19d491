"""An HTTP(S) client for the dialects: ``http.client`` in a worker thread.

TLS certificates are verified unless ``insecure=True`` (a lab) or checked against
``ca_file`` (the twin's certificate). ``source_address`` picks the local address (seed 001
accepts one source address per token). Secrets travel in bodies and headers only: error
messages name the URL and the status, never a body that was sent.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

from sipclient.http.errors import HttpError
from sipclient.http.wire import HttpResponse


@dataclass
class HttpClient:
    insecure: bool = False
    ca_file: str | None = None
    timeout: float = 10.0
    source_address: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def request(self, method: str, url: str, body: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> HttpResponse:
        return await asyncio.to_thread(self.request_sync, method, url, body, headers)

    async def post_json(self, url: str, obj: Any, headers: Mapping[str, str] | None = None,
                        method: str = "POST") -> HttpResponse:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return await self.request(method, url, json.dumps(obj).encode(), hdrs)

    async def post_form(self, url: str, form: Mapping[str, str],
                        headers: Mapping[str, str] | None = None) -> HttpResponse:
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return await self.request("POST", url, urlencode(form).encode(), hdrs)

    def request_sync(self, method: str, url: str, body: bytes | None = None,
                     headers: Mapping[str, str] | None = None) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {url!r}")
        source = (self.source_address, 0) if self.source_address else None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, port, timeout=self.timeout,
                                               source_address=source,
                                               context=self.ssl_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=self.timeout,
                                              source_address=source)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            conn.request(method, target, body=body, headers=dict(headers or {}))
            raw = conn.getresponse()
            data = raw.read()
            resp_headers = {k.lower(): v for k, v in raw.getheaders()}
            return HttpResponse(raw.status, data, resp_headers)
        except ssl.SSLCertVerificationError as exc:
            raise HttpError(f"{method} {_safe(url)}: certificate not trusted "
                            f"({exc.verify_message}); use the twin's CA file or insecure") from None
        except (OSError, http.client.HTTPException) as exc:
            raise HttpError(f"{method} {_safe(url)}: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()


def _safe(url: str) -> str:
    """The URL without user:password@ (MiniCRM's recording URLs carry them)."""
    parts = urlsplit(url)
    if parts.password or parts.username:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()
    return url
