#!/usr/bin/env python3
"""Record the registration captures of tests/data/diagnose/ against the Asterisk lab (issue 17).

    .venv/bin/python scripts/record_diagnose_captures.py           # all, into tests/data/diagnose
    .venv/bin/python scripts/record_diagnose_captures.py --only ok --out /tmp/d

Each capture is one registration problem made on purpose against a real Asterisk lab this
script starts on free ports (with ``nonce_lifetime`` 4 s, so a phone 6 s late is stale) and
stops afterwards. Two kinds of phone make them, both writing through a
:class:`~sipclient.pcap.writer.PcapWriter` what they sent and received:

- our agent (:class:`sipclient.agent.Agent`) where it can do the thing: a clean
  registration, a wrong password, a slow answer (``challenge_delay``), a username that is not
  the account's (``auth_user``), a short interval, an un-REGISTER, a registrar that does not
  answer, and seed 001's two phones on one source port (two agents, the second bound to the
  first one's address and port after it closed without un-registering);
- a *raw phone* (a UDP socket and hand-written REGISTERs, digest by
  :func:`sipclient.proto.digest.compute_response`) for what a well-behaved agent never does:
  a digest uri that is not the Request-URI, a wrong realm, an algorithm not offered, a nonce
  count repeated, an old nonce reused, a private Contact without rport, a 423 not retried, a
  challenge never answered, a 404 for an AOR the account may not register.

:data:`CASES` names every file with the codes ``sipclient pcap diagnose`` must give for it
(tests/pcap/test_diagnose_captures.py checks each, and that tshark reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from scripts.record_golden import Lab, config, record_all  # noqa: E402 - the golden captures' lab view
from sipclient.agent import Agent, AgentConfig, Secret  # noqa: E402
from sipclient.pcap.writer import PcapWriter  # noqa: E402
from sipclient.proto.digest import compute_response, parse_challenge  # noqa: E402
from sipclient.proto.message import Response, parse_message  # noqa: E402
from sipclient.proto.timers import TimerConfig  # noqa: E402

OUT = ROOT / "tests" / "data" / "diagnose"
NONCE_LIFETIME = 4     # the recording lab's nonce_lifetime (seconds)
WRONG = "not-the-password"


class Gate(PcapWriter):
    """A PcapWriter that stops recording when closed (to leave an agent's un-REGISTER out)."""

    def __init__(self, writer: PcapWriter) -> None:  # noqa: D107 - no header: writer has it
        self.writer, self.open = writer, True

    def write(self, *args) -> None:
        if self.open:
            self.writer.write(*args)


def agent(lab: Lab, ext: str, writer, **kw) -> Agent:
    return Agent(config(lab, ext, writer, **kw))


# --- the raw phone -----------------------------------------------------------------------------

class RawPhone:
    """Hand-written REGISTERs over one UDP socket; everything sent and received is recorded."""

    def __init__(self, lab: Lab, writer: PcapWriter, sock: socket.socket | None = None) -> None:
        self.lab, self.writer = lab, writer
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sock is None:
            self.sock.bind((lab.host, 0))
        self.local = self.sock.getsockname()
        self.server = (lab.host, lab.sip_port)
        self.cseq = 0
        self.call_id = f"{os.urandom(6).hex()}@raw"
        self.tag = os.urandom(4).hex()
        self.rewrite: Callable[[bytes], bytes] = lambda data: data

    def register(self, user: str, *, expires: int = 300, auth: str | None = None,
                 contact: str | None = None, via: str | None = None,
                 user_agent: str = "rawphone/1.0", to_user: str | None = None) -> Response | None:
        self.cseq += 1
        branch = "z9hG4bK" + os.urandom(6).hex()
        host, port = self.local
        via = via or f"SIP/2.0/UDP {host}:{port};rport;branch={branch}"
        if "branch=" not in via:
            via += f";branch={branch}"
        contact = contact or f"<sip:{user}@{host}:{port}>"
        lines = [f"REGISTER {self.uri} SIP/2.0", f"Via: {via}",
                 "Max-Forwards: 70", f"From: <sip:{user}@{self.lab.host}>;tag={self.tag}",
                 f"To: <sip:{to_user or user}@{self.lab.host}>", f"Call-ID: {self.call_id}",
                 f"CSeq: {self.cseq} REGISTER", f"Contact: {contact}", f"Expires: {expires}",
                 f"User-Agent: {user_agent}"]
        if auth:
            lines.append(f"Authorization: {auth}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        return self.transact(data)

    @property
    def uri(self) -> str:
        return f"sip:{self.lab.host}:{self.lab.sip_port}"

    def transact(self, data: bytes, wait: float = 3.0) -> Response | None:
        self.sock.sendto(data, self.server)
        self.writer.write(time.time(), "udp", self.local, self.server, data)
        deadline = time.monotonic() + wait
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                raw, src = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            raw = self.rewrite(raw)
            self.writer.write(time.time(), "udp", src, self.local, raw)
            msg = parse_message(raw)
            if isinstance(msg, Response) and msg.status >= 200:
                return msg

    def answer(self, user: str, challenge: Response, *, password: str, uri: str | None = None,
               realm: str | None = None, algorithm: str | None = None, nc: int = 1,
               nonce: str | None = None, cnonce: str = "0a4f113b", username: str | None = None
               ) -> str:
        ch = parse_challenge(challenge.headers.get("WWW-Authenticate"))
        uri = uri or self.uri
        realm = realm if realm is not None else ch.realm
        nonce = nonce or ch.nonce
        qop = "auth" if "auth" in ch.qop else None
        response = compute_response(username=username or user, realm=realm, password=password,
                                    method="REGISTER", uri=uri, nonce=nonce,
                                    algorithm=algorithm if algorithm != "SHA-256" else "SHA-256",
                                    qop=qop, nc=nc if qop else None, cnonce=cnonce if qop else None)
        parts = [f'username="{username or user}"', f'realm="{realm}"', f'nonce="{nonce}"',
                 f'uri="{uri}"', f'response="{response}"']
        if algorithm:
            parts.append(f"algorithm={algorithm}")
        if ch.opaque:
            parts.append(f'opaque="{ch.opaque}"')
        if qop:
            parts += [f"qop={qop}", f"nc={nc:08x}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


# --- the cases ---------------------------------------------------------------------------------

async def ok(lab: Lab, w: PcapWriter) -> None:
    gate = Gate(w)
    async with agent(lab, "1001", gate) as a:
        assert (await a.register()).ok
        gate.open = False   # the un-REGISTER on leaving is not part of this capture


async def keepalive(lab: Lab, w: PcapWriter) -> None:
    """A clean registration kept alive with OPTIONS (for the replay of keep-alives)."""
    gate = Gate(w)
    async with agent(lab, "1007", gate, user_agent="keepalive-phone/2.1") as a:
        assert (await a.register()).ok
        for _ in range(2):
            await asyncio.sleep(1.0)
            await a.options()
        gate.open = False


async def wrong_password(lab: Lab, w: PcapWriter) -> None:
    async with agent(lab, "1002", w, password=Secret(WRONG)) as a:
        try:
            result = await a.register()
        except Exception:  # noqa: BLE001 - AuthenticationFailed is what we came for
            return
        assert not result.ok


async def stale_nonce(lab: Lab, w: PcapWriter) -> None:
    gate = Gate(w)
    async with agent(lab, "1003", gate, challenge_delay=NONCE_LIFETIME + 2.0) as a:
        try:
            await a.register()
        except Exception:  # noqa: BLE001 - the stale answer is challenged again
            pass
        gate.open = False


async def username_mismatch(lab: Lab, w: PcapWriter) -> None:
    async with agent(lab, "1004", w, auth_user="1014") as a:
        try:
            await a.register()
        except Exception:  # noqa: BLE001 - refused: the auth user is not 1004's
            pass


async def expires_short(lab: Lab, w: PcapWriter) -> None:
    gate = Gate(w)
    async with agent(lab, "1008", gate, expires=30) as a:
        assert (await a.register()).ok
        gate.open = False


async def unregistered(lab: Lab, w: PcapWriter) -> None:
    async with agent(lab, "1009", w) as a:
        assert (await a.register()).ok
    # leaving: Expires 0


async def no_response(lab: Lab, w: PcapWriter) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((lab.host, 0))   # a port that reads nothing and answers nothing
    try:
        config = AgentConfig(user="1010", password=Secret("x"), capture=w,
                             server=f"udp:{lab.host}:{silent.getsockname()[1]}",
                             timers=TimerConfig(t1=0.1, t2=0.4), cleanup_timeout=0.5)
        async with Agent(config) as a:
            try:
                await a.register()
            except Exception:  # noqa: BLE001 - the timeout is the point
                pass
    finally:
        silent.close()


async def same_source_port(lab: Lab, w: PcapWriter) -> None:
    """Seed 001: alice (1005) registers and loses power (no un-REGISTER); bob (1006) takes
    over the same address and source port and registers while alice's binding lives."""
    gate = Gate(w)
    alice = agent(lab, "1005", gate, expires=120, user_agent="phone-alice/1.0")
    await alice.open()
    assert (await alice.register()).ok
    where = alice.endpoint.transport.local_address
    await alice.close(cleanup=False)
    async with agent(lab, "1006", gate, local_address=where[0], local_port=where[1],
                     user_agent="phone-bob/1.0") as bob:
        assert (await bob.register()).ok
        gate.open = False


def _raw(fn: Callable[[RawPhone], None]) -> Callable[[Lab, PcapWriter], Awaitable[None]]:
    async def run(lab: Lab, w: PcapWriter) -> None:
        phone = RawPhone(lab, w)
        try:
            await asyncio.to_thread(fn, phone)
        finally:
            phone.sock.close()
    run.__doc__ = fn.__doc__
    return run


def _challenged(phone: RawPhone, user: str, **kw) -> Response:
    resp = phone.register(user, **kw)
    assert resp is not None and resp.status == 401, resp
    return resp


@_raw
def uri_mismatch(phone: RawPhone) -> None:
    ch = _challenged(phone, "1011")
    pw = phone.lab.passwords("1011")
    phone.register("1011", auth=phone.answer("1011", ch, password=pw, uri="sip:192.168.1.2"))


@_raw
def realm_mismatch(phone: RawPhone) -> None:
    ch = _challenged(phone, "1012")
    pw = phone.lab.passwords("1012")
    phone.register("1012", auth=phone.answer("1012", ch, password=pw, realm="sip.example.com"))


@_raw
def unsupported_algorithm(phone: RawPhone) -> None:
    ch = _challenged(phone, "1013")
    pw = phone.lab.passwords("1013")
    phone.register("1013", auth=phone.answer("1013", ch, password=pw, algorithm="SHA-256"))


@_raw
def nc_not_incremented(phone: RawPhone) -> None:
    ch = _challenged(phone, "1015")
    pw = phone.lab.passwords("1015")
    auth = phone.answer("1015", ch, password=pw, nc=1)
    phone.register("1015", auth=auth)
    phone.register("1015", auth=auth)   # the refresh repeats nonce and nc=1


@_raw
def nonce_reuse(phone: RawPhone) -> None:
    first = _challenged(phone, "1016")
    pw = phone.lab.passwords("1016")
    phone.register("1016", auth=phone.answer("1016", first, password=pw))
    time.sleep(1.1)                      # Asterisk's nonces change with the second
    second = _challenged(phone, "1016")
    old = parse_challenge(first.headers.get("WWW-Authenticate")).nonce
    phone.register("1016", auth=phone.answer("1016", second, password=pw, nonce=old, nc=2))


@_raw
def contact_unreachable(phone: RawPhone) -> None:
    private = "192.168.77.10:5060"
    kw = dict(contact=f"<sip:1017@{private}>", via=f"SIP/2.0/UDP {private}")
    ch = _challenged(phone, "1017", **kw)
    phone.register("1017", auth=phone.answer("1017", ch, password=phone.lab.passwords("1017")),
                   **kw)


def _as_423(data: bytes) -> bytes:
    """Asterisk 16 raises a too short Expires to minimum_expiration instead of answering
    423, so this one response is crafted: the lab's real 200, its status line made
    ``423 Interval Too Brief``, its Contact replaced by ``Min-Expires: 30``."""
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"SIP/2.0 200"):
        return data
    keep = [b"SIP/2.0 423 Interval Too Brief"] + [
        ln for ln in lines[1:] if not ln.lower().startswith((b"contact:", b"expires:",
                                                             b"content-length:"))]
    return b"\r\n".join(keep + [b"Min-Expires: 30", b"Content-Length: 0"]) + b"\r\n\r\n"


@_raw
def interval_too_brief(phone: RawPhone) -> None:
    resp = phone.register("1018", expires=10)
    assert resp is not None and resp.status == 401, resp
    phone.rewrite = _as_423
    resp = phone.register("1018", expires=10, auth=phone.answer(
        "1018", resp, password=phone.lab.passwords("1018")))
    assert resp is not None and resp.status == 423, resp


@_raw
def challenge_unanswered(phone: RawPhone) -> None:
    _challenged(phone, "1019")


@_raw
def forbidden(phone: RawPhone) -> None:
    ch = _challenged(phone, "1020", to_user="1001")
    phone.register("1020", to_user="1001", auth=phone.answer(
        "1020", ch, password=phone.lab.passwords("1020")))


@dataclass(frozen=True)
class Case:
    record: Callable[[Lab, PcapWriter], Awaitable[None]]
    codes: tuple[str, ...]                       # what `pcap diagnose` must say
    with_password: tuple[str, ...] | None = None  # ... with the lab's passwords, if other
    how: str = "agent"


#: file name -> how it is made and the codes it must give (per registration, in order)
CASES: dict[str, Case] = {
    "ok": Case(ok, ("ok",)),
    "keepalive": Case(keepalive, ("ok",)),
    "wrong-password": Case(wrong_password, ("challenge-loop",), ("wrong-password",)),
    "stale-nonce": Case(stale_nonce, ("stale-nonce",)),
    # with the lab's passwords: 1004's password does not fit the digest user 1014
    "username-mismatch": Case(username_mismatch, ("username-mismatch",),
                              ("wrong-password", "username-mismatch")),
    "expires-short": Case(expires_short, ("expires-short",)),
    "unregistered": Case(unregistered, ("unregistered",)),
    "no-response": Case(no_response, ("no-response",)),
    "same-source-port-conflict": Case(same_source_port, ("same-source-port-conflict",)),
    "uri-mismatch": Case(uri_mismatch, ("uri-mismatch",), how="raw"),
    "realm-mismatch": Case(realm_mismatch, ("realm-mismatch",), how="raw"),
    "unsupported-algorithm": Case(unsupported_algorithm, ("unsupported-algorithm",), how="raw"),
    "nc-not-incremented": Case(nc_not_incremented, ("nc-not-incremented",), how="raw"),
    "nonce-reuse": Case(nonce_reuse, ("nonce-reuse",), how="raw"),
    "contact-unreachable": Case(contact_unreachable, ("contact-unreachable",), how="raw"),
    "interval-too-brief": Case(interval_too_brief, ("interval-too-brief",),
                               how="raw, its 423 crafted from the lab's 200"),
    "challenge-unanswered": Case(challenge_unanswered, ("challenge-unanswered",), how="raw"),
    "forbidden": Case(forbidden, ("forbidden",), how="raw"),
}


async def record(name: str, lab: Lab, path: Path) -> Path:
    with path.open("wb") as f:
        await asyncio.wait_for(CASES[name].record(lab, PcapWriter(f)), 60)
    return path


def start_lab(name: str = "diagnose", **overrides):
    """A lab on free ports with the short nonce lifetime; (lab, claim) to stop and release."""
    from sipclient.lab import Lab as AsteriskLab
    from sipclient.lab.testing import claim_test_lab, with_free_ports

    cfg, claim = claim_test_lab(name, extra_offset=400)
    cfg = with_free_ports(cfg.replace(nonce_lifetime=NONCE_LIFETIME, **overrides))
    return AsteriskLab(cfg).up(), claim


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help="folder (tests/data/diagnose)")
    ap.add_argument("--only", action="append", choices=sorted(CASES), help="record these only")
    args = ap.parse_args(argv)
    lab, claim = start_lab()
    return record_all(record, args.only or CASES, lab, args.out, stop=True, claim=claim)


if __name__ == "__main__":
    sys.exit(main())
