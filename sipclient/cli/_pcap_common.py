"""What the ``sipclient pcap ...`` subcommands share: the FILE argument, reading a capture,
and their one-line errors with the documented exit codes.

A subcommand raises :class:`PcapExit` (or lets :func:`need_files`, :func:`read_or_exit` and
:func:`write_or_exit` raise it); :func:`one_line_errors` prints it as ``PROG: message`` on
stderr and returns its exit code: 2 (``EXIT_USAGE``) for a missing, unreadable or
unwritable file, 65 (``EXIT_DATAERR``) for a file that is not a capture.
"""

from __future__ import annotations

import errno

import argparse
import functools
from pathlib import Path
from typing import Any, Callable

from sipclient.cli import EXIT_DATAERR, EXIT_FAILURE, EXIT_USAGE, Env

Handler = Callable[[argparse.Namespace, Env], int]


class PcapExit(Exception):
    """A one-line error for stderr, and the exit code the command returns after it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def one_line_errors(prog: str) -> Callable[[Handler], Handler]:
    """Decorate a subcommand handler: a :class:`PcapExit` becomes ``PROG: message``, its code."""

    def decorate(run: Handler) -> Handler:
        @functools.wraps(run)
        def wrapper(args: argparse.Namespace, env: Env) -> int:
            try:
                return run(args, env)
            except PcapExit as exc:
                print(f"{prog}: {exc}", file=env.stderr)
                return exc.code

        return wrapper

    return decorate


def add_file_argument(p: argparse.ArgumentParser) -> None:
    """The positional FILE every capture-reading subcommand takes."""
    p.add_argument("file", metavar="FILE", help="a pcap or pcapng file")


def need_files(*paths: str) -> None:
    """Exit 2 unless each of ``paths`` is a file."""
    for path in paths:
        if not Path(path).is_file():
            raise PcapExit(f"cannot read {path}: no such file", EXIT_USAGE)


def read_or_exit(path: str, **options: Any) -> Any:
    """``sipclient.pcap.read.read_capture(path, **options)``; exit 2 when the file cannot be
    read, 65 when it is not a capture."""
    from sipclient.pcap.read import CaptureError, read_capture

    try:
        return read_capture(path, **options)
    except OSError as exc:
        raise PcapExit(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    except CaptureError as exc:
        raise PcapExit(str(exc), EXIT_DATAERR) from None


def write_or_exit(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8); exit 2 when it cannot be written."""
    from sipclient.io.atomic import OutputError, write_atomic

    try:
        write_atomic(path, text)
    except OutputError as exc:
        raise PcapExit(exc.strerror, EXIT_FAILURE if exc.errno == errno.ENOSPC
                       else EXIT_USAGE) from None


def note_truncated(prog: str, capture: Any, env: Env) -> bool:
    """Say on stderr that ``capture`` was cut short, if it was; whether it was."""
    if capture.truncated is None:
        return False
    print(f"{prog}: {capture.truncated}", file=env.stderr)
    return True


__all__ = ["PcapExit", "add_file_argument", "need_files", "note_truncated", "one_line_errors",
           "read_or_exit", "write_or_exit"]


def require_call_id(path: str, capture: Any, call_id: str | None) -> None:
    """Exit 2 when ``call_id`` is given and no SIP message of ``capture`` has it; the message
    lists the Call-IDs the capture does have."""
    if call_id is None:
        return
    ids = sorted({p.message.call_id for p in capture.sip if p.message.call_id})
    if call_id in ids:
        return
    known = ", ".join(ids[:10]) + (f" (and {len(ids) - 10} more)" if len(ids) > 10 else "")
    raise PcapExit(f"{path}: no SIP message with Call-ID {call_id!r}"
                   + (f"; Call-IDs in this capture: {known}" if ids else "; it has no SIP"),
                   EXIT_USAGE)
