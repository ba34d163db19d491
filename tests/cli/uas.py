"""In-process servers for the softclient CLI tests.

The CLI runs its own ``asyncio.run`` in the calling thread, so the UAS it talks to lives on
an event loop in a background thread: :class:`PbxThread` hosts the agent tests' fake PBX
(``tests/agent/fake_pbx.py``: SipCore + DigestServer on loopback; REGISTER/INVITE/BYE
challenged; 600 answers, 603 busy, 604 rings until CANCEL, 607 hangs up itself)::

    with PbxThread({"1001": "pw"}) as pbx:
        main(["register", "--server", pbx.server, "--user", "1001", ...], env)
        pbx.pbx.bindings            # what the fake PBX saw
        pbx.run(some_coroutine())   # run anything on the PBX loop

:func:`black_hole` is a UDP socket that never answers (for timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any, Coroutine, Iterator

from tests.agent.fake_pbx import FakePbx

__all__ = ["PbxThread", "black_hole"]


class PbxThread:
    def __init__(self, users: dict[str, str], **options: Any) -> None:
        self.users, self.options = users, options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.pbx: FakePbx | None = None

    @property
    def server(self) -> str:
        assert self.pbx is not None
        return self.pbx.server

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Start ``coro`` on the PBX loop; returns a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def __enter__(self) -> PbxThread:
        self.thread.start()

        async def start() -> FakePbx:
            return await FakePbx(self.users, **self.options).__aenter__()

        self.pbx = self.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.pbx is not None:
                self.run(self.pbx.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@contextlib.contextmanager
def black_hole(host: str = "127.0.0.1") -> Iterator[str]:
    """A bound UDP socket that reads nothing and answers nothing: ``udp:host:port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    try:
        yield f"udp:{host}:{sock.getsockname()[1]}"
    finally:
        sock.close()
