"""Which event loop runs the agents: uvloop when it is installed, asyncio's otherwise.

``pip install 'sipclient[fast]'`` installs uvloop; :func:`run` then uses it unless
``SIPCLIENT_LOOP=asyncio`` asks for the standard loop (the test suite runs on the standard
loop, and on uvloop where a test asks for it). Nothing in sipclient depends on which loop
runs it: the UDP transport and the endpoint use only ``add_reader``/``add_writer``,
``call_at`` and futures.

:func:`run` also tunes the garbage collector for the time it runs, as long-running Python
servers do: what is alive at start (modules, tables) is frozen out of the collections and
the youngest generation is collected every :data:`GC_GEN0` allocations instead of 700 (a
call allocates thousands of short-lived objects; cycles are rare). The previous settings
are restored when it returns. ``run(..., tune_gc=False)`` leaves the collector alone.

:func:`on_signals` routes SIGINT/SIGTERM (or any signals) to a callback on the running loop
for the time a command or a run needs them, and puts the handlers from before back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import os
import signal
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["GC_GEN0", "LOOPS", "loop_factory", "loop_name", "on_signals", "run"]

#: allocations between two collections of the youngest generation while :func:`run` runs
GC_GEN0 = 50_000

T = TypeVar("T")

#: the names ``SIPCLIENT_LOOP`` (and ``run(loop=...)``) accept
LOOPS = ("auto", "asyncio", "uvloop")


def loop_name(choice: str | None = None) -> str:
    """"uvloop" or "asyncio": what :func:`run` uses for ``choice`` (default: the
    ``SIPCLIENT_LOOP`` environment variable, else "auto" = uvloop when installed)."""
    choice = (choice or os.environ.get("SIPCLIENT_LOOP") or "auto").lower()
    if choice not in LOOPS:
        raise ValueError(f"SIPCLIENT_LOOP={choice!r}: expected one of {', '.join(LOOPS)}")
    if choice == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if choice == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ValueError("SIPCLIENT_LOOP=uvloop but uvloop is not installed "
                         "(pip install 'sipclient[fast]')")
    return choice


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    if loop_name(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    # the standard loop itself, whatever the policy (a uvloop policy's new_event_loop
    # would hand back a uvloop one)
    return asyncio.SelectorEventLoop


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None, debug: bool | None = None,
        tune_gc: bool = True) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_name` picks (see the module docstring
    for the garbage collector)."""
    thresholds = gc.get_threshold()
    if tune_gc:
        gc.freeze()
        gc.set_threshold(GC_GEN0, thresholds[1], thresholds[2])
    try:
        with asyncio.Runner(loop_factory=loop_factory(loop), debug=debug) as runner:
            return runner.run(main)
    finally:
        if tune_gc:
            gc.set_threshold(*thresholds)
            gc.unfreeze()


@contextlib.contextmanager
def on_signals(signums: Iterable[int], handler: Callable[[int], None]) -> Iterator[None]:
    """Inside the block, each of ``signums`` calls ``handler(signum)`` on the running loop;
    after it, the handlers from before are back. Where the loop cannot take signals (not
    the main thread, not Unix) none is installed: whoever runs that thread stops it."""
    loop = asyncio.get_running_loop()
    installed: list[tuple[int, Any]] = []
    for signum in signums:
        try:
            previous = signal.getsignal(signum)
            loop.add_signal_handler(signum, handler, signum)
        except (ValueError, RuntimeError, NotImplementedError):
            continue
        installed.append((signum, previous))
    try:
        yield
    finally:
        for signum, previous in installed:
            loop.remove_signal_handler(signum)
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, TypeError):
                pass
