"""``--hep udp:HOST:PORT`` (or ``tcp:``), ``--hep-id N``, ``--hep-key-env VAR`` /
``--hep-key-file FILE``: what every command that sends SIP, ``sipclient run`` and
``sipclient pcap export-hep`` share to send HEP3 to Homer (:mod:`sipclient.io.hep`).

The authentication key is a secret: it is read from an environment variable
(``--hep-key-env``, default ``$SIPCLIENT_HEP_KEY`` when set) or a file (first line), never
from the command line (where ``ps`` would show it), and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from typing import Any, AsyncIterator

from . import Env, UsageError

HEP_KEY_ENV = "SIPCLIENT_HEP_KEY"


def add_hep_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--hep", metavar="udp:HOST:PORT", help="also send every SIP message (all "
                   "transports) and RTCP report as HEP3 to Homer at udp:HOST:PORT or "
                   "tcp:HOST:PORT")
    p.add_argument("--hep-id", type=int, metavar="N", default=None,
                   help="HEP capture agent id (default 2001)")
    p.add_argument("--hep-key-env", metavar="VAR", help="HEP authentication key from $VAR "
                   f"(default: ${HEP_KEY_ENV} if set)")
    p.add_argument("--hep-key-file", metavar="FILE", help="HEP authentication key from FILE "
                   "(first line)")


def hep_settings(args: argparse.Namespace, env: Env) -> Any:
    """:class:`~sipclient.pcap.hep.HepSettings` from the options, or None without --hep;
    :class:`UsageError` (exit 2) saying what is wrong."""
    from sipclient.pcap.hep import DEFAULT_CAPTURE_ID, HepError, HepSettings, parse_hep_target

    text = getattr(args, "hep", None)
    if not text:
        for name in ("hep_id", "hep_key_env", "hep_key_file"):
            if getattr(args, name, None) is not None:
                raise UsageError(f"--{name.replace('_', '-')} needs --hep udp:HOST:PORT")
        return None
    try:
        target = parse_hep_target(text)
        return HepSettings(target, DEFAULT_CAPTURE_ID if args.hep_id is None else args.hep_id,
                           hep_key(args, env))
    except HepError as exc:
        raise UsageError(f"--hep: {exc}") from None


def hep_key(args: argparse.Namespace, env: Env) -> str | None:
    """--hep-key-file, --hep-key-env VAR, else $SIPCLIENT_HEP_KEY (as the password is read)."""
    from ._checks import read_secret

    return read_secret(env, file=getattr(args, "hep_key_file", None) or None,
                       file_flag="--hep-key-file", var=getattr(args, "hep_key_env", None) or None,
                       var_flag="--hep-key-env", default_var=HEP_KEY_ENV) or None


@contextlib.asynccontextmanager
async def with_hep(settings: Any, cfg: Any) -> AsyncIterator[Any]:
    """``cfg`` (an AgentConfig) with its capture also sent as HEP: the pcap file (if any)
    and the HEP sink tee'd, both closed at the end. ``cfg`` unchanged without settings."""
    if settings is None:
        yield cfg
        return
    from sipclient.io.hep import CaptureTee, HepSink
    from sipclient.pcap.writer import PcapWriter

    sink = await HepSink.open(settings)
    pcap_file = None
    try:
        pcap = cfg.capture
        if isinstance(pcap, str):
            try:
                pcap_file = open(pcap, "wb")
            except OSError as exc:
                raise UsageError(f"cannot write the capture {pcap}: {exc.strerror}") from None
            pcap = PcapWriter(pcap_file)
        yield dataclasses.replace(cfg, capture=CaptureTee(pcap, sink))
    finally:
        await sink.close()
        if pcap_file is not None:
            pcap_file.close()
