"""The ``sipclient`` command line.

Each module of this package that defines ``register(subparsers)`` adds one command (or a
group of them); the parser is built from whatever modules are present, so commands are
added without touching this file. A command's handler takes ``(args, env)`` and returns the
exit status; ``env`` carries the streams so tests drive the CLI without subprocesses.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence, TextIO

# Documented exit codes (see README "Exit codes").
EXIT_OK = 0
EXIT_FAILURE = 1  # a check failed, a flow did not match, a SIP 4xx/5xx/6xx not listed below
EXIT_USAGE = 2  # bad usage: unknown option, bad target, unreadable file
EXIT_AUTH = 3  # authentication failed (401/403/407 after credentials were sent)
EXIT_TIMEOUT = 4  # no answer in time (transaction timeout, 408)
EXIT_DATAERR = 65  # input data was malformed (sysexits EX_DATAERR)
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), after cleaning up
EXIT_TERMINATED = 143  # SIGTERM, after cleaning up


@dataclass
class Env:
    """What a command may touch besides its arguments: streams and environment."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: dict[str, str] | None = None

    def getenv(self, name: str, default: str | None = None) -> str | None:
        import os

        source = self.environ if self.environ is not None else os.environ
        return source.get(name, default)


class UsageError(Exception):
    """Raised by a command for bad usage; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sipclient",
        description="SIP/WebRTC protocol test harness and softclient.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register: Callable | None = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    parser = build_parser()
    try:
        # argparse prints help and usage errors itself: send them to the injected streams.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        return int(args.func(args, env) or 0)
    except UsageError as exc:
        print(f"sipclient {args.command}: {exc}", file=env.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=env.stderr)
        return EXIT_INTERRUPTED


#: commands that wait for calls for days: they run on the C allocator (sipclient.io.memory)
LONG_RUNNING = ("answer",)


def entry() -> None:  # pragma: no cover - console script wrapper
    if sys.argv[1:2] and sys.argv[1] in LONG_RUNNING:
        from sipclient.io.memory import use_c_allocator

        use_c_allocator()
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `sipclient ... | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
