"""One side of an SDP offer/answer relationship across a dialog (RFC 3264 5-8).

:class:`SdpSession` keeps what the pure functions in :mod:`offer_answer` do not: our ``o=``
line and its version, the offer awaiting an answer, the last answer, and hold. A UA uses it
the same way whoever offers:

- normal offer: ``create_offer()`` in the INVITE, ``receive_answer(sdp)`` on the 18x/200;
- early media: the 183's SDP is the answer; the 200 usually repeats it (same ``o=``
  version) and ``receive_answer`` then reports ``repeated=True`` with the same streams;
- late offer (RFC 3261 13.2.1, RFC 3264 4): an INVITE without SDP; the UAS puts
  ``create_offer()`` in its 200 and reads the ACK with ``receive_answer``; the UAC reads
  the 200's offer with ``receive_offer`` and sends the answer it returns in the ACK;
- re-offers (RFC 3264 8): each new SDP we send has ``o=`` version + 1 (an unchanged one
  keeps its version); ``hold()`` makes the next offer sendonly (inactive if we were only
  receiving, 8.4), ``resume()`` sendrecv again.

Glare (both offering at once) is the dialog's business (491, RFC 3261 14.1); here a new
``receive_offer`` simply replaces a pending offer of ours.
"""

from __future__ import annotations

from dataclasses import replace

from sipclient.media.offer_answer import (
    MediaConfig, Negotiation, build_answer, build_offer, negotiate,
)
from sipclient.media.sdp import Origin, SessionDescription, parse_sdp
from sipclient.proto.errors import LocalProtocolError

__all__ = ["SdpSession"]

HOLD_STYLES = ("sendonly", "inactive", "c0")


class SdpSession:
    """Our SDP state in one dialog. ``session_id`` should be random (an NTP timestamp is
    suggested by RFC 4566 5.2); ``version`` defaults to it, as many phones do."""

    def __init__(self, config: MediaConfig, *, session_id: int, version: int | None = None,
                 username: str = "-", lenient: bool = True) -> None:
        self.config = config
        self.username = username
        self.session_id = session_id
        self.version = session_id if version is None else version
        self.lenient = lenient
        self.local: SessionDescription | None = None       # the last SDP we sent
        self.remote: SessionDescription | None = None      # the last SDP we received
        self.pending_offer: SessionDescription | None = None
        self.negotiation: Negotiation | None = None
        self._answered_offer: SessionDescription | None = None
        self._hold: str | None = None          # the hold style, None when not held

    # -- state -------------------------------------------------------------------------------
    @property
    def origin(self) -> Origin:
        return Origin(self.username, str(self.session_id), self.version, "IN",
                      self.config.addrtype, self.config.address)

    @property
    def on_hold(self) -> bool:
        return self._hold is not None

    @property
    def local_direction(self) -> str:
        """The direction we want now (config, or hold per RFC 3264 8.4)."""
        if self._hold is None:
            return self.config.direction
        if self._hold == "inactive" or self.config.direction in ("recvonly", "inactive"):
            return "inactive"
        return "sendonly" if self._hold == "sendonly" else self.config.direction

    def hold(self, style: str = "sendonly") -> None:
        """Next offer puts the stream on hold: ``sendonly`` (RFC 3264 8.4), ``inactive``,
        or ``c0`` (c=0.0.0.0, RFC 2543 style)."""
        if style not in HOLD_STYLES:
            raise LocalProtocolError(f"hold style is one of {HOLD_STYLES}")
        self._hold = style

    def resume(self) -> None:
        self._hold = None

    # -- offer/answer ------------------------------------------------------------------------
    def _stamp(self, sdp: SessionDescription) -> SessionDescription:
        """Give ``sdp`` our origin; version + 1 if it differs from what we sent last."""
        sdp = sdp.with_origin(self.origin)
        if self.local is not None and sdp != self.local.with_origin(self.origin):
            self.version += 1
            sdp = sdp.with_origin(self.origin)
        self.local = sdp
        return sdp

    def create_offer(self) -> SessionDescription:
        """A new offer (initial or re-offer); it stays pending until ``receive_answer``."""
        hold_address = self._hold == "c0"
        offer = build_offer(self.config, self.origin, direction=self.local_direction,
                            hold_address=hold_address)
        self.pending_offer = self._stamp(offer)
        return self.pending_offer

    def receive_answer(self, data: SessionDescription | bytes | str) -> Negotiation:
        """The answer to our offer (in a 18x, 200 or ACK). The same answer again (an
        unchanged ``o=`` version after a 183) returns the same negotiation, ``repeated``."""
        answer = self._parse(data)
        offer = self.pending_offer or self._answered_offer
        if offer is None:
            raise LocalProtocolError("an answer without an offer of ours")
        if (self.pending_offer is None and self.remote is not None
                and self.negotiation is not None and _same_version(self.remote, answer)):
            return replace(self.negotiation, repeated=True)
        self.negotiation = negotiate(offer, answer, self.config)
        self.remote = answer
        self._answered_offer, self.pending_offer = offer, None
        return self.negotiation

    def receive_offer(self, data: SessionDescription | bytes | str
                      ) -> tuple[SessionDescription, Negotiation]:
        """Answer a remote offer (INVITE, re-INVITE, UPDATE, or a 200 after our offerless
        INVITE); returns the answer to send and the negotiation."""
        offer = self._parse(data)
        answer, negotiation = build_answer(offer, self.config, self.origin,
                                           direction=self.local_direction)
        self.remote, self.negotiation = offer, negotiation
        self.pending_offer, self._answered_offer = None, None
        return self._stamp(answer), negotiation

    def _parse(self, data: SessionDescription | bytes | str) -> SessionDescription:
        if isinstance(data, SessionDescription):
            return data
        return parse_sdp(data, lenient=self.lenient)


def _same_version(a: SessionDescription, b: SessionDescription) -> bool:
    try:
        oa, ob = a.origin, b.origin
    except (IndexError, ValueError):
        return False
    return (oa.username, oa.session_id, oa.version, oa.address) == (
        ob.username, ob.session_id, ob.version, ob.address)
