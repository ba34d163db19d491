"""UAC helpers that sit above the core: answering a digest challenge (RFC 3261 22.2, 22.3).

The core never authenticates on its own (a test harness must be able to watch, skip or
break authentication on purpose). :func:`authenticate` turns the request that drew a 401 or
407 into the request to send next (8.1.3.5, 22.2):

* the same Call-ID, From (tag included), To (without the tag of the 401), Request-URI, body;
* CSeq number + 1 (same method);
* a new branch in the top Via (it is a new transaction);
* an Authorization (401) or Proxy-Authorization (407) header answering the chosen challenge,
  replacing earlier credentials for the same realm, made by a
  :class:`~sipclient.proto.digest.DigestClient` (which keeps the nonce counts).

It returns None when the challenge means the credentials were refused (the request already
carried credentials for that realm and the challenge is not ``stale``, RFC 2617 3.2.1):
retrying would loop.
"""

from __future__ import annotations

from .digest import (Credentials, DigestClient, choose_challenge, header_name_for,
                     is_auth_failure, parse_credentials)
from .errors import LocalProtocolError, ParseError
from .ids import IdGenerator
from .message import Request, Response
from .builders import replace_top_via

__all__ = ["authenticate"]


def authenticate(request: Request, response: Response, client: DigestClient,
                 ids: IdGenerator | None = None, *, policy: str = "strongest") -> Request | None:
    """The retry of ``request`` answering the 401/407 ``response`` (see module docstring).

    Raises :class:`~sipclient.proto.digest.UnsupportedChallenge` (a ParseError) when no
    challenge can be answered.
    """
    status = response.status
    if status not in (401, 407):
        raise LocalProtocolError(f"{status} is not a challenge (401 or 407)")
    challenges = response.www_authenticate if status == 401 else response.proxy_authenticate
    header = header_name_for(status)
    challenge = choose_challenge(challenges, policy=policy,
                                 header="WWW-Authenticate" if status == 401
                                 else "Proxy-Authenticate")
    sent = _credentials(request, header)
    if is_auth_failure(challenge, [c for c in sent if c is not None]):
        return None
    retry = request.copy()
    if retry.via:  # a new transaction: a new branch (8.1.1.7)
        replace_top_via(retry, retry.top_via.with_param("branch", (ids or IdGenerator()).branch()))
    h = retry.headers
    h.set("CSeq", f"{request.cseq.seq + 1} {request.method}")
    keep = [v for v, cr in zip(h.get_lines(header), sent) if cr is None
            or cr.realm != challenge.realm]
    h.remove(header)
    value = client.authorization(challenge, request.method, request.uri, request.body)
    for old in keep:
        h.add(header, old)
    h.add(header, value)
    return retry


def _credentials(request: Request, header: str) -> list[Credentials | None]:
    out: list[Credentials | None] = []
    for line in request.headers.get_lines(header):
        try:
            out.append(parse_credentials(line, header=header))
        except ParseError:
            out.append(None)
    return out
