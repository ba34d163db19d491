"""One worker process of ``sipclient load --processes N`` (see :mod:`sipclient.load.runner`).

Reads its :class:`~sipclient.load.spec.LoadSpec` as one JSON line on stdin, opens its
engine, prints ``{"ready": true}`` and waits for the parent's ``go`` line (sent when every
worker is ready, so that all start together), runs the engine, prints ``{"live": ...}``
once a second and ``{"final": snapshot}`` (or ``{"error": ...}``) at the end. SIGINT and SIGTERM stop it gracefully (no new instance, hang up, unregister).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from sipclient.load.runner import run_here
from sipclient.load.spec import LoadSpec


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _main() -> int:
    spec = LoadSpec.from_json(json.loads(sys.stdin.readline()))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    async def ready() -> None:
        """Tell the parent the engine is open, wait for its "go" (EOF or the stop: no
        instance starts)."""
        _emit({"ready": True})
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            line = asyncio.ensure_future(reader.readline())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait((line, stop), return_when=asyncio.FIRST_COMPLETED)
            if line.done() and not line.cancelled() and line.result() != b"go\n":
                stopping.set()  # EOF: the parent is gone (or gave up): start nothing
            line.cancel()
            stop.cancel()
        finally:
            transport.close()

    try:
        snapshot = await run_here(spec, stopping, lambda live: _emit({"live": live}), ready)
    except (ValueError, OSError, LookupError) as exc:
        _emit({"error": str(exc)})
        return 1
    _emit({"final": snapshot})
    return 0


if __name__ == "__main__":
    from sipclient.io.loop import run as run_loop

    sys.exit(run_loop(_main()))  # uvloop when installed (SIPCLIENT_LOOP=asyncio: not)
