"""``sipclient pcap to-scenario FILE --call-id ID``: a recorded call as a replayable scenario.

Writes a ``.sip.yaml`` scenario (docs/scenarios.md) that plays one side of the recorded
dialog against a target (the lab by default when run with ``sipclient run``): the same
number, codecs, DTMF, hold and hang-up, and an ``expect_flow`` of the recorded flow made
tolerant where a PBX legitimately differs. Without ``--call-id`` it lists the capture's
dialogs.

Exit status: 0 written, 1 the Call-ID is not a call in the capture, 2 bad usage or a missing
file, 65 not a capture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sipclient.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Env
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import (PcapExit, add_file_argument, need_files,
                                        one_line_errors, read_or_exit, write_or_exit)

PROG = "sipclient pcap to-scenario"


def register_pcap(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pcap to-scenario", run_to_scenario)
    add_file_argument(p)
    p.add_argument("--call-id", metavar="ID", help="the dialog to replay")
    p.add_argument("--side", choices=("caller", "callee"), default="caller",
                   help="the side our agent plays (default caller)")
    p.add_argument("--account", default=None, metavar="EXT",
                   help="the target account our agent uses (default 1001)")
    p.add_argument("--peer-account", default="1002", metavar="EXT",
                   help="--side callee: the account that places the call (default 1002)")
    p.add_argument("--max-wait", type=float, default=30.0, metavar="S",
                   help="cap each recorded wait at S seconds (default 30)")
    p.add_argument("-o", "--output", metavar="OUT.sip.yaml",
                   help="write here (default: standard output)")


@one_line_errors(PROG)
def run_to_scenario(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.to_scenario import ToScenarioError, dialog_call_ids, to_scenario

    need_files(args.file)
    capture = read_or_exit(args.file)
    if args.call_id is None:
        from sipclient.pcap.register_scenario import is_registration_only, register_scenario

        if is_registration_only(capture.sip):
            try:
                text = register_scenario(capture.sip, source=Path(args.file).name,
                                         account=args.account or "1001",
                                         max_wait=args.max_wait)
            except ToScenarioError as exc:
                raise PcapExit(str(exc), EXIT_FAILURE) from None
            return _write(args, text, env)
        found = list(dialog_call_ids(capture.sip))
        if args.output and len(found) == 1:  # -o with the one dialog there is: that one
            args.call_id = found[0][0]
        elif args.output:
            listed = ", ".join(cid for cid, _ in found[:5]) or "none"
            raise PcapExit(f"-o {args.output} needs --call-id: the capture has {len(found)} "
                           f"dialogs ({listed})", EXIT_USAGE)
        else:
            for cid, method in found:
                print(f"{method:<10} {cid}", file=env.stdout)
            return EXIT_OK
    try:
        text = to_scenario(capture.sip, args.call_id, side=args.side, dtmf=capture.dtmf,
                           source=Path(args.file).name, account=args.account or "1001",
                           peer_account=args.peer_account, max_wait=args.max_wait)
    except ToScenarioError as exc:
        raise PcapExit(str(exc), EXIT_FAILURE) from None
    return _write(args, text, env)


def _write(args: argparse.Namespace, text: str, env: Env) -> int:
    if args.output:
        write_or_exit(args.output, text)
        print(f"wrote {args.output}", file=env.stdout)
    else:
        print(text, file=env.stdout, end="")
    return EXIT_OK
