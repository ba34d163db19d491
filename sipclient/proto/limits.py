"""The explicit limits on what sipclient reads and keeps: one table (docs/limits.md).

A test harness is pointed at broken systems on purpose, so every input it reads has a bound
and every bound has a name, a default and an environment variable that changes it::

    limit("scenario_bytes")                     # 2 MiB, or $SIPCLIENT_LIMIT_SCENARIO_BYTES
    limit("yaml_aliases", {"SIPCLIENT_LIMIT_YAML_ALIASES": "10"})   # 10

A value that is not a positive number in the environment is ignored (the default holds).
Standard library only: the lowest layer, so that every layer reads the same table.
"""

from __future__ import annotations

import os
from typing import Mapping

__all__ = ["LIMITS", "LimitExceeded", "env_name", "limit"]

KIB, MIB = 1 << 10, 1 << 20

#: name -> (default, what it bounds)
LIMITS: dict[str, tuple[float, str]] = {
    "password_file_bytes": (4 * KIB, "bytes read from --password-file (the first line)"),
    "message_file_bytes": (1 * MIB, "bytes of a file given to `message check`"),
    "pcap_file_bytes": (2048 * MIB, "bytes of a capture read through a pipe or device "
                                    "(a regular file is mapped, not read)"),
    "play_file_bytes": (256 * MIB, "bytes of a WAV file given to --play or play:"),
    "scenario_bytes": (2 * MIB, "bytes of one scenario file"),
    "yaml_aliases": (100, "aliases (*name) in one scenario file"),
    "yaml_depth": (64, "nesting depth of lists and mappings in one scenario file"),
    "yaml_nodes": (200_000, "values (scalars, lists, mappings) in one scenario file, "
                            "aliases expanded"),
    "regex_seconds": (1.0, "time one `expect` regular expression may take on one message"),
    "calls_per_agent": (200, "confirmed incoming calls one agent holds up at once "
                             "(more: 503); AgentConfig.max_calls overrides it"),
    "unconfirmed_calls": (100, "incoming calls one agent keeps ringing or waiting for their "
                               "ACK; a new INVITE beyond them lets the oldest go (503 when "
                               "ringing; media stopped, BYE after the ACK or 64*T1 when "
                               "answered); AgentConfig.max_unconfirmed overrides it"),
    "answer_calls_reported": (100, "calls `sipclient answer` lists one by one in its report "
                                    "(the newest; all are counted in calls_total)"),
    "answer_trace_entries": (1000, "messages `sipclient answer` keeps for --json's flow and "
                                   "--trace (the newest; --pcap keeps everything)"),
    "tcp_connections": (1000, "connections a TCP/TLS listener keeps accepted at once; beyond, "
                              "the oldest that never sent a message is closed"),
    "tcp_message_seconds": (10.0, "seconds an accepted TCP/TLS connection has to send its "
                                  "first message, and each message it begins, whole"),
    "tcp_write_buffer_bytes": (1 * MIB, "bytes waiting to be sent on one TCP/TLS connection "
                                        "(a peer that does not read); beyond, it is closed"),
    "http_body_bytes": (1 * MIB, "bytes of a request body the HTTP receivers accept"),
    "http_header_seconds": (10.0, "seconds the HTTP receivers wait for each read of a request "
                                  "(its head, its body)"),
}


class LimitExceeded(ValueError):
    """An input is larger than its limit; the message names the limit and its variable."""

    def __init__(self, name: str, what: str) -> None:
        value = limit(name)
        super().__init__(f"{what} exceeds the limit of {_show(value)} ({LIMITS[name][1]}; "
                         f"set {env_name(name)} to change it)")
        self.name = name


def env_name(name: str) -> str:
    """The environment variable that overrides limit ``name``."""
    return f"SIPCLIENT_LIMIT_{name.upper()}"


def limit(name: str, environ: Mapping[str, str] | None = None) -> float:
    """The value of limit ``name``: the environment's, else the default."""
    default = LIMITS[name][0]
    text = (os.environ if environ is None else environ).get(env_name(name))
    if text:
        try:
            value = float(text)
        except ValueError:
            return default
        if value > 0:
            return int(value) if isinstance(default, int) else value
    return default


def _show(value: float) -> str:
    if isinstance(value, int) and value >= KIB and value % KIB == 0:
        return f"{value // MIB} MiB" if value % MIB == 0 else f"{value // KIB} KiB"
    return f"{value:g}"
