"""Was each Authorization in a capture right for the password given? (``pcap auth-check``)

For every request carrying Authorization or Proxy-Authorization, :func:`check_auth` finds the
challenge it answers (the 401/407 earlier in the capture that issued its nonce, preferring the
same Call-ID) and verifies the credentials with :func:`sipclient.proto.digest_server.verify`,
as the registrar would have, against that challenge's realm, qop, algorithm and opaque and
the request's own Request-URI and body. Nonce counts are tracked per nonce and client (user
and source address) across the whole capture, so a replayed or non-increasing ``nc`` is
caught (Asterisk gives one nonce to every client challenged in the same second). A nonce is *stale* when the
password was right but the server answered with ``stale=true``, or answered with a challenge
and the nonce was older than ``nonce_lifetime`` (Asterisk's 32 s by default). A nonce that no
challenge in the capture issued is *unknown* (unless the server accepted it: the capture then
merely started after the challenge).

Retransmissions (same Call-ID, CSeq, method and branch) are checked once; an ACK repeating
its INVITE's credentials (RFC 3261 sec. 13.2.2.4 asks for it) is not a request of its own. Passwords are only
ever held in :class:`Passwords`, whose repr hides them; results name users, never passwords.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from sipclient.proto.digest import Challenge, parse_challenge, parse_credentials
from sipclient.proto.digest_server import (NONCE_LIFETIME, NonceTracker, VerifyReason,
                                           VerifyResult, verify)
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request, Response

__all__ = ["AuthCheck", "PasswordFileError", "Passwords", "check_auth"]


class PasswordFileError(ValueError):
    """A password file that cannot be used: ``file:line: what`` (never the line itself)."""


class Passwords:
    """One password for every user, or ``user:password`` lines (``#`` comments allowed
    when there are several lines). A single line ``a:b`` gives user ``a`` the password ``b``
    and every other user the whole line."""

    def __init__(self, default: str | None = None, users: dict[str, str] | None = None) -> None:
        self._default = default
        self._users = dict(users or {})

    def __repr__(self) -> str:
        return f"Passwords(users={sorted(self._users)}, default={'***' if self._default else None})"

    __str__ = __repr__

    @classmethod
    def parse(cls, text: str, where: str = "<passwords>") -> Passwords:
        lines = [(n, ln.rstrip("\r\n")) for n, ln in enumerate(text.splitlines(), 1)]
        content = [(n, ln) for n, ln in lines if ln.strip()]
        if not content:
            raise PasswordFileError(f"{where}: no password in the file")
        if len(content) == 1:
            line = content[0][1]
            user, sep, pw = line.partition(":")
            users = {user.strip(): pw} if sep and user.strip() and pw else {}
            return cls(line, users)
        users = {}
        for n, ln in content:
            if ln.lstrip().startswith("#"):
                continue
            user, sep, pw = ln.partition(":")
            if not sep or not user.strip() or not pw:
                raise PasswordFileError(f"{where}:{n}: expected user:password (several lines "
                                        f"are one user:password each; the line is not shown)")
            if user.strip() in users:
                raise PasswordFileError(f"{where}:{n}: user {user.strip()!r} listed twice")
            users[user.strip()] = pw
        return cls(None, users)

    def lookup(self, user: str) -> str | None:
        return self._users.get(user, self._default)


@dataclass(frozen=True)
class AuthCheck:
    """The verdict on one challenged request: ``ok``, ``wrong`` or ``unchecked``."""

    frame: int | None
    time: float  # seconds since the capture's first SIP packet
    method: str
    user: str
    realm: str
    call_id: str
    header: str  # Authorization or Proxy-Authorization
    verdict: str
    reason: str
    challenge_frame: int | None = None
    server_status: int | None = None  # the server's final answer to this request, if seen

    @property
    def wrong(self) -> bool:
        return self.verdict == "wrong"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        who = f"{self.user}@{self.realm}" if self.realm else self.user
        frame = f"frame {self.frame}" if self.frame is not None else "frame ?"
        verdict = self.verdict.upper() if self.wrong else self.verdict
        tail = f"  {self.reason}" if self.reason and self.reason != "ok" else ""
        return f"{frame:<12} {self.time:9.3f}s  {self.method:<9} {who:<24} {verdict}{tail}"


@dataclass
class _Issued:
    frame: int | None
    time: float
    call_id: str
    challenge: Challenge


def _key(msg: Request | Response) -> tuple | None:
    try:
        return (msg.call_id, msg.cseq.seq, msg.cseq.method, msg.top_via.branch)
    except (ParseError, IndexError, AttributeError):
        return None


def _challenges(msg: Response) -> list[Challenge]:
    header = "WWW-Authenticate" if msg.status == 401 else "Proxy-Authenticate"
    out = []
    for value in msg.headers.get_lines(header):
        try:
            ch = parse_challenge(value, header=header)
        except ParseError:
            continue
        if ch.is_digest and ch.nonce:
            out.append(ch)
    return out


def check_auth(packets: Iterable[Any], passwords: Passwords, *,
               nonce_lifetime: float = NONCE_LIFETIME) -> list[AuthCheck]:
    """One :class:`AuthCheck` per challenged request (credentials line) in capture order."""
    pkts = list(packets)
    if not pkts:
        return []
    t0 = pkts[0].time
    # the server's final answer to each request (to tell stale nonces and unknown ones)
    answers: dict[tuple, Response] = {}
    for p in pkts:
        msg = p.message
        if isinstance(msg, Response) and msg.status >= 200:
            key = _key(msg)
            if key is not None:
                answers.setdefault(key, msg)
    issued: list[_Issued] = []
    tracker = NonceTracker(max_nonces=1 << 20)
    seen: set[tuple] = set()
    invites: set[tuple] = set()  # (Call-ID, CSeq, header, credentials) of INVITEs
    out: list[AuthCheck] = []
    for p in pkts:
        msg = p.message
        if isinstance(msg, Response):
            if msg.status in (401, 407):
                try:
                    cid = msg.call_id
                except ParseError:
                    continue
                for ch in _challenges(msg):
                    issued.append(_Issued(getattr(p, "frame", None), p.time, cid, ch))
            continue
        key = _key(msg)
        if key is not None:
            if key in seen:
                continue  # a retransmission: same credentials, checked once
            seen.add(key)
        for header in ("Authorization", "Proxy-Authorization"):
            for value in msg.headers.get_lines(header):
                try:
                    tkey = (msg.call_id, msg.cseq.seq, header, value)
                except ParseError:
                    tkey = None
                if msg.method == "INVITE" and tkey is not None:
                    invites.add(tkey)
                elif msg.method == "ACK" and tkey in invites:
                    continue  # the INVITE's credentials, repeated (RFC 3261 13.2.2.4)
                out.append(_check_one(p, msg, header, value, passwords, issued, tracker,
                                      answers.get(key) if key else None, t0, nonce_lifetime))
    return out


def _find(issued: list[_Issued], call_id: str, nonce: str) -> tuple[_Issued | None, _Issued | None]:
    """(the challenge that issued ``nonce``, preferring this call; this call's last one)."""
    same_nonce = [i for i in issued if i.challenge.nonce == nonce]
    mine = [i for i in same_nonce if i.call_id == call_id]
    found = (mine or same_nonce or [None])[-1]
    last_here = next((i for i in reversed(issued) if i.call_id == call_id), None)
    return found, last_here


def _check_one(p: Any, msg: Request, header: str, value: str, passwords: Passwords,
               issued: list[_Issued], tracker: NonceTracker, answer: Response | None,
               t0: float, lifetime: float) -> AuthCheck:
    try:
        call_id = msg.call_id
    except ParseError:
        call_id = ""
    base = dict(frame=getattr(p, "frame", None), time=round(p.time - t0, 6), method=msg.method,
                call_id=call_id, header=header,
                server_status=answer.status if answer is not None else None)
    try:
        cr = parse_credentials(value, header=header)
    except ParseError as exc:
        return AuthCheck(user="?", realm="", verdict="wrong",
                         reason=f"{VerifyReason.MALFORMED.value}: {exc.reason}", **base)
    base.update(user=cr.username, realm=cr.realm)
    if cr.userhash:
        return AuthCheck(verdict="unchecked", reason="userhash: the real user name is not "
                                                     "in the capture", **base)
    password = passwords.lookup(cr.username)
    if password is None:
        return AuthCheck(verdict="unchecked", reason=f"no password for user {cr.username!r} "
                                                     f"in the password file", **base)
    # the password first: it is the first question of every ticket, and a client's odd
    # digest uri or realm says nothing about it (the response is computed over them)
    plain = verify(cr, msg.method, password, msg.body)
    if not plain.ok:
        return AuthCheck(verdict="wrong", reason=str(plain), **base)
    found, last_here = _find(issued, call_id, cr.nonce)
    if found is None:
        # no challenge in the capture issued this nonce: check what can be checked
        plain = verify(cr, msg.method, password, msg.body, request_uri=msg.uri,
                       expected_realm=last_here.challenge.realm if last_here else None)
        if not plain.ok:
            return AuthCheck(verdict="wrong", reason=str(plain), **base)
        if answer is not None and 200 <= answer.status < 300:
            tracker.update(f"{cr.nonce}\0{cr.username}\0{tuple(p.src)}", cr.nc_value or 0)
            return AuthCheck(verdict="ok", reason="ok (its challenge is not in the capture)",
                             **base)
        where = f"; this call's last challenge (frame {last_here.frame}) issued another" \
            if last_here else ""
        return AuthCheck(verdict="wrong", reason=f"{VerifyReason.UNKNOWN_NONCE.value}: no "
                         f"challenge in the capture issued {cr.nonce!r}{where}", **base)
    ch = found.challenge
    base["challenge_frame"] = found.frame
    result = verify(cr, msg.method, password, msg.body, expected_realm=ch.realm,
                    request_uri=msg.uri, offered_qop=ch.qop,
                    offered_algorithms=(ch.algorithm or "MD5",), opaque=ch.opaque)
    if result.ok and cr.qop is not None:
        # nc counts per nonce *and client*: Asterisk hands the same nonce to every client
        # challenged within the same second, and each of them rightly starts at 1
        client = f"{cr.nonce}\0{cr.username}\0{tuple(p.src)}"
        last = tracker.highest(client)
        if not tracker.update(client, cr.nc_value or 0):
            result = VerifyResult(VerifyReason.NC_NOT_INCREASING,
                                  f"nc={cr.nc} after {last:08x}")
    if not result.ok:
        return AuthCheck(verdict="wrong", reason=str(result), **base)
    if answer is not None and answer.status in (401, 407):
        again = _challenges(answer)
        age = p.time - found.time
        if any(c.stale for c in again):
            return AuthCheck(verdict="wrong", reason=f"{VerifyReason.STALE_NONCE.value}: "
                             f"the server answered {answer.status} stale=true", **base)
        if age > lifetime:
            return AuthCheck(verdict="wrong", reason=f"{VerifyReason.STALE_NONCE.value}: "
                             f"nonce {age:.0f} s old (lifetime {lifetime:g} s)", **base)
        return AuthCheck(verdict="ok", reason=f"password right, yet the server answered "
                                              f"{answer.status}", **base)
    return AuthCheck(verdict="ok", reason="ok", **base)
