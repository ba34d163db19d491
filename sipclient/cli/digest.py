"""``sipclient digest``: compute a digest ``response`` by hand (RFC 2617, RFC 7616, RFC 8760).

Prints the response hex on one line, e.g. to check what a phone sent in a capture::

    sipclient digest --method GET --uri /dir/index.html --username Mufasa \\
        --realm testrealm@host.com --password-env PW --nonce dcd98b7102dd2f0e8b11d0f600bfb0c093 \\
        --qop auth --nc 00000001 --cnonce 0a4f113b

``--header`` prints the whole Authorization value instead. The password never reaches the
output; prefer ``--password-env`` / ``--password-file`` to keep it out of the process list.
"""

from __future__ import annotations

import argparse

from sipclient.cli import EXIT_OK, Env, UsageError
from sipclient.cli._help import add_command
from sipclient.proto.digest import ALGORITHMS, Credentials, canonical_algorithm, compute_response
from sipclient.proto.errors import LocalProtocolError

_REQUIRED = ("method", "uri", "username", "realm", "nonce")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "digest", run)
    # Requiredness and choices are checked in run() so every usage error goes to env.stderr.
    p.add_argument("--method", help="request method, e.g. REGISTER")
    p.add_argument("--uri", help="the digest uri (normally the Request-URI)")
    p.add_argument("--username")
    p.add_argument("--realm")
    p.add_argument("--nonce")
    p.add_argument("--algorithm", default="MD5", help="one of " + ", ".join(ALGORITHMS)
                   + " (case-insensitive; default MD5)")
    p.add_argument("--qop", help="auth or auth-int (omit for RFC 2069 style)")
    p.add_argument("--nc", help="nonce count, 8 hex digits (default 00000001 with --qop)")
    p.add_argument("--cnonce", help="client nonce (needed with --qop and -sess algorithms)")
    p.add_argument("--body-file", help="message body for qop=auth-int (default: empty)")
    p.add_argument("--opaque", help="echoed in --header output only")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password", help="the password (visible in the process list)")
    pw.add_argument("--password-env", metavar="VAR", help="read the password from $VAR")
    pw.add_argument("--password-file", metavar="FILE",
                    help="read the password from FILE (first line)")
    p.add_argument("--header", action="store_true",
                   help="print the whole Authorization header value")


def _password(args: argparse.Namespace, env: Env) -> str:
    if args.password is not None:
        return args.password
    if args.password_env is not None:
        value = env.getenv(args.password_env)
        if value is None:
            raise UsageError(f"environment variable {args.password_env} is not set")
        return value
    if args.password_file is not None:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --password-file: {_why(exc)}") from None
    raise UsageError("one of --password, --password-env, --password-file is required")


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def run(args: argparse.Namespace, env: Env) -> int:
    missing = [f"--{name}" for name in _REQUIRED if getattr(args, name) is None]
    if missing:
        raise UsageError("missing " + ", ".join(missing))
    algorithm = canonical_algorithm(args.algorithm)
    if algorithm is None:
        raise UsageError(f"unsupported --algorithm {args.algorithm!r}; choose one of "
                         + ", ".join(ALGORITHMS))
    qop = args.qop.lower() if args.qop is not None else None
    if qop not in (None, "auth", "auth-int"):
        raise UsageError(f"--qop must be auth or auth-int, not {args.qop!r}")
    if qop is None and args.nc is not None:
        raise UsageError("--nc needs --qop")
    nc = args.nc if args.nc is not None else ("00000001" if qop else None)
    if nc is not None and not (1 <= len(nc) <= 8 and all(c in "0123456789abcdefABCDEF"
                                                          for c in nc)):
        raise UsageError(f"--nc must be 8 hex digits, e.g. 00000001, not {nc!r}")
    if (qop or algorithm.endswith("-sess")) and not args.cnonce:
        raise UsageError(f"--cnonce is required with {'--qop' if qop else algorithm}")
    body = b""
    if args.body_file is not None:
        try:
            with open(args.body_file, "rb") as f:
                body = f.read()
        except OSError as exc:
            raise UsageError(f"cannot read --body-file: {_why(exc)}") from None
    cnonce = args.cnonce if (qop or algorithm.endswith("-sess")) else None
    try:
        response = compute_response(
            username=args.username, realm=args.realm, password=_password(args, env),
            method=args.method, uri=args.uri, nonce=args.nonce, algorithm=algorithm, qop=qop,
            nc=nc, cnonce=cnonce, body=body)
        if args.header:
            print(Credentials(username=args.username, realm=args.realm, nonce=args.nonce,
                              uri=args.uri, response=response, algorithm=algorithm,
                              cnonce=cnonce, opaque=args.opaque, qop=qop, nc=nc),
                  file=env.stdout)
            return EXIT_OK
    except LocalProtocolError as exc:
        raise UsageError(str(exc)) from None
    print(response, file=env.stdout)
    return EXIT_OK
