"""An unknown SIP version (RFC 4475 3.1.2.16, ``SIP/7.0``): ``message check`` flags it (exit
65) and the agent answers 505 Version Not Supported instead of taking the call."""

from __future__ import annotations

import asyncio
import io
import socket

import pytest

from sipclient.agent import Agent, AgentConfig
from sipclient.cli import EXIT_DATAERR, Env, main

INVITE = (b"INVITE sip:t.watson@192.0.2.242 SIP/7.0\r\n"
          b"To: <sip:t.watson@example.com>\r\n"
          b"From: <sip:t.watson@example.com>;tag=8392\r\n"
          b"Call-ID: badvers01@192.0.2.1\r\n"
          b"CSeq: 8392 INVITE\r\n"
          b"Max-Forwards: 70\r\n"
          b"Via: SIP/7.0/UDP 127.0.0.1:{port};branch=z9hG4bK-badvers;rport\r\n"
          b"Contact: <sip:t.watson@127.0.0.1:{port}>\r\n"
          b"Content-Length: 0\r\n\r\n")


def test_message_check_flags_an_unknown_version(tmp_path) -> None:
    f = tmp_path / "badvers.sip"
    f.write_bytes(INVITE.replace(b"{port}", b"5060"))
    env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["message", "check", str(f)], env)
    out = env.stdout.getvalue()
    assert code == EXIT_DATAERR, out
    assert "unsupported SIP version 'SIP/7.0'" in out and "505" in out and "offset 32" in out


@pytest.mark.asyncio
async def test_agent_answers_505_to_an_unknown_version() -> None:
    async def main_() -> bytes:
        async with Agent(AgentConfig(user="1002", server="udp:127.0.0.1:9")) as agent:
            agent.auto_answer = 0.0
            host, port = agent.endpoint.transport.local_address
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            mine = sock.getsockname()[1]
            loop = asyncio.get_running_loop()
            try:
                await loop.sock_sendto(sock, INVITE.replace(b"{port}", str(mine).encode()),
                                       (host, port))
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535), 3)
            finally:
                sock.close()
            assert agent.sessions == {}  # no call was created
            return data
    data = await asyncio.wait_for(main_(), 30)
    assert data.startswith(b"SIP/2.0 505 "), data[:200]
