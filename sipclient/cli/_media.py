"""The media options of the softclient commands (``call``, ``answer``): ``--codec`` (its
choices from the codec registry), ``--play``, ``--record``, ``--dtmf*``, ``--webrtc``; the
AgentConfig fields they give, the DTMF sent during a call and the JSON report's media list.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sipclient.cli import UsageError
from sipclient.cli._checks import check_output, check_wav, seconds

__all__ = ["DTMF_MODES", "add_media_options", "add_webrtc_option", "codec_choices",
           "media_config", "media_report", "send_dtmf_later", "webrtc_factory"]


# ----------------------------------------------------------------------------- webrtc

def add_webrtc_option(p: argparse.ArgumentParser) -> None:
    """--webrtc (and --stun): the calls' media is WebRTC (ICE, DTLS-SRTP) over WS/WSS."""
    w = p.add_argument_group("webrtc")
    w.add_argument("--webrtc", action="store_true",
                   help="be a WebRTC endpoint: SIP over ws:// or wss://, media over ICE + "
                        "DTLS-SRTP (needs aiortc: the webrtc extra; docs/webrtc.md)")
    w.add_argument("--stun", action="append", metavar="URL",
                   help="with --webrtc: a STUN server, stun:host:port (default: none; no "
                        "public STUN server is ever contacted unless given)")


def webrtc_factory(args: argparse.Namespace) -> Any:
    """The media factory for ``--webrtc`` (None without it). The ``webrtc`` package is loaded
    as a plugin: it is the only one that imports aiortc (pyproject's import contracts)."""
    if not getattr(args, "webrtc", False):
        if getattr(args, "stun", None):
            raise UsageError("--stun needs --webrtc")
        return None
    import importlib

    try:
        backend = importlib.import_module("webrtc")
    except ImportError as exc:
        raise UsageError(f"--webrtc needs aiortc ({exc}); install the webrtc extra") from None
    options: dict[str, Any] = {"stun": list(args.stun or [])}
    if getattr(args, "dtmf_mode", None) == "inband":
        options["dtmf"] = "inband"
    try:
        return backend.media_factory(options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ----------------------------------------------------------------------------- media

DTMF_MODES = ("rfc4733", "info", "inband")
DTMF_DIGITS = set("0123456789*#ABCDabcd")


def _play(text: str) -> str:
    """``tone:1000``, ``tone:1000+1400``, ``silence`` or a readable WAV file."""
    low = text.lower()
    if low == "silence":
        return low
    if low.startswith("tone:"):
        parts = low[5:].split("+")
        if all(p.replace(".", "", 1).isdigit() and 0 < float(p) < 4000 for p in parts):
            return low
        raise argparse.ArgumentTypeError(f"{text!r}: a tone is tone:HZ or tone:HZ+HZ "
                                         "(0 < HZ < 4000), e.g. tone:1000+1400")
    try:
        open(text, "rb").close()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror} (--play takes "
                                         "tone:HZ, tone:HZ+HZ, silence or a WAV file)") from None
    return text


def _dtmf(text: str) -> str:
    bad = sorted(set(text) - DTMF_DIGITS)
    if not text or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: DTMF digits are 0-9 * # A-D")
    return text.upper()


def codec_choices(*, webrtc: bool) -> tuple[str, ...]:
    """--codec's names, from the codec registry: what an agent (or a WebRTC endpoint) can
    send and receive."""
    from sipclient.media.codecs.registry import playable_names, webrtc_codecs

    names = [c.name for c in webrtc_codecs()] if webrtc else playable_names()
    return tuple(n.upper() for n in names)


def add_media_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--codec, --play, --record, --dtmf, --dtmf-mode, --dtmf-after (docs/cli.md)."""
    m = p.add_argument_group("media")
    m.add_argument("--codec", metavar="LIST", help="codec preference, e.g. PCMU,PCMA "
                   f"(known: {', '.join(codec_choices(webrtc=False))})")
    m.add_argument("--play", type=_play, metavar="SOURCE", help="what to send: tone:1000, "
                   "tone:1000+1400, silence (default) or a WAV file")
    m.add_argument("--record", metavar="FILE.wav", help="record the received audio")
    m.add_argument("--dtmf", type=_dtmf, metavar="DIGITS", help="send DTMF once answered")
    m.add_argument("--dtmf-mode", choices=DTMF_MODES, default="rfc4733", type=str.lower,
                   help="RFC 4733 events (default), SIP INFO or in-band tones")
    m.add_argument("--dtmf-after", type=seconds, default=1.0, metavar="S",
                   help="send the DTMF S seconds after the answer (default 1)")
    return m


def media_config(args: argparse.Namespace) -> dict[str, Any]:
    """AgentConfig fields from the media options (codecs, play, record)."""
    out: dict[str, Any] = {}
    if getattr(args, "codec", None) is not None:
        names = tuple(n.strip().upper() for n in args.codec.split(",") if n.strip())
        known = codec_choices(webrtc=getattr(args, "webrtc", False))
        if not names:
            raise UsageError("--codec needs at least one codec name, e.g. PCMU,PCMA")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"--codec: unknown codec {unknown[0]} (known: {', '.join(known)})")
        out["codecs"] = names
    if getattr(args, "play", None) is not None:
        if args.play != "silence" and not args.play.startswith("tone:"):
            check_wav("--play", args.play)
        out["play"] = args.play
    if getattr(args, "record", None) is not None:
        check_output("--record", args.record)
        out["record"] = args.record
    return out


async def send_dtmf_later(call: Any, args: argparse.Namespace) -> None:
    """``--dtmf`` digits ``--dtmf-after`` seconds into the call (nothing without --dtmf)."""
    if getattr(args, "dtmf", None):
        await asyncio.sleep(args.dtmf_after)
        if not call.is_ended:
            await call.send_dtmf(args.dtmf, args.dtmf_mode)


def media_report(call: Any) -> list[dict[str, Any]]:
    """The ``"media"`` list of the JSON report: one object per stream of the call."""
    if call is None:
        return []
    keys = ("codec", "local_rtp", "remote_rtp", "packets_sent", "packets_received", "lost",
            "jitter_ms", "mean_jitter_ms", "max_jitter_ms", "remote_ssrc", "mos",
            "dominant_hz", "dtmf_received")
    webrtc_keys = ("ice_ms", "dtls_ms", "gather_ms", "first_rtp_ms", "dtls_role", "error",
                   "record_error")
    return [{**{k: s.get(k) for k in keys}, **{k: s[k] for k in webrtc_keys if k in s}}
            for s in call.media.stats()]
