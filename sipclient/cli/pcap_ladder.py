"""``sipclient pcap ladder FILE [--call-id ID] [--html OUT] [--width N]``: a capture's SIP as a
ladder (sequence) diagram, like sngrep's call flow.

On the terminal: one column per participant, an arrow per message with its start line and
time offset, retransmissions marked, RTP streams as ``=`` bands with codec, packets, loss,
jitter and MOS. ``--html OUT`` writes one self-contained page instead (``-`` for standard
output) where clicking an arrow shows the whole message. ``--name 10.0.0.1=pbx`` names a
participant (``IP`` or ``IP:PORT``; repeatable).

Exit status: 0 ok; 2 unreadable file, unknown Call-ID, bad option or unwritable OUT;
65 (EX_DATAERR) not a capture, or cut short (the ladder of what could be read is still drawn).
"""

from __future__ import annotations

import argparse
import os
import shutil

from sipclient.cli import EXIT_DATAERR, EXIT_OK, EXIT_USAGE, Env
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import (PcapExit, add_file_argument, note_truncated,
                                        one_line_errors, read_or_exit, require_call_id,
                                        write_or_exit)

PROG = "sipclient pcap ladder"


def register_pcap(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "pcap ladder", run_ladder)
    add_file_argument(p)
    p.add_argument("--call-id", metavar="ID", help="only this dialog (and the media its SDP set up)")
    p.add_argument("--html", metavar="OUT", help="write an HTML page to OUT ('-': standard output)")
    p.add_argument("--width", metavar="N", type=int, default=None,
                   help="terminal ladder width in columns (default: the terminal's, else 100)")
    p.add_argument("--name", metavar="ADDR=NAME", action="append", default=[],
                   help="name a participant: IP or IP:PORT, e.g. 10.0.0.1=pbx (repeatable)")
    p.add_argument("--heuristic-rtp", action="store_true",
                   help="also find RTP without SDP (like tshark's rtp_udp heuristic)")


def _names(items: list[str]) -> dict[str, str]:
    names = {}
    for item in items:
        addr, sep, name = item.partition("=")
        if not sep or not addr.strip() or not name.strip():
            raise ValueError(f"--name {item!r}: expected ADDR=NAME, e.g. 10.0.0.1=pbx")
        names[addr.strip()] = name.strip()
    return names


@one_line_errors(PROG)
def run_ladder(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.ladder import from_capture, render_text
    from sipclient.pcap.ladder_html import render_html

    try:
        names = _names(args.name)
    except ValueError as exc:
        raise PcapExit(str(exc), EXIT_USAGE) from None
    if args.width is not None and args.width < 20:
        raise PcapExit(f"--width {args.width}: at least 20 columns", EXIT_USAGE)
    capture = read_or_exit(args.file, heuristic_rtp=args.heuristic_rtp)
    require_call_id(args.file, capture, args.call_id)
    messages = from_capture(capture, call_id=args.call_id)
    streams = list(capture.rtp_streams)
    if args.call_id is not None:
        streams = [s for s in streams if s.call_id == args.call_id]
    if args.html is not None:
        title = os.path.basename(args.file) + (f" \u2014 Call-ID {args.call_id}"
                                               if args.call_id else "")
        page = render_html(messages, streams, title=title, names=names)
        if args.html == "-":
            env.stdout.write(page)
        else:
            write_or_exit(args.html, page)
            print(f"wrote {args.html}: {len(messages)} SIP messages, {len(streams)} RTP "
                  f"streams", file=env.stdout)
    else:
        width = args.width
        if width is None:
            isatty = getattr(env.stdout, "isatty", None)
            width = shutil.get_terminal_size((100, 24)).columns if isatty and isatty() else 100
        env.stdout.write(render_text(messages, names=names, width=width, streams=streams))
    return EXIT_DATAERR if note_truncated(PROG, capture, env) else EXIT_OK
