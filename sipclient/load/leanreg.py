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
challenge line read by :func:`scan_challenge`); any other challenge (SHA-256, ``-sess``,
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

import hashlib
import heapq
import itertools
import re
from collections import deque

from sipclient.load.pacer import Pacer, start_due
from sipclient.load.scan import from_parsed, parse_or_none, scan_response
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats, reason_for_status
from sipclient.proto.builders import build_response
from sipclient.proto.digest import DigestClient
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

__all__ = ["LeanRegistrar", "scan_challenge", "digest_line", "T1", "T2", "TIMER_F"]

T1 = 0.5
T2 = 4.0
#: timer F (64 T1): no REGISTER waits longer for its final response
TIMER_F = 64 * T1

_PARAM = re.compile(rb'([A-Za-z-]+)[ \t]*=[ \t]*(?:"([^"]*)"|([^\s,]+))')
_CHALLENGE = (b"\r\nWWW-Authenticate: Digest ", b"\r\nProxy-Authenticate: Digest ")
_AUTH_NAME = {401: b"Authorization", 407: b"Proxy-Authorization"}
_TAIL = b"User-Agent: sipclient-load\r\nContent-Length: 0\r\n\r\n"


def scan_challenge(data: bytes, status: int) -> dict[bytes, bytes] | None:
    """The parameters of a 401's WWW-Authenticate (407: Proxy-Authenticate) Digest
    challenge in the usual spelling, when it is one this module answers itself (MD5, qop
    absent or offering ``auth``, no ``userhash``); None sends the response to the parser."""
    name = _CHALLENGE[0] if status == 401 else _CHALLENGE[1]
    i = data.find(name)
    if i < 0 or data.find(name, i + 1) >= 0:  # missing, or several: the parser chooses
        return None
    i += len(name)
    line = data[i:data.find(b"\r\n", i)]
    params = {m[1].lower(): m[2] if m[2] is not None else m[3]
              for m in _PARAM.finditer(line)}
    if b"realm" not in params or b"nonce" not in params or b"userhash" in params:
        return None
    if params.get(b"algorithm", b"MD5").upper() != b"MD5":
        return None
    qop = params.get(b"qop")
    if qop is not None and b"auth" not in [q.strip() for q in qop.split(b",")]:
        return None
    return params


def digest_line(header: bytes, user: bytes, ha1: bytes, uri: bytes, method: bytes,
                params: dict[bytes, bytes], cnonce: bytes) -> bytes:
    """The ``Authorization: Digest ...`` line (CRLF ended) answering ``params`` with MD5
    (RFC 2617 3.2.2; ``qop=auth`` with ``nc=00000001``: each nonce is answered once)."""
    md5 = hashlib.md5
    nonce = params[b"nonce"]
    ha2 = md5(method + b":" + uri).hexdigest().encode()
    qop = b"qop" in params
    if qop:
        response = md5(b":".join((ha1, nonce, b"00000001", cnonce, b"auth", ha2)))
    else:
        response = md5(b":".join((ha1, nonce, ha2)))
    parts = [header, b': Digest username="', user, b'", realm="', params[b"realm"],
             b'", nonce="', nonce, b'", uri="', uri, b'", response="',
             response.hexdigest().encode(), b'", algorithm=MD5']
    if b"opaque" in params:
        parts += [b', opaque="', params[b"opaque"], b'"']
    if qop:
        parts += [b', qop=auth, nc=00000001, cnonce="', cnonce, b'"']
    parts.append(b"\r\n")
    return b"".join(parts)


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
    __slots__ = ("name", "cid", "password", "ha1", "digest", "cseq", "registered",
                 "jobs", "job", "inst", "t0", "branch", "request", "interval", "due",
                 "give_up", "challenged", "expires", "contact", "pre", "mid", "cseq_line")

    def __init__(self, name: str, cid: bytes, password: str | None) -> None:
        self.name = name.encode()
        self.cid = cid
        self.password = password
        self.ha1: dict[bytes, bytes] = {}
        self.digest: DigestClient | None = None
        self.cseq = 0
        self.registered = False
        self.jobs: deque[tuple[int, _Inst | None]] = deque()
        self.job = -1  # the kind in flight; -1: idle
        self.inst: _Inst | None = None
        self.due = -1.0
        self.pre: bytes | None = None


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
        self._seq = itertools.count()
        self._cnonce = itertools.count(1)
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
        self.users = [_User(name, b"%s-%d" % (self._prefix, k), passwords.get(name))
                      for k, name in enumerate(spec.users)]
        self.by_cid = {u.cid: u for u in self.users}

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
        nxt = None
        if not self._no_more_starts(now):
            nxt = start_due(self._pacer, self.spec, self, now)
        elif self.active == 0:
            self._remove_bindings(now)
        if heap and (nxt is None or heap[0][0] < nxt):
            nxt = heap[0][0]
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
        inst = _Inst(i, self.users[n % len(self.users)], now)
        self.active += 1
        self.stats.started(now + self.wall)
        self._queue(inst.user, _FIRST, inst, now)

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
        user.cseq += 1
        if user.pre is None:  # the user's fixed lines, built once
            name, dom = user.name, self._dom
            user.contact = b"<sip:%s@%s>" % (name, self._hostport)
            user.pre = b"".join((
                b"\r\nMax-Forwards: 70\r\nFrom: <sip:", name, b"@", dom, b">;tag=",
                user.cid, b"\r\nTo: <sip:", name, b"@", dom, b">\r\nCall-ID: ", user.cid,
                b"\r\nCSeq: "))
            user.mid = b" REGISTER\r\nContact: " + user.contact + b"\r\nExpires: "
        branch = b"%s.%s.%d" % (self._prefix, user.name, user.cseq)
        user.branch = b"z9hG4bK" + branch
        user.cseq_line = b"\r\nCSeq: %d REGISTER\r\n" % user.cseq
        user.request = b"".join((
            self._head, branch, user.pre, b"%d" % user.cseq, user.mid,
            b"%d\r\n" % user.expires, auth, _TAIL))
        user.interval = T1
        self.out.append(user.request)
        self._arm(user, min(now + T1, user.give_up))

    # ------------------------------------------------------------------ responses

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """One datagram from ``addr``."""
        # the common case, read in place: a response in the usual spelling whose Call-ID,
        # CSeq line and top Via branch are those of a user's REGISTER in flight
        find = data.find
        i = find(b"\r\nCall-ID: ")
        if i > 0 and data[:8] == b"SIP/2.0 ":
            user = self.by_cid.get(data[i + 11:find(b"\r\n", i + 11)])
            if user is not None and user.job >= 0:
                k = find(b"\r\nCSeq: ")
                v = find(b"\r\nVia: ")
                if k > 0 and v > 0 and data.startswith(user.cseq_line, k):
                    line = data[v + 7:find(b"\r\n", v + 7)]
                    b = line.find(b";branch=")
                    code = data[8:11]
                    if b > 0 and code.isdigit() and \
                            line[b + 8:].split(b";", 1)[0].rstrip() == user.branch:
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
                or r.branch != user.branch):
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
        else:
            self._done(user, now, status, None, _granted(data, user.contact, user.expires))

    def _answer(self, user: _User, status: int, data: bytes) -> bytes | None:
        """The credentials line answering the challenge in ``data`` (None: cannot)."""
        assert user.password is not None
        params = scan_challenge(data, status)
        if params is not None:
            realm = params[b"realm"]
            ha1 = user.ha1.get(realm)
            if ha1 is None:
                ha1 = user.ha1[realm] = hashlib.md5(
                    user.name + b":" + realm + b":" + user.password.encode()).hexdigest() \
                    .encode()
            return digest_line(_AUTH_NAME[status], user.name, ha1, self._uri, b"REGISTER",
                               params, b"%s%x" % (self._prefix, next(self._cnonce)))
        return self._answer_parsed(user, status, data)

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
