"""Why did this phone not register? Verdicts per registration from a capture (issue 17).

:func:`diagnose` takes the SIP packets of a capture (and optionally the passwords, see
:class:`sipclient.pcap.auth_check.Passwords`) and returns one :class:`Diagnosis` per
registration (per AOR, across Call-ID changes; :mod:`sipclient.pcap.registrations`). Each
carries :class:`Finding` s with a stable code from :data:`CODES` (the one table of verdicts:
rank, title, what to change), the evidence (frame numbers and header values) and the codes
as a list; no finding on a registration that ended registered is ``ok``.

Pure: no clock, no I/O. Without passwords a rejected answer to a challenge is never called a
wrong password: the diagnosis says it cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from sipclient.pcap.registrations import Attempt, Registration, is_private, registrations
from sipclient.proto.digest import canonical_algorithm
from sipclient.proto.digest_server import NONCE_LIFETIME, VerifyReason
from sipclient.proto.uri import SipUri

if TYPE_CHECKING:
    from sipclient.pcap.auth_check import Passwords
    from sipclient.pcap.read import SipPacket

__all__ = ["CODES", "Diagnosis", "Finding", "diagnose", "diagnose_file", "SHORT_EXPIRES"]

#: a granted expiry below this many seconds is ``expires-short``
SHORT_EXPIRES = 60


@dataclass(frozen=True)
class Code:
    title: str
    change: str


#: every verdict, most decisive first (a registration's verdict is its first code)
CODES: dict[str, Code] = {
    "wrong-password": Code(
        "wrong password",
        "Set the right password on the phone (the digest response does not match the password "
        "file for this user)."),
    "forbidden": Code(
        "the registrar refused the registration",
        "The registrar refused the account: check the credentials (run again with "
        "--password-file to check the password), that the account exists and is enabled, "
        "that its authentication user may register this AOR (the To), and the registrar's "
        "reason phrase."),
    "no-response": Code(
        "no response",
        "Nothing answered: check the registrar's address, port and transport on the phone, "
        "and any firewall or SIP ALG between them (the requests were retransmitted)."),
    "interval-too-brief": Code(
        "registration interval too brief (423)",
        "Raise the phone's registration interval (Expires) to at least the registrar's "
        "Min-Expires."),
    "stale-nonce": Code(
        "the answer to the challenge came too late (stale nonce)",
        "Make the phone answer challenges promptly (it is slow: DNS, CPU, a dialog waiting "
        "for input), or lengthen the registrar's nonce lifetime (Asterisk: nonce_lifetime "
        "in the auth section, 32 s by default)."),
    "challenge-loop": Code(
        "the registrar challenged every answer again",
        "The registrar did not accept the credentials and sent a fresh challenge: most often a "
        "wrong password or authentication user; run again with --password-file to tell."),
    "challenge-unanswered": Code(
        "the phone never answered the challenge",
        "The phone has no credentials for this realm or gave up: configure the "
        "authentication user and password for it."),
    "username-mismatch": Code(
        "digest username differs from the From/To user",
        "Check the phone's authentication user name: registrars that require it to equal "
        "the account (Asterisk does) refuse it."),
    "uri-mismatch": Code(
        "digest uri differs from the Request-URI",
        "The phone computes the digest over another URI than it sends; registrars that check "
        "the uri (RFC 3261 22.4, Asterisk) refuse it: update the phone's firmware or set the "
        "registrar/proxy name it uses consistently."),
    "realm-mismatch": Code(
        "digest realm differs from the challenge's",
        "Set the phone's realm (or authentication domain) to the realm the registrar "
        "challenges with, or leave it empty so the phone takes it from the challenge."),
    "unsupported-algorithm": Code(
        "digest algorithm not offered by the registrar",
        "Let the phone use an algorithm the registrar offers (the algorithm= of its "
        "challenge, MD5 when none is named)."),
    "nc-not-incremented": Code(
        "nonce count not incremented",
        "The phone reuses a nonce with the same nc: registrars that check replays refuse "
        "it; update the phone or make it take a fresh challenge."),
    "nonce-reuse": Code(
        "nonce reused after the registrar replaced it",
        "The phone keeps answering with an old nonce: make it use the nonce of the latest "
        "challenge."),
    "same-source-port-conflict": Code(
        "two AORs registered from the same address and source port",
        "Two devices share one public address and source port: requests and calls for one "
        "reach the other. Give each device its own local SIP port (or random ports), or "
        "fix the NAT mapping (disable the router's SIP ALG)."),
    "contact-unreachable": Code(
        "Contact or Via with a private address, no rport",
        "The registrar cannot reach the private address the phone advertises: enable rport, "
        "STUN or NAT keep-alive on the phone, or on the registrar rewrite the Contact "
        "(Asterisk pjsip: rewrite_contact=yes, force_rport=yes, rtp_symmetric=yes)."),
    "expires-short": Code(
        "very short registration interval (refresh storm)",
        "Raise the registration interval (e.g. 300-3600 s) on the phone, or on the registrar "
        "when it shortens what the phone asks for; keep NAT bindings open with OPTIONS or "
        "CRLF keep-alives instead of re-registering."),
    "unregistered": Code(
        "the binding was removed (Expires 0)",
        "A REGISTER with Expires 0 removed the binding: see who sent it (a phone logging "
        "out, a second device with the same account, a provisioning tool)."),
}


@dataclass(frozen=True)
class Finding:
    """One verdict on a registration."""

    code: str
    summary: str
    evidence: tuple[str, ...] = ()
    frames: tuple[int, ...] = ()

    @property
    def change(self) -> str:
        return CODES[self.code].change

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": CODES[self.code].title, "summary": self.summary,
                "evidence": list(self.evidence), "frames": list(self.frames),
                "change": self.change}


@dataclass
class Diagnosis:
    """The verdict on one registration: ``codes`` (``["ok"]`` when nothing is wrong)."""

    registration: Registration
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        codes = list(dict.fromkeys(f.code for f in self.findings))
        if not codes and self.registration.state in ("registered", "unregistered"):
            return ["ok"]
        return codes

    @property
    def verdict(self) -> str:
        codes = self.codes
        return codes[0] if codes else "unknown"

    def as_dict(self) -> dict[str, Any]:
        r = self.registration
        first, last = r.frames
        attempt = r.attempts[0]
        return {
            "aor": r.aor, "verdict": self.verdict, "codes": self.codes, "state": r.state,
            "call_ids": r.call_ids, "from_users": r.from_users, "user_agents": r.user_agents,
            "transports": r.transports,
            "source": f"{attempt.request.src[0]}:{attempt.request.src[1]}",
            "registrar": f"{attempt.request.dst[0]}:{attempt.request.dst[1]}",
            "requests": len(r.attempts), "first_frame": first, "last_frame": last,
            "findings": [f.as_dict() for f in self.findings], "notes": list(self.notes),
        }


def _status(a: Attempt) -> str:
    final = a.final
    return f"{a.status} {a.reason}".strip() + f" (frame {final.frame})" if final else "no answer"


def _same_uri(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return SipUri.parse(a) == SipUri.parse(b)
    except Exception:  # noqa: BLE001 - any unparsable URI is simply a different one
        return False


class _Checker:
    """Collects findings for one registration; each check is one method."""

    def __init__(self, reg: Registration, wrong: dict[int, str] | None, lifetime: float,
                 t_end: float) -> None:
        self.reg, self.wrong = reg, wrong
        self.lifetime, self.t_end = lifetime, t_end
        self.found: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        self.summaries: dict[str, str] = {}
        self.delays: list[float] = []
        self.latest: dict[str, tuple[Attempt, Any]] = {}   # Call-ID -> its last challenge

    def add(self, code: str, summary: str, evidence: str, *frames: int) -> None:
        self.summaries.setdefault(code, summary)
        self.found.setdefault(code, []).append((evidence, frames))

    def findings(self) -> list[Finding]:
        out = []
        for code in CODES:
            if code in self.found:
                items = self.found[code]
                frames = tuple(dict.fromkeys(f for _, fs in items for f in fs))
                summary = self.summaries[code]
                if code == "stale-nonce":
                    low, high = min(self.delays), max(self.delays)
                    span = f"{low:.1f}-{high:.1f} s" if f"{low:.1f}" != f"{high:.1f}" \
                        else f"{low:.1f} s"
                    summary = (f"the phone answered challenges {span} after them and the "
                               f"registrar replaced the nonce each time")
                out.append(Finding(code, summary,
                                   tuple(dict.fromkeys(e for e, _ in items)), frames))
        return out

    # --- the checks ------------------------------------------------------------------------

    def run(self) -> None:
        attempts = self.reg.attempts
        issued: dict[str, tuple[Attempt, Any]] = {}   # nonce -> (challenged attempt, challenge)
        used: dict[tuple, Attempt] = {}                # (nonce, nc) -> first attempt using it
        for a in attempts:
            self.no_response(a)
            self.final_status(a)
            creds = a.credentials
            if creds is not None:
                self.answered(a, creds, issued, used)
            for ch in a.challenges:
                if ch.nonce:
                    issued[ch.nonce] = (a, ch)
                    self.latest[a.call_id] = (a, ch)
            self.contact(a)
        self.unanswered(attempts)
        self.expiry(attempts)

    def no_response(self, a: Attempt) -> None:
        if a.responses:
            return
        waited = self.t_end - a.time
        if len(a.requests) < 2 and waited < 4.0:
            return  # the capture ended right after it
        frames = [p.frame for p in a.requests]
        src, dst = a.request.src, a.request.dst
        silent = a.requests[-1].time - a.time + max(0.0, self.t_end - a.requests[-1].time)
        self.add("no-response",
                 f"REGISTER sent {len(frames)} time{'s' if len(frames) != 1 else ''} over "
                 f"{a.request.transport.upper()} to {dst[0]}:{dst[1]}, never answered",
                 f"frames {', '.join(map(str, frames))}: REGISTER from {src[0]}:{src[1]} to "
                 f"{dst[0]}:{dst[1]} ({a.request.transport}), no response in "
                 f"{silent:.1f} s",
                 *frames)

    def final_status(self, a: Attempt) -> None:
        final = a.final
        if final is None:
            return
        m = final.message
        if m.status in (403, 404):
            self.add("forbidden", f"the registrar answered {m.status} {m.reason}",
                     f"frame {final.frame}: {m.status} {m.reason} to the REGISTER of frame "
                     f"{a.frame}", a.frame, final.frame)
        elif m.status == 423:
            minimum = _safe(lambda: m.min_expires)
            self.add("interval-too-brief",
                     f"asked for {a.requested_expires} s, the registrar wants at least "
                     f"{minimum} s",
                     f"frame {a.frame}: Expires {a.requested_expires}; frame {final.frame}: "
                     f"423 {m.reason}, Min-Expires: {minimum}", a.frame, final.frame)

    def answered(self, a: Attempt, creds, issued, used) -> None:
        header, cr, _raw = creds
        if cr is None:
            return
        req = a.msg
        from_user, to_user = a.from_user, a.to_user
        if cr.username not in {from_user, to_user} - {None}:
            self.add("username-mismatch",
                     f"digest username {cr.username!r}, From user {from_user!r}",
                     f"frame {a.frame}: {header} username=\"{cr.username}\", From "
                     f"user {from_user}, To user {to_user}", a.frame)
        if not _same_uri(cr.uri, req.uri):
            self.add("uri-mismatch", f"digest uri {cr.uri!r}, Request-URI {req.uri!r}",
                     f"frame {a.frame}: {header} uri=\"{cr.uri}\", Request-URI {req.uri}",
                     a.frame)
        origin = issued.get(cr.nonce)
        if origin is not None:
            challenged, ch = origin
            if ch.realm is not None and cr.realm != ch.realm:
                self.add("realm-mismatch", f"digest realm {cr.realm!r}, challenge realm "
                         f"{ch.realm!r}",
                         f"frame {a.frame}: realm=\"{cr.realm}\"; challenge of frame "
                         f"{challenged.final.frame}: realm=\"{ch.realm}\"",
                         a.frame, challenged.final.frame)
            offered = canonical_algorithm(ch.algorithm or "MD5")
            used_alg = canonical_algorithm(cr.algorithm or "MD5")
            if used_alg is None or used_alg != offered:
                self.add("unsupported-algorithm",
                         f"answered with algorithm {cr.algorithm or 'MD5'}, the challenge "
                         f"offered {ch.algorithm or 'MD5'}",
                         f"frame {a.frame}: algorithm={cr.algorithm or '(none: MD5)'}; "
                         f"challenge of frame {challenged.final.frame}: algorithm="
                         f"{ch.algorithm or '(none: MD5)'}", a.frame, challenged.final.frame)
        latest = self.latest.get(a.call_id)
        if origin is not None and latest is not None and latest[1].nonce != cr.nonce \
                and latest[0].time > origin[0].time:
            newer, newer_ch = latest
            self.add("nonce-reuse", "answered a challenge with an older challenge's nonce",
                     f"frame {a.frame}: nonce=\"{cr.nonce}\" of the challenge in frame "
                     f"{origin[0].final.frame}, while frame {newer.final.frame} issued "
                     f"\"{newer_ch.nonce}\"; {_status(a)}",
                     origin[0].final.frame, newer.final.frame, a.frame)
        key = (cr.nonce, cr.nc if cr.qop else None, a.request.src)
        first = used.get(key)
        if first is not None and cr.qop:
            self.add("nc-not-incremented", f"nc={cr.nc} sent twice with one nonce",
                     f"frames {first.frame} and {a.frame}: nonce=\"{cr.nonce}\" nc={cr.nc}",
                     first.frame, a.frame)
        used.setdefault(key, a)
        if a.frame in (self.wrong or {}):
            self.add("wrong-password", f"the password is wrong for user {cr.username!r}",
                     f"frame {a.frame}: {self.wrong[a.frame]}; {_status(a)}", a.frame)
        if a.status in (401, 407):
            self.rechallenged(a, cr, origin)

    def rechallenged(self, a: Attempt, cr, origin) -> None:
        again = a.challenges
        final = a.final
        if origin is None:
            return  # its challenge is not in the capture: cannot tell why
        challenged, ch = origin
        delay = a.time - challenged.final.time
        stale_flag = any(c.stale for c in again)
        phrase = a.reason.lower()
        new_nonce = next((c.nonce for c in again if c.nonce), None)
        if stale_flag or "nonce" in phrase or "stale" in phrase or delay > self.lifetime:
            why = "stale=true" if stale_flag else (f"reason \"{a.reason}\"" if
                                                   ("nonce" in phrase or "stale" in phrase)
                                                   else f"{delay:.1f} s > {self.lifetime:g} s")
            self.delays.append(delay)
            self.add("stale-nonce", "",
                     f"frame {challenged.final.frame}: {challenged.status} with nonce "
                     f"\"{ch.nonce}\"; frame {a.frame}: answered {delay:.1f} s later; frame "
                     f"{final.frame}: {a.status} {a.reason} ({why}), new nonce \"{new_nonce}\"",
                     challenged.final.frame, a.frame, final.frame)
            return
        explained = {"wrong-password", "realm-mismatch", "unsupported-algorithm",
                     "nc-not-incremented", "nonce-reuse", "username-mismatch",
                     "uri-mismatch"} & set(self.found)
        if explained:
            return
        self.add("challenge-loop",
                 "the registrar answered the credentials with another challenge",
                 f"frame {challenged.final.frame}: {challenged.status} nonce \"{ch.nonce}\"; "
                 f"frame {a.frame}: answered after {delay:.1f} s; frame {final.frame}: "
                 f"{a.status} {a.reason} again, nonce \"{new_nonce}\""
                 f"{' (the same)' if new_nonce == ch.nonce else ''}",
                 challenged.final.frame, a.frame, final.frame)

    def contact(self, a: Attempt) -> None:
        src = a.source[0]
        via = _safe(lambda: a.msg.top_via)
        asked = via is not None and _safe(lambda: via.rport) is not None
        # the registrar's answer: rport=PORT in its Via (RFC 3581), or none when it ignores it
        vias = [_safe(lambda p=p: p.message.top_via) for p in a.responses]
        answered = any(type(_safe(lambda v=v: v.rport)) is int for v in vias if v)
        if (asked and (answered or not a.responses)) or is_private(src):
            return
        handling = ("without rport" if not asked
                    else "with rport, which the registrar's answer ignored (no rport=)")
        for c in a.contacts:
            host = _safe(lambda c=c: c.uri.host)
            if host and is_private(host) and host != src:
                sent_by = f"{via.host}:{via.port or 5060}" if via is not None else "?"
                self.add("contact-unreachable",
                         f"Contact {host} is private, the packets come from {src}",
                         f"frame {a.frame}: Contact {c.uri}, Via sent-by {sent_by} {handling}, "
                         f"packets from {a.request.src[0]}:{a.request.src[1]}", a.frame)
                return

    def unanswered(self, attempts: list[Attempt]) -> None:
        if not attempts:
            return
        last = attempts[-1]
        if last.status in (401, 407) and last.credentials is None and \
                self.reg.state != "registered":
            self.add("challenge-unanswered", f"the {last.status} challenge got no answer",
                     f"frame {last.final.frame}: {last.status} {last.reason}; no REGISTER "
                     f"with credentials followed", last.final.frame)

    def expiry(self, attempts: list[Attempt]) -> None:
        for a in attempts:
            granted = a.granted_expires
            if a.status is None or not 200 <= a.status < 300:
                continue
            if a.is_removal:
                ua = a.user_agent or "no User-Agent"
                self.add("unregistered", f"the binding was removed by {a.request.src[0]}:"
                         f"{a.request.src[1]} ({ua})",
                         f"frame {a.frame}: REGISTER Expires 0 from {a.request.src[0]}:"
                         f"{a.request.src[1]}, User-Agent {ua}; {_status(a)}",
                         a.frame, a.final.frame)
            elif granted is not None and 0 < granted < SHORT_EXPIRES:
                asked = a.requested_expires
                shortened = asked is not None and asked > granted + 2   # not rounding
                self.add("expires-short", f"registered for {granted} s only" + (
                    f" (asked {asked} s: the registrar shortened it)" if shortened else ""),
                         f"frame {a.final.frame}: {a.status} granted expires={granted} "
                         f"(asked {a.requested_expires})", a.frame, a.final.frame)


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a malformed header is simply absent here
        return None


def _device(a: Attempt) -> tuple:
    """What may tell two phones apart: User-Agent, the Contact's host and port,
    +sip.instance. Two phones behind one NAT differ in at least one (their private Contact
    addresses, their models) unless they are the same model on the same port; one phone
    with two lines sends the same."""
    contacts = a.contacts
    first = contacts[0] if contacts else None
    host = _safe(lambda: (first.uri.host, first.uri.port)) if first is not None else None
    instance = _safe(lambda: first.instance) if first is not None else None
    return a.user_agent, host, instance


def _conflicts(regs: list[Registration]) -> dict[str, list[tuple[str, str, tuple[int, ...]]]]:
    """Bindings of different AORs from the same transport, source address and port, alive
    at the same time, sent by different devices: Call-IDs not linked by a shared AOR (one
    phone re-provisioned with another account keeps its Call-ID). When both send the same
    :func:`_device` (one phone with two lines would) the evidence says so."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for r in regs:
        ids = r.call_ids
        for other in ids[1:]:
            parent[root(other)] = root(ids[0])
    bindings = []   # (source key, aor, device, start, end, attempt)
    for r in regs:
        removed_at = float("inf")   # the next accepted removal, scanning backwards
        for a in reversed(r.attempts):
            if a.status is None or not 200 <= a.status < 300:
                continue
            if a.is_removal:
                removed_at = a.time
                continue
            end = min(a.time + (a.granted_expires or a.requested_expires or 3600), removed_at)
            key = (a.request.transport, a.source, a.request.dst)
            bindings.append((key, r.aor, root(a.call_id), a.final.time, end, a))
    out: dict[str, list] = {}
    reported: set[frozenset] = set()   # one finding per pair of AORs
    active: dict[tuple, dict[str, tuple]] = {}   # source -> AOR -> its latest binding
    for b2 in sorted(bindings, key=lambda b: b[3]):
        k2, aor2, dev2, s2, e2, a2 = b2
        here = active.setdefault(k2, {})
        for aor1, (k1, _, dev1, s1, e1, a1) in list(here.items()):
            if aor1 == aor2 or dev1 == dev2 or e1 <= s2 \
                    or frozenset((aor1, aor2)) in reported:
                continue
            reported.add(frozenset((aor1, aor2)))
            _conflict(out, (k1, aor1, a1), (aor2, a2))
        here[aor2] = b2
    return out


def _conflict(out: dict[str, list], first: tuple, second: tuple) -> None:
    """Add the finding of one conflict (the earlier binding first) to both AORs."""
    k1, aor1, a1 = first
    aor2, a2 = second
    where = f"{k1[0]} {k1[1][0]}:{k1[1][1]}"
    text = (f"{aor1} (frame {a1.final.frame}, Call-ID {a1.call_id}) and {aor2} "
            f"(frame {a2.final.frame}, Call-ID {a2.call_id}) both registered from "
            f"{where}")
    if _device(a1) == _device(a2):
        text += (f"; both with User-Agent {a1.user_agent or '(none)'} and the same "
                 f"Contact address: if this is one phone with two lines, there is "
                 f"no conflict")
    else:
        text += (f"; User-Agents {a1.user_agent or '(none)'} and "
                 f"{a2.user_agent or '(none)'}")
    frames = (a1.frame, a1.final.frame, a2.frame, a2.final.frame)
    out.setdefault(aor1, []).append((aor2, text, frames))
    out.setdefault(aor2, []).append((aor1, text, frames))


def diagnose(packets: Iterable[SipPacket], passwords: Passwords | None = None, *,
             nonce_lifetime: float = NONCE_LIFETIME) -> list[Diagnosis]:
    """One :class:`Diagnosis` per registration (AOR) in the order they first appear.

    ``passwords``: check every digest answer (``pcap auth-check``); only then can
    ``wrong-password`` be reported. ``nonce_lifetime``: an answer later than this after
    its challenge, challenged again, is a stale nonce even without ``stale=true``.
    """
    pkts = list(packets)
    regs = registrations(pkts)
    t_end = pkts[-1].time if pkts else 0.0
    wrong: dict[int, str] | None = None
    checked: dict[int, str] | None = None
    if passwords is not None:
        from sipclient.pcap.auth_check import check_auth
        checks = check_auth(pkts, passwords, nonce_lifetime=nonce_lifetime)
        wrong = {c.frame: c.reason for c in checks
                 if c.wrong and c.reason.startswith(VerifyReason.WRONG_PASSWORD.value)}
        checked = {c.frame: c.verdict for c in checks}
    conflicts = _conflicts(regs)
    out = []
    for r in regs:
        checker = _Checker(r, wrong, nonce_lifetime, t_end)
        checker.run()
        for other, text, frames in conflicts.get(r.aor, []):
            checker.add("same-source-port-conflict",
                        f"{r.aor} and {other} registered from the same address and port",
                        text, *frames)
        d = Diagnosis(r, checker.findings())
        answered = [a for a in r.attempts if a.credentials is not None]
        if passwords is None:
            if answered and ({"forbidden", "challenge-loop"} & set(d.codes)):
                d.notes.append("whether the password is wrong cannot be told from the capture "
                               "alone: run again with --password-file")
        elif answered:
            users = {a.credentials[1].username for a in answered if a.credentials[1]}
            states = [checked.get(a.frame) for a in answered]
            if "wrong-password" not in d.codes and "ok" in states:
                d.notes.append(f"the password in the file is right for "
                               f"{', '.join(sorted(users))}")
            elif all(s == "unchecked" for s in states):
                d.notes.append(f"no password in the file for {', '.join(sorted(users))}")
        out.append(d)
    return out


def diagnose_file(path: str, password_file: str | None = None, *,
                  nonce_lifetime: float = NONCE_LIFETIME) -> list[Diagnosis]:
    """:func:`diagnose` on a capture file, with the passwords of ``password_file`` (one
    password, or ``user:password`` lines) if given. Raises
    :class:`~sipclient.pcap.read.CaptureError` for a file that is not a capture and
    :class:`~sipclient.pcap.auth_check.PasswordFileError` for a bad password file."""
    from pathlib import Path

    from sipclient.pcap.auth_check import Passwords
    from sipclient.pcap.read import read_capture

    passwords = None
    if password_file is not None:
        passwords = Passwords.parse(Path(password_file).read_text(encoding="utf-8"),
                                    password_file)
    return diagnose(read_capture(path).sip, passwords, nonce_lifetime=nonce_lifetime)
