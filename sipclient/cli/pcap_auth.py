"""``sipclient pcap auth-check FILE --password-file F``: was each Authorization right?

One line per challenged request: frame, time (seconds since the capture's first SIP
message), method, user@realm, verdict (ok, WRONG, unchecked) and why (wrong password, wrong
URI, stale or unknown nonce, nc not increasing, wrong algorithm, realm mismatch ...). The
password file holds one password, or ``user:password`` lines; passwords are never printed.

Exit status: 0 every checked request was right, 1 at least one was wrong, 2 bad usage or a
missing file, 65 not a capture or a bad password file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sipclient.cli import EXIT_DATAERR, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Env
from sipclient.cli._help import add_command
from sipclient.cli._pcap_common import (PcapExit, add_file_argument, need_files, note_truncated,
                                        one_line_errors, read_or_exit)

PROG = "sipclient pcap auth-check"


def register_pcap(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pcap auth-check", run_auth_check)
    add_file_argument(p)
    p.add_argument("--password-file", required=True, metavar="F",
                   help="one password, or lines user:password (never printed)")
    p.add_argument("--nonce-lifetime", type=float, default=None, metavar="S",
                   help="seconds a nonce stays fresh at the server (default 32, Asterisk's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


@one_line_errors(PROG)
def run_auth_check(args: argparse.Namespace, env: Env) -> int:
    from sipclient.pcap.auth_check import check_auth
    from sipclient.proto.digest_server import NONCE_LIFETIME

    need_files(args.file, args.password_file)
    passwords = read_passwords(args.password_file)
    capture = read_or_exit(args.file)
    lifetime = args.nonce_lifetime if args.nonce_lifetime is not None else NONCE_LIFETIME
    checks = check_auth(capture.sip, passwords, nonce_lifetime=lifetime)
    wrong = sum(c.wrong for c in checks)
    unchecked = sum(c.verdict == "unchecked" for c in checks)
    if args.json:
        print(json.dumps({"file": args.file, "checked": len(checks), "wrong": wrong,
                          "unchecked": unchecked,
                          "requests": [c.to_json() for c in checks]}, indent=2),
              file=env.stdout)
    else:
        for c in checks:
            print(c.line(), file=env.stdout)
        ok = len(checks) - wrong - unchecked
        print(f"{len(checks)} challenged request{'s' if len(checks) != 1 else ''}: {ok} ok, "
              f"{wrong} wrong" + (f", {unchecked} unchecked" if unchecked else ""),
              file=env.stdout)
    note_truncated(PROG, capture, env)
    return EXIT_FAILURE if wrong else EXIT_OK


def read_passwords(path: str):
    """The :class:`~sipclient.pcap.auth_check.Passwords` of a password file; exit 2 when it
    cannot be read, 65 when it is not a password file (the error names the line, never its
    content)."""
    from sipclient.pcap.auth_check import PasswordFileError, Passwords

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PcapExit(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise PcapExit(f"{path}: not UTF-8 text", EXIT_DATAERR) from None
    try:
        return Passwords.parse(text, path)
    except PasswordFileError as exc:
        raise PcapExit(str(exc), EXIT_DATAERR) from None
