"""sipclient: a SIP/WebRTC protocol test harness and softclient.

The stable entry points are re-exported here::

    import sipclient
    msg = sipclient.parse_message(data)      # Request or Response
    bytes(msg)                                # serializes (byte-exact if unchanged)
    msg.headers.get("Call-ID"), msg.headers.get_all("v")
    sipclient.ParseError                      # the only exception raised on bad input
"""

from sipclient.proto.errors import LocalProtocolError, ParseError, SipError
from sipclient.proto.message import Request, Response, parse_message

__all__ = [
    "LocalProtocolError",
    "ParseError",
    "Request",
    "Response",
    "SipError",
    "parse_message",
]
__version__ = "0.1.0"
