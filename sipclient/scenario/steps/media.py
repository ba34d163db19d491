"""Media: ``play`` and ``record`` mid-call, ``expect_media`` (the call's media statistics:
codec, tone, DTMF received, loss, MOS, packets). While the call is up, the tone is
measured on the last :data:`TONE_WINDOW` seconds received; after its end, on the whole call.

Each waits for the call's media to be up (answered, sending) first. ``expect_media`` then
checks again at each RTP packet that arrives (and each change of the call) until every
condition holds or ``timeout`` (:data:`EXPECT_TIMEOUT`) runs out; DTMF digits that can no
longer become the ones asked for (``123`` received, ``124`` asked) fail at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sipclient.agent import AgentError

from ..kinds import CALL, INTEGER, NUMBER, STRING, arguments, ref, step_kind
from ..context import RunContext, StepFailed
from ..model import Step
from ._common import number, timeout_of
from .waits import media_up

#: seconds of the most recent audio ``tone`` is measured on while the call is up
TONE_WINDOW = 1.5
#: seconds ``expect_media`` waits for the media and its conditions by default
EXPECT_TIMEOUT = 10.0


def _media(ctx: RunContext, name: str) -> Any:
    return ctx.call(name).media


def check_play(checker: Any, step: Step, prefix: str, line_of: Any) -> None:
    checker.media_file(step.args.get("source"), line_of(("source",)), prefix + "\"source\": ")


@step_kind("play", arguments({"call": CALL, "source": STRING}, ("call", "source"), True),
           check=check_play, acts=True)
async def play(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Switch what the call sends: ``tone:1000``, ``silence`` or a WAV file (relative to
    the scenario file)."""
    source = str(args["source"])
    if not source.lower().startswith(("tone:", "silence")):
        path = Path(source).expanduser()
        if not path.is_absolute():
            path = ctx.scenario.path.parent / path
        if not path.is_file():
            raise StepFailed(f"play: {source}: no such file ({path})")
        source = str(path)
    await media_up(ctx, args["call"], timeout_of(args, 30.0))
    try:
        _media(ctx, args["call"]).set_play(source)
    except (AgentError, ValueError) as exc:
        raise StepFailed(f"play: {exc}") from None


@step_kind("record", arguments({"call": CALL, "file": STRING}, ("call", "file"), True),
           acts=True)
async def record(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Record what the call receives from now on into ``file`` in the report folder."""
    path = ctx.report_dir / Path(str(args["file"])).name
    await media_up(ctx, args["call"], timeout_of(args, 30.0))
    try:
        _media(ctx, args["call"]).set_record(str(path))
    except OSError as exc:
        raise StepFailed(f"record: cannot write {path}: {exc.strerror}") from None
    except AgentError as exc:
        raise StepFailed(f"record: {exc}") from None


def media_problems(stats: dict[str, Any], args: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(what was asked in words, what is wrong) for one stream's statistics. Pure."""
    asked, wrong = [], []
    codec = args.get("codec")
    if codec is not None:
        asked.append(f"codec {str(codec).upper()}")
        if str(stats.get("codec") or "").upper() != str(codec).upper():
            wrong.append(f"codec is {stats.get('codec')}, not {str(codec).upper()}")
    tone = number(args, "tone")
    if tone is not None:
        tolerance = number(args, "tolerance", 25) or 0
        asked.append(f"a {tone:g} Hz tone (within {tolerance:g} Hz)")
        heard = stats.get("dominant_hz")
        if heard is None:
            window = stats.get("dominant_hz_window_s")
            when = f" in the last {window:g} s" if window else ""
            wrong.append(f"no tone received{when} (silence or under 0.1 s of audio), wanted "
                         f"{tone:g} Hz")
        elif abs(float(heard) - float(tone)) > float(tolerance):
            wrong.append(f"the tone received is {heard:g} Hz, not {tone:g} Hz "
                         f"(within {tolerance:g})")
    digits = args.get("dtmf")
    if digits is not None:
        asked.append(f"DTMF {str(digits)!r} received")
        got = str(stats.get("dtmf_received") or "")
        if got != str(digits):
            wrong.append(f"DTMF received {got!r}, not {str(digits)!r}")
    received = int(stats.get("packets_received") or 0)
    lost = int(stats.get("lost") or 0)
    max_loss = number(args, "max_loss")
    if max_loss is not None:
        asked.append(f"at most {100 * max_loss:g} % lost")
        share = lost / (received + lost) if received + lost else 0.0
        if share > max_loss:
            wrong.append(f"{100 * share:.1f} % lost ({lost} of {received + lost} packets), "
                         f"more than {100 * max_loss:g} %")
    min_mos = number(args, "min_mos")
    if min_mos is not None:
        asked.append(f"MOS at least {min_mos:g}")
        mos = stats.get("mos")
        if mos is None or float(mos) < min_mos:
            wrong.append(f"MOS is {mos}, under {min_mos:g}")
    min_packets = number(args, "min_packets")
    if min_packets is not None:
        asked.append(f"at least {min_packets:g} packets received")
        if received < min_packets:
            wrong.append(f"{received} packets received, fewer than {min_packets:g}")
    return asked, wrong


def _measure(ctx: RunContext, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The call's first stream's statistics (None: no stream negotiated yet)."""
    streams = _media(ctx, name).stats()
    if not streams:
        return None
    stats = dict(streams[0])
    session = ctx.call(name)
    recent = session.media.dominant_hz
    if args.get("tone") is not None and not session.is_ended:
        # the tone heard now (the last seconds), not over the whole call: early media or
        # an earlier play source must not hide the current one
        stats["dominant_hz"] = recent(ctx.now() - TONE_WINDOW)
        stats["dominant_hz_window_s"] = TONE_WINDOW
    return stats


def _hopeless(stats: dict[str, Any], args: dict[str, Any]) -> bool:
    """Digits received that can no longer become the ones asked for."""
    wanted = args.get("dtmf")
    got = str(stats.get("dtmf_received") or "")
    return wanted is not None and not str(wanted).startswith(got)


@step_kind("expect_media", arguments({
           "call": CALL, "codec": STRING, "tone": NUMBER, "tolerance": NUMBER,
           "dtmf": {"type": ["string", "integer"]}, "max_loss": ref("fraction"),
           "min_mos": NUMBER,
           "min_packets": INTEGER}, ("call",), True))
async def expect_media(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    name = args["call"]
    timeout = timeout_of(args, EXPECT_TIMEOUT)
    deadline = ctx.now() + timeout
    session = (await media_up(ctx, name, timeout)).session
    while True:
        stats = _measure(ctx, name, args)
        if stats is None:
            wrong, asked = ["the call has no media stream (no SDP negotiated)"], []
        else:
            asked, wrong = media_problems(stats, args)
        left = deadline - ctx.now()
        if not wrong or session.is_ended or left <= 0 or (stats and _hopeless(stats, args)):
            break
        # the next packet (or a change of the call) changes the figures
        waits = [asyncio.ensure_future(session.media.received(left)),
                 asyncio.ensure_future(session.changed(left))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
    if stats is None:
        raise StepFailed(f"expect_media {name}: the call has no media stream (no SDP "
                         "negotiated)")
    if wrong:
        raise StepFailed(f"expect_media {name}: " + "; ".join(wrong),
                         expected=", ".join(asked),
                         received="\n".join(f"{k}: {v}" for k, v in stats.items()))
