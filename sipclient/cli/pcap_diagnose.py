"""``sipclient pcap diagnose FILE [--password-file F] [--json]``: why did this phone not
register?

For every registration in the capture (per AOR, across Call-ID changes) a verdict, the
evidence (frame numbers, header values) and what to change (docs/captures.md, "diagnose").
Without ``--password-file`` a refused answer is never called a wrong password: the output
says it cannot tell. ``--json`` prints a list, one object per registration, with the stable
codes of :data:`sipclient.pcap.diagnose.CODES`.

Exit status: 0 every registration is ``ok`` (or there is none), 1 at least one is not, 2 bad
usage or a missing file, 65 not a capture or a bad password file.
"""

from __future__ import annotations

import argparse
import json

from sipclient.cli import EXIT_DATAERR, EXIT_FAILURE, EXIT_OK, Env
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import (add_file_argument, need_files, note_truncated,
                                        one_line_errors, read_or_exit)
from sipclient.cli.pcap_auth import read_passwords

PROG = "sipclient pcap diagnose"


def register_pcap(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pcap diagnose", run_diagnose)
    add_file_argument(p)
    p.add_argument("--password-file", metavar="F",
                   help="one password, or lines user:password (never printed): only then "
                        "can a wrong password be told")
    p.add_argument("--nonce-lifetime", type=float, default=None, metavar="S",
                   help="seconds a nonce stays fresh at the registrar (default 32, "
                        "Asterisk's): a later answer challenged again is a stale nonce")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per registration")


@one_line_errors(PROG)
def run_diagnose(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.diagnose import diagnose
    from sipclient.pcap.diagnose_text import diagnosis_text
    from sipclient.proto.digest_server import NONCE_LIFETIME

    need_files(args.file, *([args.password_file] if args.password_file else []))
    passwords = read_passwords(args.password_file) if args.password_file else None
    capture = read_or_exit(args.file)
    lifetime = args.nonce_lifetime if args.nonce_lifetime is not None else NONCE_LIFETIME
    diagnoses = diagnose(capture.sip, passwords, nonce_lifetime=lifetime)
    if args.json:
        print(json.dumps([d.as_dict() for d in diagnoses], indent=2), file=env.stdout)
    else:
        print(diagnosis_text(diagnoses, args.file), file=env.stdout, end="")
    if note_truncated(PROG, capture, env):
        return EXIT_DATAERR
    return EXIT_OK if all(d.codes == ["ok"] for d in diagnoses) else EXIT_FAILURE
