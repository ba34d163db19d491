"""Helpers for the HTTP integration tests (most are ``async def`` tests run by pytest-asyncio;
:func:`run` is for a sync test that drives a CLI command in a thread and sends it one request)."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Coroutine, TypeVar

from sipclient.agent import AgentConfig, Secret
from sipclient.http.dialects.pbx_api import Credentials

T = TypeVar("T")

LOGIN = "root"
SENHA = "s3nha-de-teste"
TOKEN = "tok-4f9a1c"
PUSH_TOKEN = "push-LKAGSDK654687s6df5"
API_KEY = "minicrm-voip-key-77"
SECRETS = (SENHA, TOKEN, PUSH_TOKEN, API_KEY)


def run(coro: Coroutine[Any, Any, T], timeout: float = 90.0) -> T:
    """Run ``coro`` in a fresh event loop, failing after ``timeout`` seconds."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def credentials(source: str = "127.0.0.1") -> Credentials:
    return Credentials(LOGIN, Secret(SENHA), Secret(TOKEN), source)


def agent_config(lab: Any, ext: str, **kw: Any) -> AgentConfig:
    c = lab.config
    kw.setdefault("password", Secret(lab.account(ext).password))
    return AgentConfig(user=ext, server=f"udp:{c.probe_host}:{c.sip_port}",
                       local_address="127.0.0.1", **kw)


def assert_lab_idle(lab: Any, timeout: float = 10.0) -> None:
    """Wait until the lab has no channel left (legs ending on their own, e.g. at 607), then
    assert it: a test must not leave calls up for the next one."""
    deadline = time.monotonic() + timeout
    while lab.channels() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.channels() == []


@asynccontextmanager
async def twin_and_two_agents(lab: Any, caller: str, callee: str
                              ) -> AsyncIterator[tuple[Any, Any, Any, Any]]:
    """A twin, a registered caller playing a 1000 Hz tone, a registered callee, and an HTTP
    client trusting the twin: ``(twin, caller, callee, client)``."""
    from sipclient.agent import Agent
    from sipclient.http.client import HttpClient
    from sipclient.http.twin import Twin, TwinConfig

    async with Twin(lab, TwinConfig(credentials=credentials())) as twin, \
            Agent(agent_config(lab, caller, play="tone:1000")) as a, \
            Agent(agent_config(lab, callee)) as b:
        assert (await a.register()).ok and (await b.register()).ok
        yield twin, a, b, HttpClient(ca_file=str(twin.ca_file))
