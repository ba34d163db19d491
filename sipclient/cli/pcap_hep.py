"""``sipclient pcap export-hep FILE --hep udp:HOST:PORT [--call-id ID]``: send a capture's
SIP messages to Homer as HEP3, each with its captured addresses, ports and time, in the
capture's order (as fast as the socket takes them; Homer orders by the HEP timestamps).
``--rtcp`` also sends the RTCP reports of the capture's RTP streams (JSON, Call-ID found
through the SDP). The key options are those of ``--hep`` everywhere (docs/cli.md).

Exit status: 0 sent; 2 bad usage, unreadable file, unknown Call-ID or unreachable HEP
target; 65 (EX_DATAERR) not a capture, or cut short (what could be read is still sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from sipclient.cli import EXIT_DATAERR, EXIT_OK, EXIT_USAGE, Env, UsageError
from sipclient.cli._help import add_command
from sipclient.cli._hep import add_hep_options, hep_settings
from sipclient.cli._pcap_common import (PcapExit, add_file_argument, note_truncated,
                                        one_line_errors, read_or_exit, require_call_id)

PROG = "sipclient pcap export-hep"


def register_pcap(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "pcap export-hep", run_export_hep)
    add_file_argument(p)
    add_hep_options(p)
    p.add_argument("--call-id", metavar="ID", help="only this dialog's messages")
    p.add_argument("--rtcp", action="store_true", help="also send the RTCP reports")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")


@one_line_errors(PROG)
def run_export_hep(args: argparse.Namespace, env: Env) -> int:
    try:
        settings = hep_settings(args, env)
    except UsageError as exc:
        raise PcapExit(str(exc), EXIT_USAGE) from None
    if settings is None:
        raise PcapExit("--hep udp:HOST:PORT (or tcp:HOST:PORT) is required", EXIT_USAGE)
    capture = read_or_exit(args.file)
    require_call_id(args.file, capture, args.call_id)
    packets = [p for p in capture.sip if args.call_id is None or p.message.call_id == args.call_id]
    rtcp = _rtcp_packets(args.file) if args.rtcp else []
    from sipclient.io.hep import HepSendError

    try:
        sink = asyncio.run(_send(settings, packets, rtcp))
    except HepSendError as exc:
        raise PcapExit(str(exc), EXIT_USAGE) from None
    sip_sent, rtcp_sent = sink.encoder.sent_sip, sink.encoder.sent_rtcp
    if args.json:
        print(json.dumps({"file": args.file, "hep": str(settings.target),
                          "capture_id": settings.capture_id, "sip": sip_sent,
                          "rtcp": rtcp_sent, "dropped": sink.dropped}), file=env.stdout)
    else:
        extra = f" and {rtcp_sent} RTCP reports" if args.rtcp else ""
        print(f"sent {sip_sent} SIP messages{extra} to {settings.describe()}", file=env.stdout)
    return EXIT_DATAERR if note_truncated(PROG, capture, env) else EXIT_OK


def _rtcp_packets(path: str) -> list:
    from sipclient.media.rtcp import is_rtcp
    from sipclient.pcap.read import iter_packets

    return [p for p in iter_packets(path) if p.transport == "udp" and is_rtcp(p.payload)]


async def _send(settings, packets: list, rtcp: list):
    from sipclient.io.hep import HepSink

    sink = await HepSink.open(settings)
    try:
        items = [(p.time, p.frame, p.transport, p.src, p.dst, p.raw) for p in packets]
        items += [(p.time, p.frame, "udp", p.src, p.dst, p.payload) for p in rtcp]
        for time, _frame, transport, src, dst, payload in sorted(items, key=lambda i: i[:2]):
            sink.write(time, transport, src, dst, bytes(payload))
            await asyncio.sleep(0)  # let a TCP transport drain, let Ctrl-C in
    finally:
        await sink.close()
    return sink
