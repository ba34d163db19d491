"""``sipclient message check FILE...``: is this SIP message well formed? (RFC 3261 sec. 7)

Each FILE holds one message as a datagram would carry it, typically pasted from a ticket
or a log. Line endings are normalized to CRLF first (a note says so); then the message is
parsed, every typed view the core knows is read (so a malformed Via, CSeq, Contact,
Authorization ... is caught) and Content-Length is checked against the body.

Prints the start line, the headers and the body length, or the error with its location
(file, header, byte offset, reason). ``--json`` prints a JSON list instead. Exit status
0 when every message is valid, 65 (EX_DATAERR) when one is not, 2 when a file cannot be
read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sipclient.cli import EXIT_DATAERR, EXIT_OK, EXIT_USAGE, Env, UsageError
from sipclient.cli._checks import read_bounded
from sipclient.cli._help import add_command
from sipclient.proto.errors import ParseError
from sipclient.proto.message import parse_message


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "message")
    sub = p.add_subparsers(dest="message_command", metavar="SUBCOMMAND")
    sub.required = True
    c = add_command(sub, "message check", run)
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="print a JSON list of results")


def _printable(text: str) -> str:
    """Undo surrogateescape for display (invalid UTF-8 bytes become U+FFFD)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def normalize(data: bytes) -> tuple[bytes, list[str]]:
    """CRLF line endings and a final empty line, as a pasted message usually lacks them."""
    notes = []
    if b"\n" in data.replace(b"\r\n", b""):
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        notes.append("converted LF line endings to CRLF (Content-Length counts CRLF)")
    stripped = data.lstrip(b"\r\n")
    if stripped and b"\r\n\r\n" not in stripped:
        data = data.rstrip(b"\r\n") + b"\r\n\r\n"
        notes.append("added the missing empty line after the headers")
    return data, notes


def check_bytes(data: bytes) -> dict[str, Any]:
    """Check one message; the result is what ``--json`` prints for it (without ``file``)."""
    data, notes = normalize(data)
    result: dict[str, Any] = {"ok": False, "start_line": None, "headers": [],
                              "body_length": None, "error": None, "notes": notes}
    try:
        msg = parse_message(data)
        result["start_line"] = _printable(msg.start_line)
        result["headers"] = [[_printable(n), _printable(v)] for n, v in msg.headers]
        result["body_length"] = len(msg.body)
        msg.check_views()
        if msg.version.upper() != "SIP/2.0":  # RFC 4475 3.1.2.16: a UAS answers 505
            raise ParseError(f"unsupported SIP version {msg.version!r} (only SIP/2.0; a UAS "
                             "answers 505 Version Not Supported)", offset=_version_offset(
                                 data, msg.version), status_hint=505)
    except ParseError as exc:
        result["error"] = {"reason": exc.reason, "header": exc.header, "offset": exc.offset,
                           "status_hint": exc.status_hint}
        return result
    start = len(data) - len(data.lstrip(b"\r\n"))
    extra = data[start + len(bytes(msg)):]
    if msg.content_length is None:
        notes.append("no Content-Length: the rest of the datagram is the body "
                     "(required on TCP, TLS and WebSocket framing aside)")
    elif extra:
        if extra.strip():
            result["error"] = {
                "reason": f"Content-Length {msg.content_length} but {len(msg.body) + len(extra)}"
                          f" bytes follow the headers",
                "header": "Content-Length", "offset": msg.header_offset("Content-Length"),
                "status_hint": 400}
            return result
        notes.append(f"ignored {len(extra)} bytes of trailing whitespace after the body")
    result["ok"] = True
    return result


def _version_offset(data: bytes, version: str) -> int | None:
    line = data.lstrip(b"\r\n").split(b"\r\n", 1)[0]
    at = line.find(version.encode("utf-8", "surrogateescape"))
    return None if at < 0 else at + len(data) - len(data.lstrip(b"\r\n"))


def _describe_error(name: str, error: dict[str, Any]) -> str:
    where = [name]
    if error.get("header"):
        where.append(f"header {error['header']}")
    if error.get("offset") is not None:
        where.append(f"offset {error['offset']}")
    return f"{', '.join(where)}: {error['reason']}"


def run(args: argparse.Namespace, env: Env) -> int:
    results = []
    unreadable = False
    for name in args.files:
        try:
            data = read_bounded(name, "message_file_bytes", "file")
        except UsageError as exc:
            print(f"sipclient message check: {exc}", file=env.stderr)
            unreadable = True
            continue
        result = {"file": name, **check_bytes(data)}
        results.append(result)
    if args.json:
        print(json.dumps(results, indent=2), file=env.stdout)
    else:
        for r in results:
            if r["ok"]:
                print(f"{r['file']}: ok", file=env.stdout)
                print(f"  {r['start_line']}", file=env.stdout)
                for n, v in r["headers"]:
                    print(f"  {n}: {v}", file=env.stdout)
                print(f"  body: {r['body_length']} bytes", file=env.stdout)
            else:
                print(f"{_describe_error(r['file'], r['error'])}", file=env.stdout)
            for note in r["notes"]:
                print(f"  note: {note}", file=env.stdout)
    if unreadable:
        return EXIT_USAGE
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_DATAERR
