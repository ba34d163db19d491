"""The lean core of ``sipclient load register``: REGISTER storms from byte templates (pure).

The registration counterpart of :class:`~sipclient.load.lean.LeanUac`, driven the same way
(``now`` injected; :meth:`LeanRegistrar.tick`, :meth:`~LeanRegistrar.receive`,
:meth:`~LeanRegistrar.stop`, what to send in :attr:`~LeanRegistrar.out` and
:attr:`~LeanRegistrar.out_to`), so :mod:`sipclient.load.leanrun` runs either on one socket.

Instance ``n`` of a process registers the ``n``-th user of its share of ``--users``
(cycling). A user has one Call-ID and increasing CSeqs (RFC 3261 10.2.4) and at most one
REGISTER in flight: an instance whose user is busy waits for it. A REGISTER is a template
with the user, branch, CSeq and Expires spliced in; the response is scanned
(:func:`~sipclient.load.scan.scan_response`). A 401/407 is answered once with the user's
digest computed here from the challenge's nonce (MD5, with or without ``qop=auth``; the
challenge line read by :mod:`sipclient.load.leanauth`, which keeps what never
changes: HA1 per user and realm, HA2); any other challenge (SHA-256, ``-sess``,
``userhash``, ``auth-int``, an odd spelling) goes through the full parser and
:class:`~sipclient.proto.digest.DigestClient`. Client rules of RFC 3261 17.1.2 for UDP:
sent again at T1 doubling up to T2 until a response, T2 after a 1xx, give-up after
``min(--timeout, 64 T1)`` (reason ``timeout``).

The REGISTER round trip (``register_ms``) runs from the first REGISTER to the final 2xx,
the challenge included. Without ``--refresh`` an instance ends at its 2xx; with it, the
instance keeps the binding and refreshes it at half the granted expiry (the ``expires`` of
our Contact in the 2xx, else its Expires, else what we asked) until the run ends: ``--hold``
+ ``--timeout`` after the last start, or :meth:`~LeanRegistrar.stop`. When every instance
has ended, each binding made is removed (``Expires: 0``, at most ``--concurrency`` in
flight, not counted as instances); then :attr:`~LeanRegistrar.finished` is true.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque

from sipclient.load.leanauth import Answerer, Challenges, challenge_line
from sipclient.load.pacer import Pacer, start_due
from sipclient.load.scan import from_parsed, parse_or_none, scan_response
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats, reason_for_status
from sipclient.proto.builders import build_response
from sipclient.proto.digest import DigestClient
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

__all__ = ["LeanRegistrar", "T1", "T2", "TIMER_F", "PREPARED"]

T1 = 0.5
T2 = 4.0
#: timer F (64 T1): no REGISTER waits longer for its final response
TIMER_F = 64 * T1
#: users whose REGISTER template is built with the registrar (the others: at first use)
PREPARED = 100_000

_TAIL = b"User-Agent: sipclient-load\r\nContent-Length: 0\r\n\r\n"
#: what may follow a branch value in a Via
_AFTER_BRANCH = frozenset((b";", b" ", b"\t", b",", b"\r"))


# what a user's REGISTER in flight is for
_FIRST, _REFRESH, _REMOVE = range(3)


class _Inst:
    """One instance: its user's first registration, then (``--refresh``) its refreshes."""

    __slots__ = ("i", "user", "t0", "due", "ended")

    def __init__(self, i: int, user: "_User", t0: float) -> None:
        self.i = i
        self.user = user
        self.t0 = t0
        self.due = -1.0
        self.ended = False


class _User:
    __slots__ = ("name", "cid", "password", "key", "digest", "cseq", "registered",
                 "jobs", "job", "inst", "t0", "request", "interval", "due",
                 "give_up", "challenged", "expires", "contact", "template", "cseq_line",
                 "via_branch")

    def __init__(self, name: str, cid: bytes, password: str | None) -> None:
        self.name = name.encode()
        self.cid = cid
        self.password = password
        self.key: object = None  # the HA1 of the last realm (leanauth.Answerer.key)
        self.digest: DigestClient | None = None
        self.cseq = 0
        self.registered = False
        self.jobs: deque[tuple[int, _Inst | None]] = deque()
        self.job = -1  # the kind in flight; -1: idle
        self.inst: _Inst | None = None
        self.due = -1.0
        self.template: bytes | None = None


class LeanRegistrar:
    """Registrations of one process (see the module docstring). ``local`` is our concrete
    ``(ip, port)``, ``server`` the registrar, ``domain`` the Request-URI's host and the
    users' domain, ``passwords`` each user's password (None: no credentials),
    ``token`` a random per-process prefix of Call-IDs, tags and branches."""

    def __init__(self, spec: LoadSpec, *, local: tuple[str, int], server: tuple[str, int],
                 domain: str, stats: LoadStats, passwords: dict[str, str | None],
                 token: str, wall_offset: float) -> None:
        if not spec.users:
            raise ValueError("load register needs --users, e.g. 1001-1020")
        self.spec = spec
        self.stats = stats
        self.server = server
        self.wall = wall_offset
        self.out: list[bytes] = []
        self.out_to: list[tuple[bytes, tuple[str, int]]] = []
        self.active = 0
        self.started = 0
        self.retransmissions = 0
        self.strays = 0
        self.garbage = 0
        self.stopped = False
        self.t0: float | None = None
        self.removing = 0  # unregistrations in flight
        self._removals: deque[_User] | None = None  # None: the end phase has not begun
        self._end_at: float | None = None
        self._holding: set[_Inst] = set()  # registered, waiting to refresh (--refresh)
        self._heap: list[tuple[float, int, object]] = []
        #: the first timer E of each REGISTER sent (now + T1: in time order, so a queue)
        self._fifo: deque[tuple[float, _User]] = deque()
        self._seq = itertools.count()
        self._pacer = Pacer(spec.rate, spec.ramp)
        self._wait = min(spec.timeout, TIMER_F)
        self._prefix = token.encode()
        host = f"[{local[0]}]" if ":" in local[0] else local[0]
        hostport = f"{host}:{local[1]}".encode()
        dom = domain.encode()
        self._uri = b"sip:" + dom
        self._head = b"REGISTER " + self._uri + b" SIP/2.0\r\nVia: SIP/2.0/UDP " + hostport \
            + b";rport;branch=z9hG4bK"
        self._dom = dom
        self._hostport = hostport
        self._answerer = Answerer(self._uri, self._prefix)
        self._challenges = Challenges()
        self.users = [_User(name, b"%s-%d" % (self._prefix, k), passwords.get(name))
                      for k, name in enumerate(spec.users)]
        self.by_cid = {u.cid: u for u in self.users}
        # the REGISTERs of the users the run will use, before the first one leaves
        for user in self.users[:min(PREPARED, spec.calls or PREPARED)]:
            user.template = self._template(user)

    # ------------------------------------------------------------------ driving

    @property
    def finished(self) -> bool:
        """Every instance ended and every binding made was removed (or given up)."""
        return (self.active == 0 and self._removals is not None and not self._removals
                and self.removing == 0)

    def _no_more_starts(self, now: float) -> bool:
        spec = self.spec
        if not self.stopped and (
                (spec.calls is not None and self.started >= spec.calls)
                or (spec.duration is not None and self.t0 is not None
                    and now >= self.t0 + spec.duration)):
            self.stopped = True
        if self.stopped and self._end_at is None:
            self._end_at = now + spec.hold + spec.timeout
            self._arm(self, self._end_at)
        return self.stopped

    def stop(self, now: float) -> None:
        """No new instance; held bindings end now (then they are removed)."""
        self.stopped = True
        self._end_at = now
        self._end_holds(now)

    def tick(self, now: float) -> float | None:
        """Fire what is due at ``now``, start the instances due; the next time to call
        again (None: nothing is waiting)."""
        if self.t0 is None:
            self.t0 = now
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, obj = heapq.heappop(heap)
            if obj.due == when:  # type: ignore[attr-defined]
                self._fire(obj, now)
        fifo = self._fifo
        while fifo and fifo[0][0] <= now:
            when, user = fifo.popleft()
            if user.due == when:
                self._fire(user, now)
        nxt = None
        if not self._no_more_starts(now):
            nxt = start_due(self._pacer, self.spec, self, now)
        elif self.active == 0:
            self._remove_bindings(now)
        if heap and (nxt is None or heap[0][0] < nxt):
            nxt = heap[0][0]
        if fifo and (nxt is None or fifo[0][0] < nxt):
            nxt = fifo[0][0]
        return nxt

    # the registrar object itself sits in the heap for the end of the refreshes
    due = -1.0

    def _arm(self, obj: object, when: float) -> None:
        obj.due = when  # type: ignore[attr-defined]
        heapq.heappush(self._heap, (when, next(self._seq), obj))

    def _fire(self, obj: object, now: float) -> None:
        if obj is self:
            self._end_holds(now)
        elif isinstance(obj, _Inst):  # time to refresh
            self._holding.discard(obj)
            self._queue(obj.user, _REFRESH, obj, now)
        else:
            user: _User = obj  # type: ignore[assignment]
            if now >= user.give_up:
                self._done(user, now, None, ("timeout", f"no response to REGISTER "
                                             f"{user.name.decode()} in {self._wait:g} s"))
            else:  # timer E
                self.out.append(user.request)
                self.retransmissions += 1
                user.interval = min(user.interval * 2, T2)
                self._arm(user, min(now + user.interval, user.give_up))

    def _end_holds(self, now: float) -> None:
        for inst in list(self._holding):
            self._end(inst, now)

    # ------------------------------------------------------------------ requests

    def _start(self, now: float) -> None:
        n = self.started
        self.started += 1
        i = self.spec.process_index + 1 + n * self.spec.processes
        user = self.users[n % len(self.users)]
        inst = _Inst(i, user, now)
        self.active += 1
        self.stats.started(now + self.wall)
        if user.job >= 0:
            user.jobs.append((_FIRST, inst))
        else:
            self._send(user, _FIRST, inst, now)

    def _queue(self, user: _User, kind: int, inst: _Inst | None, now: float) -> None:
        if user.job >= 0:
            user.jobs.append((kind, inst))
        else:
            self._send(user, kind, inst, now)

    def _send(self, user: _User, kind: int, inst: _Inst | None, now: float) -> None:
        user.job = kind
        user.inst = inst
        user.t0 = now
        user.challenged = False
        user.expires = 0 if kind == _REMOVE else self.spec.expires
        user.give_up = now + self._wait
        self._transmit(user, b"", now)

    def _transmit(self, user: _User, auth: bytes, now: float) -> None:
        user.cseq = cseq = user.cseq + 1
        template = user.template
        if template is None:  # the user's REGISTER with %-holes for what varies
            template = user.template = self._template(user)
        user.via_branch = b";branch=z9hG4bK%s.%s.%d" % (self._prefix, user.name, cseq)
        user.cseq_line = b"\r\nCSeq: %d REGISTER\r\n" % cseq
        user.request = request = template % (cseq, cseq, user.expires, auth)
        user.interval = T1
        self.out.append(request)
        when = now + T1
        fifo = self._fifo
        if when <= user.give_up and (not fifo or fifo[-1][0] <= when):
            user.due = when
            fifo.append((when, user))
        else:
            self._arm(user, min(when, user.give_up))

    def _template(self, user: _User) -> bytes:
        """``user``'s REGISTER with ``%d`` for the branch's and the CSeq's number and the
        Expires, ``%s`` for the credentials line (the fixed parts %-escaped)."""
        name, dom = user.name, self._dom
        user.contact = b"<sip:%s@%s>" % (name, self._hostport)
        fixed = (self._head + self._prefix + b"." + name + b".",
                 b"\r\nMax-Forwards: 70\r\nFrom: <sip:" + name + b"@" + dom + b">;tag="
                 + user.cid + b"\r\nTo: <sip:" + name + b"@" + dom + b">\r\nCall-ID: "
                 + user.cid + b"\r\nCSeq: ",
                 b" REGISTER\r\nContact: " + user.contact + b"\r\nExpires: ",
                 b"\r\n", _TAIL)
        a, b, c, d, e = (part.replace(b"%", b"%%") for part in fixed)
        return a + b"%d" + b + b"%d" + c + b"%d" + d + b"%s" + e

    # ------------------------------------------------------------------ responses

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One datagram from ``addr``."""
        # the common case, read in place: a response in the usual spelling whose Call-ID,
        # CSeq line and top Via branch are those of a user's REGISTER in flight
        # (the top Via's branch: the message's first ``;branch=``, followed by the end of
        # the value; anything else goes to the general scan below)
        find = data.find
        i = find(b"\r\nCall-ID: ") + 11
        if i > 11 and data.startswith(b"SIP/2.0 "):
            user = self.by_cid.get(data[i:find(b"\r\n", i)])
            if user is not None and user.job >= 0 and \
                    data.startswith(user.cseq_line, find(b"\r\nCSeq: ")):
                b = find(b";branch=")
                via_branch = user.via_branch
                end = b + len(via_branch)
                if data.startswith(via_branch, b) and data[end:end + 1] in _AFTER_BRANCH:
                    code = data[8:11]
                    if code == b"401" and not user.challenged and user.password is not None:
                        user.challenged = True  # answered once (else: the failure below)
                        auth = self._answer(user, 401, data)
                        if auth is not None:
                            self._transmit(user, auth, now)
                            return
                    if code.isdigit():
                        self._response(user, int(code), data, now)
                        return
        r = scan_response(data)
        if r is None:
            msg = parse_or_none(data)
            if isinstance(msg, Request):
                self._peer_request(msg, addr)
                return
            r = from_parsed(msg, data) if isinstance(msg, Response) else None
            if r is None:
                self.garbage += 1
                return
        user = self.by_cid.get(r.call_id)
        if (user is None or user.job < 0 or r.cseq != user.cseq or r.method != b"REGISTER"
                or r.branch != user.via_branch[8:]):
            self.strays += 1
            return
        self._response(user, r.status, r.data, now)

    def _response(self, user: _User, status: int, data: bytes, now: float) -> None:
        """The response to ``user``'s REGISTER in flight."""
        if status < 200:
            user.interval = T2  # Proceeding: timer E at T2
            return
        if status in (401, 407) and not user.challenged and user.password is not None:
            auth = self._answer(user, status, data)
            if auth is not None:
                user.challenged = True
                user.due = -1.0
                self._transmit(user, auth, now)
                return
        if status >= 300:
            self._done(user, now, status, (reason_for_status(status),
                                           f"REGISTER {user.name.decode()} answered {status}"))
        elif self.spec.refresh and user.job != _REMOVE:
            self._done(user, now, status, None, _granted(data, user.contact, user.expires))
        else:
            self._done(user, now, status, None)

    def _answer(self, user: _User, status: int, data: bytes) -> bytes | None:
        """The credentials line answering the challenge in ``data`` (None: cannot)."""
        assert user.password is not None
        line = challenge_line(data, status)
        ch = self._challenges[line] if line is not None else None
        if ch is None:
            return self._answer_parsed(user, status, data)
        key = user.key
        if key is None or key.realm != ch.realm:  # type: ignore[attr-defined]
            key = user.key = self._answerer.key(user.name, user.password.encode(), ch.realm)
        return self._answerer.line(status, key, ch)  # type: ignore[arg-type]

    def _answer_parsed(self, user: _User, status: int, data: bytes) -> bytes | None:
        """The rare path: the full parser and the general digest client."""
        from sipclient.proto.digest import choose_challenge, header_name_for

        msg = parse_or_none(data)
        if not isinstance(msg, Response):
            return None
        name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        try:
            challenge = choose_challenge(msg.headers.get_all(name))
            if user.digest is None:
                user.digest = DigestClient(user.name.decode(), user.password or "")
            value = user.digest.authorization(challenge, "REGISTER", self._uri.decode())
        except (ParseError, ValueError):
            return None
        return f"{header_name_for(status)}: {value}\r\n".encode()

    def _done(self, user: _User, now: float, status: int | None,
              failure: tuple[str, str] | None, granted: int = 0) -> None:
        """The REGISTER of ``user`` in flight ended (``failure`` None: a 2xx)."""
        kind, inst = user.job, user.inst
        user.job = -1
        user.inst = None
        user.due = -1.0
        stats = self.stats
        if kind == _REMOVE:
            self.removing -= 1
            user.registered = False
            self._remove_bindings(now)
        elif inst is not None:
            if kind == _FIRST and status is not None:
                stats.status(status)
            if failure is not None:
                self._end(inst, now, failure)
            else:
                user.registered = user.expires > 0
                stats.latency("register_ms", (now - user.t0 if kind == _REFRESH else
                                              now - inst.t0) * 1000.0, now + self.wall)
                if self.spec.refresh and not (self._end_at is not None
                                              and now >= self._end_at):
                    self._holding.add(inst)
                    self._arm(inst, now + max(1.0, (granted or self.spec.expires) / 2))
                else:
                    self._end(inst, now)
        if user.jobs:
            kind, waiting = user.jobs.popleft()
            self._send(user, kind, waiting, now)

    def _end(self, inst: _Inst, now: float, failure: tuple[str, str] | None = None) -> None:
        if inst.ended:
            return
        inst.ended = True
        inst.due = -1.0
        self._holding.discard(inst)
        self.active -= 1
        if failure is None:
            self.stats.ended(now + self.wall)
        else:
            self.stats.ended(now + self.wall, *failure)

    def _remove_bindings(self, now: float) -> None:
        """The end: remove every binding made, ``--concurrency`` at a time."""
        if self._removals is None:
            self._removals = deque(u for u in self.users if u.registered)
        while self._removals and self.removing < self.spec.concurrency:
            user = self._removals.popleft()
            self.removing += 1
            self._queue(user, _REMOVE, None, now)

    # ------------------------------------------------------------------ the far end

    def _peer_request(self, req: Request, addr: tuple[str, int]) -> None:
        if req.method == "ACK":
            return
        status = 200 if req.method in ("OPTIONS", "NOTIFY") else 480
        try:
            resp = build_response(req, status, "OK" if status == 200 else
                                  "Temporarily Unavailable")
            self.out_to.append((resp.serialize(), addr))
        except (ParseError, AttributeError, TypeError):
            self.garbage += 1


def _granted(data: bytes, contact: bytes, asked: int) -> int:
    """The expiry granted to our Contact: its ``;expires=`` in the 2xx, else the Expires
    header, else what we asked (a registrar lists every binding of the AoR)."""
    i = data.find(contact)
    if i >= 0:
        end = data.find(b"\r\n", i)
        seg = data[i + len(contact):end if end >= 0 else len(data)].split(b",", 1)[0]
        k = seg.find(b";expires=")
        if k >= 0:
            value = seg[k + 9:].split(b";", 1)[0].strip()
            if value.isdigit():
                return int(value)
    i = data.find(b"\r\nExpires: ")
    if i >= 0:
        value = data[i + 11:data.find(b"\r\n", i + 11)].strip()
        if value.isdigit():
            return int(value)
    return asked
