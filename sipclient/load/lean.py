"""The lean UAC of ``sipclient load call``: SIPp's way -- byte templates and a targeted scan.

A sans-I/O core for many calls of one process (UDP, ``--media none``): no general parser,
no transaction or dialog objects on the common path. :class:`LeanUac` is driven from outside
with ``now`` (seconds, monotonic) injected:

* :meth:`LeanUac.tick` fires what is due (retransmissions, holds, give-ups, new calls paced
  by :class:`~sipclient.load.pacer.Pacer` under ``--concurrency``) and returns when it wants
  to be called again;
* :meth:`LeanUac.receive` takes one datagram;
* what to send collects in :attr:`LeanUac.out` (to the server) and :attr:`LeanUac.out_to`
  (``(data, addr)``: answers to the far end's requests); the driver sends and clears them;
* :meth:`LeanUac.stop` stops new calls and hangs up the held ones (Ctrl-C, SIGTERM).

A call is INVITE (pre-built bytes with the call's Call-ID, branch, tag, Request-URI spliced
in), 1xx, 2xx, ACK, the hold, BYE, 2xx -- with the RFC 3261 client rules for UDP: INVITE
sent again at T1, 2 T1, 4 T1 ... until the first response (timer A), BYE at T1 doubling up to
T2 (timer E); the call gives up after ``min(--timeout, 64 T1)`` without a response (timer
B / F), a 2xx received again is ACKed again, a non-2xx final is ACKed (same branch) and
kept 32 s to ACK its retransmissions (timer D). A 401/407 (with ``--password``), a request
from the far end (BYE: 200 and the call ends completed; others as the core driver answers
them) and any response the scan cannot read go through the full parser
(:mod:`sipclient.load.scan`). Responses for calls we do not know are counted
(:attr:`LeanUac.strays`) and dropped; so are datagrams that do not parse
(:attr:`LeanUac.garbage`).

Statistics go to a :class:`~sipclient.load.stats.LoadStats` exactly as the core driver
records them (attempted, completed, failed by status and reason, setup and post-dial delay).
"""

from __future__ import annotations

import heapq
import itertools

from sipclient.load.leanmedia import LeanMedia, sdp_remote
from sipclient.load.pacer import Pacer, start_due
from sipclient.load.scan import Scanned, from_parsed, parse_or_none, scan_response
from sipclient.load.spec import LoadSpec, request_uri_for
from sipclient.load.stats import LoadStats, reason_for_status
from sipclient.proto.builders import build_response
from sipclient.proto.digest import DigestClient
from sipclient.proto.errors import ParseError
from sipclient.proto.ids import IdGenerator
from sipclient.proto.message import Request, Response, parse_message
from sipclient.proto.uac import authenticate

__all__ = ["LeanUac", "T1", "T2", "TIMER_B", "LINGER"]

T1 = 0.5
T2 = 4.0
#: timer B / F (64 T1): no transaction waits longer for a response
TIMER_B = 64 * T1
#: timer D (UDP): how long a failed call stays to ACK its final response again
LINGER = 32.0

_INVITING, _RINGING, _HOLDING, _BYEING, _LINGER, _DONE = range(1, 7)
_AUTH_HEADERS = ("Authorization", "Proxy-Authorization")


class _Call:
    __slots__ = ("i", "cid", "tag", "ruri", "t0", "state", "method", "cseq", "branch",
                 "request", "interval", "due", "give_up", "hard", "pdd", "challenged",
                 "inv_cseq", "to", "ack", "target", "routes", "auth")


class LeanUac:
    """Calls of one process (see the module docstring). ``local`` is our concrete
    ``(ip, port)``, ``server`` where every request goes, ``wall_offset`` what turns ``now``
    into wall-clock time for the per-second rows, ``token`` a random per-process prefix of
    the Call-IDs, tags and branches."""

    def __init__(self, spec: LoadSpec, *, local: tuple[str, int], server: tuple[str, int],
                 domain: str, stats: LoadStats, sdp: bytes, token: str, wall_offset: float,
                 digest: DigestClient | None = None, ids: IdGenerator | None = None,
                 media: LeanMedia | None = None) -> None:
        self.spec = spec
        #: ``--media packets``: each answered call's stream (started at the 2xx, stopped
        #: at the hang-up; its figures go to ``stats.media``)
        self.media = media
        self.stats = stats
        self.server = server
        self.wall = wall_offset
        self.digest = digest
        self.ids = ids or IdGenerator()
        self.out: list[bytes] = []
        self.out_to: list[tuple[bytes, tuple[str, int]]] = []
        self.calls: dict[bytes, _Call] = {}
        self.active = 0
        self.started = 0
        self.retransmissions = 0
        self.reacks = 0
        self.strays = 0
        self.garbage = 0
        self.stopped = False
        self.t0: float | None = None
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._pacer = Pacer(spec.rate, spec.ramp)
        self._wait = min(spec.timeout, TIMER_B)
        self._user = spec.user or "sipclient"
        host = f"[{local[0]}]" if ":" in local[0] else local[0]
        hostport = f"{host}:{local[1]}"
        self._contact_hdr = f"Contact: <sip:{self._user}@{hostport}>"
        self._prefix = token.encode()
        self._via = f"Via: SIP/2.0/UDP {hostport};rport;branch=z9hG4bK".encode()
        self._from = f"\r\nMax-Forwards: 70\r\nFrom: <sip:{self._user}@{domain}>;tag=".encode()
        self._invite_tail = (f"\r\n{self._contact_hdr}\r\nUser-Agent: sipclient-load\r\n"
                             f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}"
                             "\r\n\r\n").encode() + sdp
        self._domain = domain
        number = spec.number or ""
        self._fixed = None if "${i}" in number else self._uris(number)

    def _uris(self, number: str) -> tuple[bytes, bytes]:
        uri, to_uri = request_uri_for(number, self.server, self._domain)
        return uri.encode(), to_uri.encode()

    # ------------------------------------------------------------------ driving

    @property
    def finished(self) -> bool:
        """No call will start any more and none is in flight."""
        return self.active == 0 and self._no_more_starts(None)

    def _no_more_starts(self, now: float | None) -> bool:
        spec = self.spec
        if self.stopped or (spec.calls is not None and self.started >= spec.calls):
            return True
        if spec.duration is not None and self.t0 is not None and now is not None \
                and now >= self.t0 + spec.duration:
            self.stopped = True
        return self.stopped

    def stop(self, now: float) -> None:
        """No new call; held calls hang up now."""
        self.stopped = True
        for call in list(self.calls.values()):
            if call.state == _HOLDING:
                self._send_bye(call, now)

    def tick(self, now: float) -> float | None:
        """Fire what is due at ``now``, start the calls due; the next time to call again
        (None: nothing is waiting)."""
        if self.t0 is None:
            self.t0 = now
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, call = heapq.heappop(heap)
            if call.due == when:
                self._fire(call, now)
        nxt = heap[0][0] if heap else None
        if not self._no_more_starts(now):
            at = start_due(self._pacer, self.spec, self, now)
            if at is not None:
                nxt = at if nxt is None else min(nxt, at)
            if heap and (nxt is None or heap[0][0] < nxt):  # the new calls' timers
                nxt = heap[0][0]
        return nxt

    def _arm(self, call: _Call, when: float) -> None:
        call.due = when
        heapq.heappush(self._heap, (when, next(self._seq), call))

    def _fire(self, call: _Call, now: float) -> None:
        state = call.state
        if state == _LINGER:
            call.state = _DONE
            self.calls.pop(call.cid, None)
        elif state == _HOLDING:
            self._send_bye(call, now)
        elif now >= call.give_up:
            self._fail(call, now, "timeout",
                       f"no response to {call.method.decode()} in {self._wait:g} s")
        elif state == _RINGING:
            self._arm(call, call.give_up)
        else:  # timer A / E: send again
            self.out.append(call.request)
            self.retransmissions += 1
            call.interval = call.interval * 2 if state == _INVITING else \
                min(call.interval * 2, T2)
            self._arm(call, min(now + call.interval, call.give_up))

    # ------------------------------------------------------------------ requests

    def _start(self, now: float) -> None:
        spec = self.spec
        i = spec.process_index + 1 + self.started * spec.processes
        self.started += 1
        call = _Call()
        call.i = i
        call.cid = b"%s-%d" % (self._prefix, i)
        call.tag = call.cid
        if self._fixed is not None:
            ruri, to_uri = self._fixed
        else:
            ruri, to_uri = self._uris((spec.number or "").replace("${i}", str(i)))
        call.ruri = ruri
        call.t0 = now
        call.state = _INVITING
        call.method = b"INVITE"
        call.cseq = call.inv_cseq = 1
        call.branch = b"z9hG4bK%s.%d.1" % (self._prefix, i)
        call.pdd = call.challenged = False
        call.ack = call.target = None
        call.auth = b""
        call.routes = b""
        call.request = b"".join((
            b"INVITE ", ruri, b" SIP/2.0\r\n", self._via, call.branch[7:], self._from,
            call.tag, b"\r\nTo: <", to_uri, b">\r\nCall-ID: ", call.cid,
            b"\r\nCSeq: 1 INVITE", self._invite_tail))
        call.interval = T1
        call.hard = now + spec.hold + 2 * spec.timeout + 5
        call.give_up = min(now + self._wait, call.hard)
        self.calls[call.cid] = call
        self.active += 1
        self.stats.started(now + self.wall)
        self.out.append(call.request)
        self._arm(call, now + T1)

    def _in_dialog(self, call: _Call, method: bytes, cseq: int, branch: bytes,
                   tail: bytes) -> bytes:
        return b"".join((
            method, b" ", call.target, b" SIP/2.0\r\n", self._via, branch[7:], self._from,
            call.tag, b"\r\n", call.routes, b"To: ", call.to, b"\r\nCall-ID: ", call.cid,
            b"\r\nCSeq: %d " % cseq, method, b"\r\n", tail, b"Content-Length: 0\r\n\r\n"))

    def _media_stop(self, call: _Call) -> None:
        if self.media is not None:
            figures = self.media.stop(call.cid)
            if figures is not None:
                self.stats.media.append(figures)

    def _send_bye(self, call: _Call, now: float) -> None:
        if self.media is not None:
            self._media_stop(call)
        call.state = _BYEING
        call.method = b"BYE"
        call.cseq = call.inv_cseq + 1
        call.branch = b"z9hG4bK%s.%d.b" % (self._prefix, call.i)
        call.challenged = False
        call.request = self._in_dialog(call, b"BYE", call.cseq, call.branch, b"")
        call.interval = T1
        call.t0 = now
        call.give_up = min(now + self._wait, call.hard + self._wait)
        self.out.append(call.request)
        self._arm(call, now + T1)

    def _ack_final(self, call: _Call, r: Scanned) -> bytes:
        """The ACK of a non-2xx final response (17.1.1.3: same branch and Request-URI)."""
        return b"".join((
            b"ACK ", call.ruri, b" SIP/2.0\r\n", self._via, call.branch[7:], self._from,
            call.tag, b"\r\nTo: ", r.to, b"\r\nCall-ID: ", call.cid,
            b"\r\nCSeq: %d ACK\r\n" % call.cseq, b"Content-Length: 0\r\n\r\n"))

    # ------------------------------------------------------------------ responses

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One datagram from ``addr``."""
        r = scan_response(data)
        if r is None:
            msg = parse_or_none(data)
            if isinstance(msg, Request):
                self._peer_request(msg, addr, now)
                return
            r = from_parsed(msg, data) if isinstance(msg, Response) else None
            if r is None:
                self.garbage += 1
                return
        call = self.calls.get(r.call_id)
        if call is None:
            self.strays += 1
            return
        state = call.state
        if (r.cseq == call.cseq and r.method == call.method and r.branch == call.branch
                and state in (_INVITING, _RINGING, _BYEING)):
            if state == _BYEING:
                self._bye_response(call, r, now)
            else:
                self._invite_response(call, r, now)
        elif (r.method == b"INVITE" and r.status >= 200 and call.ack is not None
              and r.cseq == call.inv_cseq):
            self.out.append(call.ack)  # the final response again: our ACK was lost
            self.reacks += 1
        else:
            self.strays += 1

    def _invite_response(self, call: _Call, r: Scanned, now: float) -> None:
        status = r.status
        stats = self.stats
        if status < 200:
            call.state = _RINGING  # no more retransmissions (17.1.1.2)
            if not call.pdd and (status == 180 or status == 183):
                call.pdd = True
                stats.latency("pdd_ms", (now - call.t0) * 1000.0, now + self.wall)
            # the timer A entry still pending wakes the call; _fire then waits for give_up
            # (no entry per 1xx: at thousands of calls/s, 32 s of them would pile up)
            call.give_up = min(now + self._wait, call.hard)
            return
        if status >= 300:
            ack = self._ack_final(call, r)
            self.out.append(ack)
            if status in (401, 407) and not call.challenged and self.digest is not None \
                    and self._authenticate(call, r, now):
                return
            call.ack = ack
            stats.status(status)
            self._fail(call, now, reason_for_status(status), f"INVITE answered {status}",
                       linger=True)
            return
        stats.status(status)
        stats.latency("setup_ms", (now - call.t0) * 1000.0, now + self.wall)
        if r.contact is None:
            self._fail(call, now, "error", "unusable 200 to INVITE: no Contact")
            return
        call.to = r.to
        routes = list(reversed(r.routes))
        if routes and b";lr" not in routes[0]:  # a strict router (12.2.1.1)
            call.target = _strip(routes.pop(0))
            routes.append(b"<" + r.contact + b">")
        else:
            call.target = r.contact
        call.routes = b"".join(b"Route: " + rr + b"\r\n" for rr in routes)
        call.ack = self._in_dialog(call, b"ACK", call.inv_cseq,
                                   b"z9hG4bK%s.%d.a" % (self._prefix, call.i), call.auth)
        self.out.append(call.ack)
        if self.media is not None:
            remote = sdp_remote(r.data)
            if remote is not None:
                self.media.start(call.cid, remote, now)
        if self.stopped or self.spec.hold <= 0:
            self._send_bye(call, now)
        else:
            call.state = _HOLDING
            self._arm(call, now + self.spec.hold)

    def _bye_response(self, call: _Call, r: Scanned, now: float) -> None:
        status = r.status
        if status < 200:
            call.interval = T2
            return
        if status in (401, 407) and not call.challenged and self.digest is not None \
                and self._authenticate(call, r, now):
            return
        if status >= 300 and status != 481:
            self._fail(call, now, reason_for_status(status), f"BYE answered {status}")
            return
        self._complete(call, now)

    def _authenticate(self, call: _Call, r: Scanned, now: float) -> bool:
        """Send the request again with the digest answering ``r`` (the rare path: parsed)."""
        assert self.digest is not None
        try:
            retry = authenticate(parse_message(call.request), parse_message(r.data),
                                 self.digest, self.ids)
        except (ParseError, ValueError):
            return False
        if retry is None:
            return False
        call.challenged = True
        call.request = retry.serialize()
        call.cseq = retry.cseq.seq
        call.branch = str(retry.top_via.params["branch"]).encode()
        if call.method == b"INVITE":
            call.inv_cseq = call.cseq
            call.state = _INVITING
            call.auth = b"".join(f"{name}: {value}\r\n".encode()
                                 for name in _AUTH_HEADERS
                                 for value in retry.headers.get_all(name))
        call.interval = T1
        call.give_up = min(now + self._wait, call.hard + self._wait)
        self.out.append(call.request)
        self._arm(call, now + T1)
        return True

    def _complete(self, call: _Call, now: float) -> None:
        if self.media is not None:
            self._media_stop(call)
        call.state = _DONE
        call.due = -1.0
        self.calls.pop(call.cid, None)
        self.active -= 1
        self.stats.ended(now + self.wall)

    def _fail(self, call: _Call, now: float, reason: str, detail: str,
              linger: bool = False) -> None:
        if self.media is not None:
            self._media_stop(call)
        self.active -= 1
        self.stats.ended(now + self.wall, reason, detail)
        if linger:
            call.state = _LINGER
            self._arm(call, now + LINGER)
        else:
            call.state = _DONE
            call.due = -1.0
            self.calls.pop(call.cid, None)

    # ------------------------------------------------------------------ the far end

    def _peer_request(self, req: Request, addr: tuple[str, int], now: float) -> None:
        if req.method == "ACK":
            return
        try:
            call = self.calls.get(req.call_id.encode())
        except (ParseError, AttributeError):
            self.garbage += 1
            return
        state = call.state if call is not None else None
        status = 481
        if req.method == "BYE" and call is not None and state in (_HOLDING, _BYEING):
            status = 200
            self._complete(call, now)
        elif req.method in ("OPTIONS", "NOTIFY", "INFO", "UPDATE") or (
                req.method == "INVITE" and state == _HOLDING):
            status = 200
        headers = [tuple(self._contact_hdr.split(": ", 1))] if req.method == "INVITE" else []
        try:
            resp = build_response(req, status, "OK" if status == 200 else
                                  "Call/Transaction Does Not Exist", headers=headers)
            self.out_to.append((resp.serialize(), addr))
        except (ParseError, AttributeError, TypeError):
            self.garbage += 1


def _strip(uri: bytes) -> bytes:
    uri = uri.strip()
    if uri.startswith(b"<"):
        return uri[1:uri.find(b">")]
    return uri
