"""Registration captures as scenarios that reproduce them (``pcap to-scenario``, issue 17).

    text = register_scenario(capture.sip, call_id=None, source="customer.pcap")

One agent per registration (AOR) of the capture (or of one Call-ID), with what the phone
had: transport, Expires, User-Agent, how long it took to answer a challenge
(``challenge_delay``: a 17 s answer reproduces the stale nonce on a registrar whose nonces
live less), and seed 001's source-port behaviour (a second AOR registered from the address
and port of the first: that agent reopens on the first one's port after it closed without
un-registering). The steps follow the capture: one ``register`` per challenge round (its
expected outcome the recorded one: 200, ``fail`` when the answer was challenged again, or
the recorded 4xx), ``unregister`` for Expires 0, ``options`` for the phone's OPTIONS
keep-alives, the recorded waits between them (capped at ``max_wait``), and at the end a
``diagnose`` step per agent expecting the verdicts our agent can reproduce. Verdicts about
the phone's own digest mistakes (uri, realm, username, algorithm, nonce count) cannot be
reproduced by our agent and are named in a comment.

Pure: takes SIP packets, returns the YAML text.
"""

from __future__ import annotations

import json
import statistics
from typing import Any, Sequence

from sipclient.pcap.diagnose import diagnose
from sipclient.pcap.registrations import Attempt, Registration, registrations
from sipclient.pcap.to_scenario import ToScenarioError
from sipclient.proto.errors import ParseError
from sipclient.proto.message import Request

__all__ = ["REPRODUCIBLE", "is_registration_only", "register_scenario"]

#: verdicts a replay with our agent against a registrar reproduces
REPRODUCIBLE = ("ok", "stale-nonce", "expires-short", "unregistered",
                "same-source-port-conflict", "forbidden", "interval-too-brief")
_KEEPALIVES = ("OPTIONS", "SUBSCRIBE", "NOTIFY", "PUBLISH")
_TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")


def _q(value: Any) -> str:
    return json.dumps(str(value))


def is_registration_only(packets: Sequence[Any]) -> bool:
    """REGISTER, and keep-alives (OPTIONS, SUBSCRIBE ...) around it, but no call."""
    methods = {p.message.method for p in packets if isinstance(p.message, Request)}
    return "REGISTER" in methods and methods <= {"REGISTER", "ACK", *_KEEPALIVES}


def _chains(reg: Registration) -> list[list[Attempt]]:
    """Challenge rounds: an attempt without credentials (or a removal) starts one; attempts
    answering a challenge continue it (our agent's one ``register`` does a whole round)."""
    out: list[list[Attempt]] = []
    for a in reg.attempts:
        if out and a.credentials is not None and out[-1][-1].status in (401, 407) \
                and a.is_removal == out[-1][0].is_removal:
            out[-1].append(a)
        else:
            out.append([a])
    return out


def _challenge_delay(reg: Registration) -> float:
    delays = []
    for chain in _chains(reg):
        for before, after in zip(chain, chain[1:]):
            if before.final is not None:
                delays.append(after.time - before.final.time)
    return round(statistics.median(delays), 1) if delays else 0.0


def _end(chain: list[Attempt]) -> float:
    last = chain[-1]
    return max(p.time for p in last.requests + last.responses)


def _expect(chain: list[Attempt]) -> tuple[str | None, str]:
    """(the register step's ``expect``, a comment); None: the default 200."""
    last = chain[-1]
    frames = f"frames {chain[0].frame}-{(last.final or last.requests[-1]).frame}"
    if last.status is None:
        return "none", f"{frames}: no response in the capture"
    if 200 <= last.status < 300:
        return None, f"{frames}: {last.status}"
    if last.status in (401, 407) and last.credentials is not None:
        return "fail", f"{frames}: {last.status} {last.reason} after the answer"
    if last.status == 423:   # our agent asks again with Min-Expires (RFC 3261 10.2.8)
        return None, f"{frames}: {last.status} {last.reason} (our agent retries with Min-Expires)"
    return str(last.status), f"{frames}: {last.status} {last.reason}"


def register_scenario(packets: Sequence[Any], call_id: str | None = None, *,
                      source: str = "capture", account: str = "1001",
                      max_wait: float = 30.0) -> str:
    """The scenario text replaying the registrations of ``packets`` (or of one Call-ID)."""
    pkts = list(packets)
    regs = registrations(pkts)
    diagnoses = {d.registration.aor: d for d in diagnose(pkts)}
    if call_id is not None:
        regs = [r for r in regs if call_id in r.call_ids]
    if not regs:
        raise ToScenarioError(f"no REGISTER{' with Call-ID ' + repr(call_id) if call_id else ''}"
                              f" in {source}")
    names = [f"phone{i + 1}" for i in range(len(regs))]
    first_account = int(account) if account.isdigit() else None
    accounts = [str(first_account + i) if first_account is not None else account
                for i in range(len(regs))]
    t0 = min(r.attempts[0].time for r in regs)
    lines = [f"# Written by `sipclient pcap to-scenario` from {source}"
             + (f", Call-ID {call_id}" if call_id else "") + ",",
             "# replaying its registrations against a target (docs/captures.md)."]
    sources: dict[tuple, str] = {}
    reopen: dict[str, str] = {}
    agent_lines: list[str] = []
    delays = {}
    for name, acc, r in zip(names, accounts, regs):
        d = diagnoses[r.aor]
        first = r.attempts[0]
        lines.append(f"# {name}: {r.aor} (From {', '.join(r.from_users) or '?'}; Call-ID "
                     f"{', '.join(r.call_ids)}), verdict {', '.join(d.codes) or d.verdict}")
        key = (first.request.transport, first.source)
        if key in sources:
            reopen[name] = sources[key]
        else:
            sources[key] = name
        agent_lines.append(f"  {name}:")
        agent_lines.append(f"    account: {_q(acc)}    # the capture's {r.aor}")
        transport = first.request.transport
        if transport in _TRANSPORTS and transport != "udp":
            agent_lines.append(f"    transport: {transport}")
        asked = next((a.requested_expires for a in r.attempts if not a.is_removal
                      and a.requested_expires is not None), None)
        if asked is not None:
            agent_lines.append(f"    expires: {asked}")
        if r.user_agents:
            agent_lines.append(f"    user_agent: {_q(r.user_agents[0])}")
        delays[name] = _challenge_delay(r)
        if delays[name] >= 0.5:
            agent_lines.append(f"    challenge_delay: {delays[name]:g}    # answers to "
                               f"challenges came this late (median)")
    stale = [n for n, r in zip(names, regs) if "stale-nonce" in diagnoses[r.aor].codes]
    if stale:
        lines.append(f"# The registrar's nonces went stale before the answers came "
                     f"({', '.join(f'{delays[n]:g} s' for n in stale)}): run it against a "
                     f"registrar whose nonce lifetime is shorter, e.g. the lab with "
                     f"SIPCLIENT_LAB_NONCE_LIFETIME={_lifetime_for(delays, stale)}.")
    missing = sorted({c for r in regs for c in diagnoses[r.aor].codes} - set(REPRODUCIBLE))
    if missing:
        lines.append(f"# Not reproduced (the phone's own mistakes, our agent does not make "
                     f"them): {', '.join(missing)}")
    # our agent answers up to 4 challenges a round, each after challenge_delay
    step_timeout = {n: int(4 * (delays[n] + 1) + 10) for n in names}
    events: list[tuple[float, float, str, list[str]]] = []   # (start, end, agent, lines)
    for name, r in zip(names, regs):
        for chain in _chains(r):
            step = _round_step(name, r, chain, name in stale, step_timeout[name])
            events.append((chain[0].time, _end(chain), name, [step]))
    own = {tuple(r.attempts[0].request.src): n for n, r in zip(names, regs)}
    events += _keepalives(pkts, own)
    events.sort(key=lambda e: e[0])
    lines += [f"name: {_q('replay of the registrations in ' + source)}",
              "tags: [replay, pcap, register]",
              f"timeout: {_scenario_timeout(events, max_wait, step_timeout)}",
              "agents:", *agent_lines, "steps:"]
    clock = t0
    opened: set[str] = set()
    for start, end, name, step in events:
        wait = min(start - clock, max_wait)
        if start - clock >= 0.1:
            lines.append(f"  - wait: {round(wait, 1):g}" + (
                f"    # {start - clock:.1f} s in the capture, capped" if start - clock > max_wait
                else ""))
        if name in reopen and name not in opened:
            first = reopen[name]
            lines += [f"  - close: {{agent: {first}, cleanup: false}}    # {first} goes away "
                      f"without un-registering; {name} takes its address and port",
                      f"  - reopen: {{agent: {name}, "
                      f"local_address: \"${{{first}.local_address}}\", "
                      f"local_port: \"${{{first}.local_port}}\"}}"]
        opened.add(name)
        lines += step
        clock = max(clock, end, start)
    replayed = {name for _, _, name, step in events if step[0].lstrip().startswith("- ")}
    if not replayed:
        raise ToScenarioError(f"nothing in the registrations of {source} that our agent can "
                              f"replay (every REGISTER unanswered, or its challenge never "
                              f"answered)")
    for name, r in zip(names, regs):
        codes = [c for c in diagnoses[r.aor].codes if c in REPRODUCIBLE]
        if name not in replayed:
            lines.append(f"  # {name}: nothing of it replayed, nothing to diagnose")
        elif codes == ["ok"] or not codes:
            lines.append(f"  - diagnose: {{agent: {name}}}    # the capture: "
                         f"{', '.join(diagnoses[r.aor].codes)}")
        else:
            lines.append(f"  - diagnose: {{agent: {name}, expect: [{', '.join(codes)}]}}")
    return "\n".join(lines) + "\n"


def _round_step(name: str, reg: Registration, chain: list[Attempt], stale: bool,
                timeout: int) -> str:
    """The step (or the comment) replaying one challenge round of ``reg``."""
    head = chain[0]
    expect, note = _expect(chain)
    answered = any(a.credentials is not None for a in chain[1:])
    last = chain[-1]
    if expect == "none":
        return f"  # {name}: {note} (not replayed: the target answers)"
    if last.status in (401, 407) and last.credentials is None:
        return f"  # {name}: {note}, never answered (not replayed: our agent answers)"
    if stale and expect is None and answered:
        return (f"  # {name}: {note} after an answer {_answer_delay(chain):.1f} s late "
                f"(not replayed: that registrar took this late answer, with one "
                f"challenge_delay the replay's answers are all stale or all fresh)")
    args = [f"agent: {name}"]
    if timeout > 40:
        args.append(f"timeout: {timeout}")
    if not head.is_removal:
        asked = head.requested_expires
        if asked is not None and asked != _first_expires(reg):
            args.append(f"expires: {asked}")
    if expect is not None:
        args.append(f"expect: {expect}")
    kind = "unregister" if head.is_removal else "register"
    return (f"  - {kind}: {name}" if len(args) == 1
            else f"  - {kind}: {{{', '.join(args)}}}") + f"    # {note}"


def _keepalives(pkts: list[Any], own: dict[tuple, str]) -> list[tuple]:
    """An ``options`` step per OPTIONS round the phones sent (the challenged request and its
    authenticated repeat are one round; its expected status class is the round's last
    answer), a comment for other keep-alives (SUBSCRIBE ...)."""
    finals: dict[tuple, int] = {}
    for p in pkts:
        m = p.message
        if not isinstance(m, Request) and m.status >= 200:
            key = _tx(m)
            if key is not None:
                finals.setdefault(key, m.status)
    rounds: list[list] = []      # [first packet, agent, method, last status]
    for p in pkts:
        m = p.message
        if not isinstance(m, Request) or m.method not in _KEEPALIVES or tuple(p.src) not in own:
            continue
        key = _tx(m)
        status = finals.get(key) if key is not None else None
        credentials = m.headers.get("Authorization") or m.headers.get("Proxy-Authorization")
        if credentials and rounds and rounds[-1][2] == m.method \
                and rounds[-1][1] == own[tuple(p.src)]:
            rounds[-1][3] = status
            continue
        if any(r[0].frame != p.frame and _tx(r[0].message) == key for r in rounds):
            continue   # a retransmission
        rounds.append([p, own[tuple(p.src)], m.method, status])
    out = []
    for p, name, method, status in rounds:
        if method == "OPTIONS":
            expect = f"{str(status)[0]}xx" if status else "2xx"
            step = f"  - options: {{agent: {name}, expect: {expect}}}    # frame {p.frame}" + (
                f": {status}" if status else ": no answer in the capture")
        else:
            step = f"  # frame {p.frame}: {method} from {name} (not replayed)"
        out.append((p.time, p.time, name, [step]))
    return out


def _tx(m: Any) -> tuple | None:
    try:
        return m.call_id, m.cseq.seq, m.cseq.method
    except (ParseError, AttributeError):
        return None


def _lifetime_for(delays: dict[str, float], stale: list[str]) -> int:
    """A registrar nonce lifetime well below the slowest phone's answers."""
    return max(1, int(min(delays[n] for n in stale) / 2))


def _scenario_timeout(events: list, max_wait: float, timeouts: dict[str, int]) -> int:
    return min(3600, int(_span(events, max_wait)) + 60 + _rounds(events, timeouts))


def _rounds(events: list[tuple[float, float, str, list[str]]], timeouts: dict[str, int]) -> int:
    """The longest the replay's register rounds may take beyond the recorded times."""
    return sum(timeouts[name] for _, _, name, step in events
               if step[0].lstrip().startswith(("- register", "- unregister")))


def _answer_delay(chain: list[Attempt]) -> float:
    return max((after.time - before.final.time for before, after in zip(chain, chain[1:])
                if before.final is not None), default=0.0)


def _first_expires(reg: Registration) -> int | None:
    return next((a.requested_expires for a in reg.attempts if not a.is_removal
                 and a.requested_expires is not None), None)


def _span(events: list[tuple[float, float, str, list[str]]], max_wait: float) -> float:
    total, clock = 0.0, events[0][0] if events else 0.0
    for start, end, _, _ in events:
        total += min(max(0.0, start - clock), max_wait) + max(0.0, end - start)
        clock = max(clock, end, start)
    return total
