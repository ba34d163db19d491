"""Helpers for the WebRTC lab tests: agent configs in the ``ue`` namespace, running them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sipclient.agent import AgentConfig, Secret

T = TypeVar("T")


def run(lab: Any, main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
    """``main()`` on a fresh event loop in the agents' namespace, failing after ``timeout``."""
    async def bounded() -> T:
        return await asyncio.wait_for(main(), timeout)
    return lab.net.run_async(bounded)


def webrtc_cfg(lab: Any, ext: str, **kw: Any) -> AgentConfig:
    """Extension ``ext`` (2001-2010) over WSS to the lab (its self-signed certificate:
    insecure, as `--insecure` does)."""
    acc = lab.account(ext)
    kw.setdefault("insecure", True)
    return AgentConfig(user=ext, password=Secret(acc.password), server=acc.transports["wss"],
                       local_address=lab.net.ue_ip, **kw)


def udp_cfg(lab: Any, ext: str, **kw: Any) -> AgentConfig:
    acc = lab.account(ext)
    kw.setdefault("codecs", ("PCMU", "PCMA"))
    return AgentConfig(user=ext, password=Secret(acc.password), server=acc.transports["udp"],
                       local_address=lab.net.ue_ip, **kw)


def near(value: float | None, target: float, tolerance: float = 0.02) -> bool:
    return value is not None and abs(value - target) <= target * tolerance


def show(label: str, s: dict) -> None:
    print(f"\n{label}: {s.get('codec')} {s.get('local_rtp')} <-> {s.get('remote_rtp')} "
          f"sent {s.get('packets_sent')} recv {s.get('packets_received')} lost {s.get('lost')} "
          f"jitter {s.get('jitter_ms')} ms, {s.get('dominant_hz')} Hz, dtmf "
          f"{s.get('dtmf_received')!r}, ice {s.get('ice_ms')} ms dtls {s.get('dtls_ms')} ms")
