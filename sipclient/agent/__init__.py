"""The softclient's user agent (docs/agent.md).

    async with Agent(AgentConfig(user="1001", password=Secret("..."),
                                 server="udp:127.0.0.1:7048")) as agent:
        await agent.register()
        call = await agent.call("600")
        await call.wait_final(timeout=30)
        await call.hangup()
"""

from .agent import Agent
from .call import Call, DialogSession
from .config import AgentConfig, ImpairmentSettings, Secret
from .errors import (AgentError, AuthenticationFailed, SipFailure, SipTimeout,
                     TransportFailure)
from .incoming import IncomingCall
from .registration import RegisterResult
from .media_session import MediaSession
from .trace import Trace, TraceEntry

__all__ = [
    "Agent", "AgentConfig", "AgentError", "AuthenticationFailed", "Call", "DialogSession",
    "ImpairmentSettings", "IncomingCall", "MediaSession", "RegisterResult", "Secret",
    "SipFailure", "SipTimeout", "StubMedia", "Trace", "TraceEntry", "TransportFailure",
]


def __getattr__(name: str):  # StubMedia: the media level "none" (numpy loads on first use)
    if name == "StubMedia":
        from .media import SdpOnlyMedia

        return SdpOnlyMedia
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
