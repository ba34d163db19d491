"""Which incoming INVITE gets a call: two quotas, so a flood of un-ACKed INVITEs cannot
lock out a real caller (issues 13 and 18, docs/limits.md).

* ``calls_per_agent`` (``AgentConfig.max_calls``) bounds the *confirmed* incoming calls (our
  final answer was ACKed): one more INVITE beyond it gets 503 with Retry-After.
* ``unconfirmed_calls`` bounds the calls not confirmed yet (ringing, or answered 200 and
  waiting for the ACK). When it is full, a new INVITE takes the place of the oldest one (the
  oldest answered one when there is one), as a TCP stack drops its oldest half-open
  connection under a SYN flood: a ringing call is answered 503 (Retry-After), an answered
  one is *parked*: its media stops and its ports
  close at once, the 200 is still retransmitted, and the dialog ends with a BYE when its ACK
  arrives or when 64*T1 passes without one (RFC 3261 15: the callee sends no BYE on a
  confirmed dialog before the ACK or the transaction's time-out; 13.3.1.4).

A caller that ACKs within an ordinary round trip never notices; a flood churns only the
unconfirmed pool, whose memory and descriptors stay bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipclient.proto.errors import ParseError
from sipclient.proto.limits import limit
from sipclient.proto.message import Request

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent
    from .incoming import IncomingCall

__all__ = ["Admission", "RETRY_AFTER"]

#: the header of every 503 for want of room: try again in a few seconds (RFC 3261 21.5.4)
RETRY_AFTER = ("Retry-After", "5")


class Admission:
    """The agent's incoming calls by state: ``pending`` (oldest first) and ``confirmed``."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        #: the calls not confirmed yet and not parked, in arrival order (a dict as an ordered
        #: set: two INVITEs may carry one Call-ID)
        self.pending: dict[IncomingCall, None] = {}
        #: confirmed and not ended
        self.confirmed: set[IncomingCall] = set()
        #: how many unconfirmed calls had to make room for newer ones
        self.evicted = 0

    def refusal(self, req: Request) -> tuple[int, str] | None:
        """The status and reason an incoming INVITE is refused with (None: admitted): 400
        when no dialog can be made of it (12.1.1), 482 for a Call-ID whose call is still up
        (one dialog per Call-ID here: a second INVITE without a To tag would orphan the
        first call's media), 503 when no quota has room."""
        try:
            req.from_, req.to, req.cseq, list(req.record_route), req.contact
        except ParseError as exc:
            return 400, str(exc)
        live = self.agent.sessions.get(req.call_id)
        if live is not None and not live.is_ended:
            return 482, "a call with this Call-ID is up"
        return None if self.admit() else (503, f"{len(self.confirmed)} confirmed calls up")

    def admit(self) -> bool:
        """Room for one more incoming call? False: answer 503. Makes room in the
        unconfirmed pool by letting the oldest go (see the module docstring)."""
        most = self.agent.config.max_calls or int(limit("calls_per_agent"))
        if len(self.confirmed) >= most:
            return False
        pool = self.agent.config.max_unconfirmed or int(limit("unconfirmed_calls"))
        while len(self.pending) >= pool:
            # the oldest answered one first: its ports are what a flood costs, and a call
            # still ringing may only be waiting for a busy event loop to answer it
            oldest = next((c for c in self.pending if c.final is not None),
                          next(iter(self.pending)))
            self.evicted += 1
            oldest.evict(f"{pool} newer calls without an ACK (unconfirmed_calls)")
            self.pending.pop(oldest, None)
        return True

    def arrived(self, call: IncomingCall) -> None:
        self.pending[call] = None

    def acked(self, call: IncomingCall) -> None:
        if call in self.pending and not call.is_ended:
            del self.pending[call]
            self.confirmed.add(call)

    def left(self, call: IncomingCall) -> None:
        """The call ended or was parked: it holds no place any more."""
        self.pending.pop(call, None)
        self.confirmed.discard(call)
