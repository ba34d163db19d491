"""``sipclient pcap validate RUN.pcap --against EXPECTED``: does a run follow the golden flow?

EXPECTED is a golden capture (pcap/pcapng) or a flow description file (YAML, see
captures/README.md). Volatile values (Call-ID, tags, branches, nonces, addresses, ports,
timestamps, absolute CSeq numbers) are ignored; the order and kind of messages per dialog,
chosen headers, SDP codecs and directions, and timing within tolerances are compared. Each
difference is one line saying where, e.g.
``dialog 1 (INVITE): missing message 8: ACK``.

``--write-flow OUT.yaml`` writes EXPECTED (a golden capture) as a flow file to edit.

Exit status: 0 the run matches, 1 it differs, 2 bad usage or a missing file, 65 a file that
is not a capture or a flow file with an error (one line on stderr, with file:line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sipclient.cli import EXIT_DATAERR, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Env
from sipclient.cli._common import seconds
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import PcapExit, need_files, one_line_errors

PROG = "sipclient pcap validate"


def _seconds(text: str) -> float:
    return seconds(text, limit=1e6)


def register_pcap(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pcap validate", run_validate)
    p.add_argument("run", metavar="RUN.pcap", help="the capture of the run to check")
    p.add_argument("--against", required=True, metavar="EXPECTED",
                   help="golden capture (.pcap/.pcapng) or flow file (.yaml)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--answer-tolerance", type=_seconds, default=1.0, metavar="S",
                   help="golden capture: the answer delay may differ by S seconds (1.0)")
    p.add_argument("--no-answer-timing", action="store_true",
                   help="golden capture: do not compare the answer delay")
    p.add_argument("--time-tolerance", type=_seconds, default=None, metavar="S",
                   help="golden capture: each message's time in its dialog may differ by S "
                        "seconds (default: not compared)")
    p.add_argument("--optional", action="append", default=[], metavar="KIND",
                   help="golden capture: the run may lack these messages (e.g. 100); "
                        "repeatable or comma-separated")
    p.add_argument("--headers", metavar="H,H,...",
                   help="headers to compare (default: Expires, Content-Type, Allow, "
                        "WWW-Authenticate, Proxy-Authenticate); empty: none")
    p.add_argument("--no-sdp", action="store_true", help="do not compare SDP")
    p.add_argument("--write-flow", metavar="OUT.yaml",
                   help="also write EXPECTED (a golden capture) as a flow file")


@one_line_errors(PROG)
def run_validate(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.flowspec import DEFAULT_HEADERS, FlowFileError, flow_to_yaml, observe
    from sipclient.pcap.read import CaptureError, read_capture
    from sipclient.pcap.validate import Tolerances, is_capture_file, validate

    need_files(args.run, args.against)
    headers = DEFAULT_HEADERS
    if args.headers is not None:
        headers = tuple(h.strip() for h in args.headers.split(",") if h.strip())
    optional = tuple(o.strip() for item in args.optional for o in item.split(",") if o.strip())
    tol = Tolerances(answer=None if args.no_answer_timing else args.answer_tolerance,
                     message=args.time_tolerance, optional=optional, headers=headers,
                     compare_headers=bool(headers), compare_sdp=not args.no_sdp)
    if not is_capture_file(args.run):
        raise PcapExit(f"{args.run}: not a pcap or pcapng file", EXIT_DATAERR)
    try:
        result = validate(args.run, args.against, tol)
        if args.write_flow:
            if not is_capture_file(args.against):
                raise PcapExit("--write-flow needs a golden capture as EXPECTED", EXIT_USAGE)
            text = flow_to_yaml(observe(read_capture(args.against).sip, headers),
                                answer_tolerance=tol.answer or 1.0)
            Path(args.write_flow).write_text(
                f"# flow of {Path(args.against).name}, written by sipclient pcap validate\n"
                + text, encoding="utf-8")
    except (FlowFileError, CaptureError) as exc:
        raise PcapExit(str(exc), EXIT_DATAERR) from None
    except OSError as exc:
        raise PcapExit(f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}",
                       EXIT_USAGE) from None
    if args.json:
        out = result.to_json()
        out.update(run=args.run, against=args.against)
        print(json.dumps(out, indent=2), file=env.stdout)
    else:
        if result.ok:
            dialogs = len(result.run)
            print(f"ok: {args.run} follows {args.against} ({dialogs} dialog"
                  f"{'s' if dialogs != 1 else ''})", file=env.stdout)
        else:
            print(f"{args.run} differs from {args.against}:", file=env.stdout)
            for line in result.differences:
                print(f"  {line}", file=env.stdout)
    return EXIT_OK if result.ok else EXIT_FAILURE
