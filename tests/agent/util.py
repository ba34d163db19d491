"""Helpers for the agent tests (most are ``async def`` tests run by pytest-asyncio;
:func:`run` is for a sync test that runs one coroutine)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run ``coro`` in a fresh event loop, failing after ``timeout`` seconds."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def invite_agent(pbx: Any, agent: Any, *, call_id: str = "incoming-1@pbx",
                       headers: list[tuple[str, str]] = (), from_tag: str = "caller1"
                       ) -> tuple[Any, Any]:
    """The fake PBX calls ``agent`` (``headers`` first, e.g. Record-Route); returns the
    INVITE as sent and its client handle."""
    from sipclient.proto.message import Request

    contact = agent.contact_uri
    req = Request("INVITE", contact, headers=[
        *headers,
        ("From", f"<sip:1002@{pbx.host}>;tag={from_tag}"), ("To", f"<{contact}>"),
        ("Call-ID", call_id), ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:1002@{pbx.host}:{pbx.port}>"), ("Content-Type", "application/sdp")],
        body=b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
             b"m=audio 4000 RTP/AVP 8 0\r\na=sendrecv\r\n")
    handle = pbx.endpoint.send_request(req, agent.endpoint.transport.local_address)
    return handle.request, handle
