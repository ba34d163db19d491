"""``sipclient answer``: register and answer incoming calls until Ctrl-C or ``--count``.

    sipclient answer -s udp:127.0.0.1:7048 -u 1002 --password-env PW            # until Ctrl-C
    sipclient answer -s tcp:127.0.0.1:7048 -u 1002 --busy --count 1             # 486 once
    sipclient answer -s udp:127.0.0.1:7048 -u 1002 --answer-after 2 --duration 5
    sipclient answer -s udp:127.0.0.1:7048 -u 1002 --codec GSM --play tone:600 --json

Each call rings (180), is answered after ``--answer-after`` seconds (200) and lasts until
the caller hangs up, or ``--duration`` seconds. On Ctrl-C/SIGTERM calls are hung up and the
extension unregistered before exiting 130/143. Each call carries real RTP (``--play``,
``--record``, ``--dtmf``; with several calls ``--record x.wav`` writes ``x-2.wav``...); with
``--json`` the object has a ``"media"`` list (each stream with its ``call_id``). Exit codes:
docs/cli.md.

An answering process may run for days: what it keeps is bounded (docs/limits.md). The
report lists the newest ``answer_calls_reported`` calls (and their streams) one by one and
counts every call by result in ``calls_total``; the trace behind ``flow`` and ``--trace``
keeps the newest ``answer_trace_entries`` messages; a call's task leaves once it is done.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Any

from sipclient.cli import EXIT_FAILURE, Env
from sipclient.cli._common import add_webrtc_option
from sipclient.cli._common import (Session, add_common_options, add_media_options, bounded,
                                   exit_for_status, media_config, media_report, positive_int,
                                   run_session, seconds, send_dtmf_later)
from sipclient.cli._help import add_command
from sipclient.proto.limits import limit


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "answer", run)
    add_common_options(p)
    add_webrtc_option(p)
    c = p.add_argument_group("answering")
    c.add_argument("--no-register", action="store_true",
                   help="do not register: listen for calls at --local-address/--local-port, "
                        "default the --server address (UDP, TCP, TLS, ws://, wss://)")
    c.add_argument("--tls-cert", metavar="PEM",
                   help="--no-register over TLS or WSS: our certificate")
    c.add_argument("--tls-key", metavar="PEM",
                   help="--no-register over TLS or WSS: its private key")
    c.add_argument("--answer-after", type=seconds, default=0.0, metavar="S",
                   help="ring S seconds before answering (default 0)")
    c.add_argument("--busy", action="store_true", help="reject every call with 486 Busy Here")
    c.add_argument("--count", type=positive_int, metavar="N", help="exit after N calls")
    c.add_argument("--duration", "-d", type=seconds, metavar="S",
                   help="hang up S seconds after answering (default: wait for the caller)")
    add_media_options(p)


def run(args: argparse.Namespace, env: Env) -> int:
    return run_session("answer", args, env, _answer, config_from=_config)


def _config(args: argparse.Namespace) -> dict[str, Any]:
    out = media_config(args)
    # every message is kept only when shown (--trace) or reported (--json "flow"): an
    # answering process runs for long, and its trace would grow with every call
    out["record_trace"] = bool(args.json or args.trace)
    out["trace_limit"] = int(limit("answer_trace_entries"))
    if args.no_register:  # no registrar, no outbound proxy: callers come straight to us
        out.update(listen=True, cert_file=args.tls_cert, key_file=args.tls_key)
    return out


async def _answer(s: Session, agent: Any) -> None:
    a, r = s.args, s.result
    report = _Report(r)
    if not getattr(a, "webrtc", False):
        # numpy and the codec libraries load now, not with the first call: that took 200 to
        # 800 ms, long enough for a proxy to retransmit the first INVITE
        from sipclient.agent import media  # noqa: F401
    if not a.no_register:
        reg = await bounded(s, agent.register())
        r.final(reg)
        r.call_id = s.call_id_of("REGISTER")
        if not reg.ok:
            r.fail(f"registration failed: {reg.status} {reg.reason}", exit_for_status(reg.status))
            return
        s.say(f"registered {s.user} at {s.server}: {reg.status} {reg.reason}; waiting for "
              "calls (Ctrl-C to stop)")
    else:
        s.say(f"waiting for calls on {s.server} (Ctrl-C to stop)")
    tasks: set[asyncio.Task[None]] = set()
    try:
        while a.count is None or report.count < a.count:
            incoming = await agent.next_incoming(timeout=None)
            record = report.new_call(incoming.call_id, _caller(incoming))
            task = asyncio.ensure_future(_handle(s, incoming, record, report))
            tasks.add(task)
            task.add_done_callback(tasks.discard)  # a long run keeps no finished call
            task.add_done_callback(lambda _t, rec=record: report.done(rec))
        await asyncio.gather(*tasks)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        report.trim()
    if report.failed:
        r.fail(f"{report.failed} of {report.count} calls failed: {report.first_error}",
               EXIT_FAILURE)
    elif r.error is None:
        r.ok = True


class _Report:
    """The per-call part of the report, bounded: the newest ``answer_calls_reported`` calls
    and their streams in ``calls`` and ``media``, every call counted by result in
    ``calls_total`` (``calls_not_listed``: how many left the list)."""

    def __init__(self, result: Any) -> None:
        self.keep = int(limit("answer_calls_reported"))
        self.calls: list[dict[str, Any]] = []
        self.media: list[dict[str, Any]] = []
        self.totals: Counter[str] = Counter()
        self.count = self.failed = 0
        self.first_error: str | None = None
        result.extra.update(calls=self.calls, calls_total=self.totals, calls_not_listed=0,
                            media=self.media)
        self.extra = result.extra

    def new_call(self, call_id: str, caller: str | None) -> dict[str, Any]:
        record: dict[str, Any] = {"call_id": call_id, "from": caller}
        self.count += 1
        self.calls.append(record)
        if len(self.calls) > 2 * self.keep:  # trimmed in batches: amortised O(1)
            self.trim()
        return record

    def add_media(self, record: dict[str, Any], streams: list[dict[str, Any]]) -> None:
        """A call's streams, when the call is still listed (it ends long after it came)."""
        if any(c is record for c in reversed(self.calls)):
            self.media += streams

    def trim(self) -> None:
        """Keep the newest ``keep`` calls and their streams."""
        dropped = max(len(self.calls) - self.keep, 0)
        if dropped:
            del self.calls[:dropped]
            self.extra["calls_not_listed"] += dropped
            kept = {c["call_id"] for c in self.calls}
            self.media[:] = [m for m in self.media if m.get("call_id") in kept]

    def done(self, record: dict[str, Any]) -> None:
        self.totals[record.get("result", "interrupted")] += 1
        if record.get("result") == "failed":
            self.failed += 1
            self.first_error = self.first_error or record.get("error")


async def _handle(s: Session, incoming: Any, record: dict[str, Any], report: _Report
                  ) -> None:
    a = s.args
    who = record["from"]
    try:
        if a.busy:
            await incoming.reject(486)
            record.update(result="rejected", status=486)
            s.say(f"call from {who}: rejected 486 Busy Here")
            return
        await incoming.ringing()
        if a.answer_after:
            await asyncio.sleep(a.answer_after)
        if incoming.is_ended:
            _unanswered(s, incoming, record)
            return
        await incoming.answer()
        if incoming.final is None or incoming.final.status != 200:
            _unanswered(s, incoming, record)
            return
        record.update(result="answered", status=200)
        s.say(f"call from {who}: answered")
        dtmf = asyncio.ensure_future(send_dtmf_later(incoming, a))
        try:
            reason = await asyncio.wait_for(incoming.wait_ended(), a.duration)
        except (TimeoutError, asyncio.TimeoutError):
            await incoming.hangup()
            reason = "local BYE"
        finally:
            dtmf.cancel()
        await incoming.media.close()  # plays out what is buffered, RTCP BYE; the stats stay
        _report_media(s, incoming, record, report)
        record["ended_by"] = "local" if "local" in str(reason) else "remote"
        s.say(f"call from {who}: ended ({reason})")
    except asyncio.CancelledError:
        if record.get("result") == "answered" and "ended_by" not in record:
            # interrupted (Ctrl-C, SIGTERM) during the call: the agent's cleanup hangs up
            _report_media(s, incoming, record, report)
            record["ended_by"] = "local"
        raise
    except Exception as exc:  # noqa: BLE001 - one bad call must not end the others
        record.update(result="failed", error=str(exc) or type(exc).__name__)
        s.say(f"call from {who}: failed: {record['error']}")


def _unanswered(s: Session, incoming: Any, record: dict[str, Any]) -> None:
    """Ended before our 200: cancelled by the caller, or dropped to make room for newer
    calls (the unconfirmed_calls limit, sipclient.agent.admission)."""
    if str(incoming.end_reason or "").startswith("dropped"):
        record.update(result="dropped", status=503)
        s.say(f"call from {record['from']}: {incoming.end_reason}")
    else:
        record.update(result="cancelled", status=487)
        s.say(f"call from {record['from']}: cancelled by the caller")


def _report_media(s: Session, incoming: Any, record: dict[str, Any], report: _Report
                  ) -> None:
    streams = [{"call_id": incoming.call_id, **m} for m in media_report(incoming)]
    for stream in streams:
        if stream.get("record_error"):  # known now, even if the stream is not listed
            s.result.fail(stream["record_error"], EXIT_FAILURE)
    report.add_media(record, streams)


def _caller(incoming: Any) -> str | None:
    try:
        uri = incoming.request.from_.uri
        return str(getattr(uri, "user", None) or uri)
    except Exception:  # noqa: BLE001 - a From we cannot read
        return None
