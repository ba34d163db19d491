"""What ``sipclient --help`` and ``sipclient COMMAND --help`` say: one record per command.

Each command, and each subcommand with a description of its own, is one entry of
:data:`COMMANDS`, keyed by its words after ``sipclient``: the one-line help its group lists,
and the description its own ``--help`` prints (ending with its exit statuses, as docs/cli.md
gives them). A command module builds its parser with :func:`add_command`, so the words of the
whole command line read in one place while each module keeps its arguments and handler.
"""

from __future__ import annotations

import argparse
from typing import Callable

#: command words -> (one-line help, description)
COMMANDS: dict[str, tuple[str, str]] = {
    "answer": (
        "register and answer incoming calls",
        "Register, then answer (or reject) incoming calls until Ctrl-C or --count calls; "
        "unregister at the end."),
    "call": (
        "place a call (INVITE), hang up after --duration",
        "Call NUMBER or URI (RFC 3261 13), wait for the answer, stay on the call --duration "
        "seconds (or until the other side hangs up), hang up."),
    "digest": (
        "compute a digest authentication response",
        "Compute the digest 'response' value (RFC 2617 / RFC 7616 / RFC 8760) and print it as "
        "one hex line."),
    "http": (
        "the PBX's HTTP APIs: click-to-call, statuses, webhooks, the lab twin",
        "Clients for the documented click-to-call/status APIs, webhook receivers, and the lab "
        "twin of those APIs on the lab's Asterisk."),
    "lab": (
        "start/stop the local Asterisk lab (a mirror of the cloud PBX)",
        "The local Asterisk lab: SIP UDP/TCP 7048, TLS 5061, WSS 8089 (/ws)."),
    "load": (
        "load a PBX: calls, registrations or scenarios at a rate, on every core",
        "Generate SIP load (like SIPp) from one machine's cores; Locust (sipclient.locust) "
        "for several machines. Exit: 0 thresholds held, 1 a threshold broke, 2 bad usage, 130 "
        "Ctrl-C, 143 SIGTERM."),
    "message": (
        "work with SIP messages in files",
        "Work with SIP messages stored in files."),
    "message check": (
        "parse messages and report errors with their location",
        "Parse each FILE as one SIP message (LF line endings are converted to CRLF), read "
        "every typed header view and check Content-Length. Exit 0 when all are valid, 65 when "
        "one is not."),
    "options": (
        "OPTIONS ping: status and round-trip time",
        "Send OPTIONS (RFC 3261 11) and print the answer and round-trip time."),
    "pcap": (
        "read captures: summary of SIP dialogs, RTP streams and DTMF",
        "Read pcap/pcapng captures with the same parsers the live stack uses."),
    "pcap summary": (
        "SIP dialogs, RTP streams and DTMF of a capture",
        "Summarize a capture: SIP dialogs (flow, setup/answer time, duration, disposition, "
        "codecs), RTP streams (SSRC, codec, packets, loss, jitter as RFC 3550 computes it, "
        "MOS) and RFC 4733 DTMF digits. RTP is found through SDP; --heuristic-rtp also takes "
        "any UDP payload that looks like RTP version 2 sent to an even port. Exit 0 ok, 2 "
        "unreadable file or unknown Call-ID, 65 not a capture or cut short."),
    "pcap auth-check": (
        "verify every challenged request's digest against a password",
        "For every request with Authorization or Proxy-Authorization, find the 401/407 that "
        "issued its nonce and say whether the credentials are right for the password given, "
        "and if not why. Exit 0 all right, 1 one or more wrong, 2 bad usage or missing file, "
        "65 not a capture or bad password file."),
    "pcap diagnose": (
        "why did a phone not register? a verdict per registration",
        "For every registration in the capture (per AOR, across Call-ID changes): a verdict "
        "(ok, forbidden, stale-nonce, uri-mismatch, same-source-port-conflict ...), the "
        "evidence with frame numbers and header values, and what to change. Exit 0 all ok, 1 "
        "a problem found, 2 bad usage or missing file, 65 not a capture or bad password file."),
    "pcap export-hep": (
        "send a capture's SIP to Homer as HEP3",
        "Send every SIP message of a capture (UDP, TCP, WebSocket, exported TLS/WSS "
        "plaintext) as HEP3 with its captured addresses, ports and time. Exit 0 sent, 2 bad "
        "usage / unreadable file / unknown Call-ID / unreachable target, 65 not a capture or "
        "cut short."),
    "pcap ladder": (
        "SIP ladder diagram of a capture (terminal or HTML)",
        "Draw the SIP messages of a capture as a ladder diagram: one column per participant, "
        "an arrow per message with its time offset, retransmissions marked, RTP streams as "
        "bands with their statistics. --html writes a self-contained page where clicking an "
        "arrow shows the whole message. Exit 0 ok, 2 unreadable file / unknown Call-ID / "
        "unwritable output, 65 not a capture or cut short."),
    "pcap to-scenario": (
        "write a scenario that replays a recorded call",
        "Write a .sip.yaml scenario replaying the dialog with Call-ID ID from one side "
        "against a target, or the registrations of a REGISTER Call-ID. Without --call-id: a "
        "capture of registrations only (and OPTIONS/SUBSCRIBE keep-alives) becomes one "
        "scenario of them all; otherwise the dialogs are listed. Exit 0 ok, 1 no such call, 2 "
        "bad usage or missing file, 65 not a capture."),
    "pcap validate": (
        "check a run's capture against a golden capture or a flow file",
        "Compare RUN (a capture) with EXPECTED (a golden capture or a YAML flow description): "
        "per dialog, in order of appearance, the order and kind of messages, chosen headers, "
        "SDP codecs and directions, and timing within tolerances. Volatile values are "
        "ignored. Exit 0 same flow, 1 different, 2 bad usage or missing file, 65 unreadable "
        "capture or flow file."),
    "register": (
        "register an extension (REGISTER with digest auth)",
        "Register (RFC 3261 10) and print the registrar's answer."),
    "run": (
        "run YAML call scenarios (*.sip.yaml) and report",
        "Run scenario files and folders (recursively, *.sip.yaml), against the built-in lab "
        "or --target/--profile; print a results table; write JUnit/JSON reports. Exit: 0 all "
        "passed, 1 a failure, 2 bad files or usage, 130 Ctrl-C, 143 SIGTERM."),
}


def add_command(subparsers: argparse._SubParsersAction, words: str,
                run: Callable | None = None) -> argparse.ArgumentParser:
    """Add the command ``words`` (a key of :data:`COMMANDS`) to ``subparsers`` with its help
    and description; ``run`` is its handler (none for a group of subcommands)."""
    help_text, description = COMMANDS[words]
    parser = subparsers.add_parser(words.rsplit(" ", 1)[-1], help=help_text,
                                   description=description)
    if run is not None:
        parser.set_defaults(func=run)
    return parser
