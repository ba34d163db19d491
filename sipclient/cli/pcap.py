"""``sipclient pcap ...``: read captures (issue 7).

``sipclient pcap summary FILE [--json] [--heuristic-rtp] [--call-id ID]`` reads a pcap or
pcapng file with the live stack's parsers and prints its SIP dialogs (flow, setup and answer
time, duration, disposition, codecs), RTP streams (SSRC, codec, packets, loss, jitter, MOS)
and RFC 4733 DTMF digits; ``--json`` prints one JSON object instead.

Other ``pcap`` subcommands live in their own modules: every module
``sipclient/cli/pcap_*.py`` that defines ``register_pcap(subparsers)`` adds its subcommands
to this group, so they are added without touching this file.

Exit status: 0 ok; 2 the file cannot be read (missing, unreadable) or bad usage; 65
(EX_DATAERR) the file is not a capture or is cut short (what could be read is still
printed; the error is one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from typing import Callable

import sipclient.cli as cli_package
from sipclient.cli import EXIT_DATAERR, EXIT_OK, Env
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import (add_file_argument, note_truncated, one_line_errors,
                                        read_or_exit, require_call_id)

PROG = "sipclient pcap summary"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "pcap")
    sub = p.add_subparsers(dest="pcap_command", metavar="SUBCOMMAND")
    sub.required = True
    s = add_command(sub, "pcap summary", run_summary)
    add_file_argument(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--heuristic-rtp", action="store_true",
                   help="also find RTP without SDP (like tshark's rtp_udp heuristic)")
    s.add_argument("--call-id", metavar="ID", help="only this dialog (and its media)")
    for info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if not info.name.startswith("pcap_"):
            continue
        module = importlib.import_module(f"{cli_package.__name__}.{info.name}")
        hook: Callable | None = getattr(module, "register_pcap", None)
        if hook is not None:
            hook(sub)


@one_line_errors(PROG)
def run_summary(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.summary import summary_dict, summary_text

    capture = read_or_exit(args.file, heuristic_rtp=args.heuristic_rtp)
    require_call_id(args.file, capture, args.call_id)
    if args.json:
        print(json.dumps(summary_dict(capture, call_id=args.call_id), indent=2), file=env.stdout)
    else:
        print(summary_text(capture, call_id=args.call_id), file=env.stdout, end="")
    return EXIT_DATAERR if note_truncated(PROG, capture, env) else EXIT_OK
