"""Interoperability with browsers: Chromium (Debian) + Playwright running JsSIP 3.13.8 and
SIP.js 0.21.2 (tests/interop/browser.py), in a test network namespace (WebRTC needs a
non-loopback address; sipclient/lab/netns.py) with the Asterisk lab in the other one.

The browser registers extension 2003 over WSS (WebRTC: ICE, DTLS-SRTP, Opus or G.711);
our agent registers 1016 over UDP (plain RTP, G.711). Asterisk bridges the two. Each
direction: the call is answered, audio flows both ways (our tone analysis hears the packets
of Chromium's fake microphone; the browser's getStats counts our packets and their audio
energy), the browser's DTMF (RFC 4733 through Asterisk) reaches us, our hang-up ends it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterator

import pytest

from sipclient.agent import Agent

from ..webrtc.conftest import lab_in_net, netns_pair
from ..webrtc.util import udp_cfg
from .browser import ARGS, CHROMIUM, bundles, chromium_version

pytestmark = pytest.mark.lab

THEIRS, OURS = "2003", "1016"


@pytest.fixture(scope="module")
def bnet() -> Iterator[Any]:
    yield from netns_pair("ib")


@pytest.fixture(scope="module")
def blab(bnet) -> Iterator[Any]:
    yield from lab_in_net(bnet, "browser", 340)


@pytest.mark.parametrize("lib", ["jssip", "sipjs"])
@pytest.mark.parametrize("direction", ["peer -> us", "us -> peer"])
def test_browser_peer(blab, matrix, lib: str, direction: str) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-lab-deps.sh", pytrace=False)
    name = {"jssip": "JsSIP 3.13.8", "sipjs": "SIP.js 0.21.2"}[lib]
    cell = matrix.cell(f"Chromium + {name}", direction, "wss (browser) / udp (us)",
                       "PCMU", version=chromium_version(), via="Asterisk lab (WebRTC bridge)")
    page_dir = bundles()
    acc = blab.account(THEIRS)
    ip = blab.config.host

    async def main() -> dict:
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                              headless=True)
            try:
                page = await browser.new_page()
                await page.goto((page_dir / "browser_peer.html").as_uri())
                await page.evaluate("([l, w, u, pw]) => start(l, w, u, pw)",
                                    [lib, acc.transports["wss"], f"sip:{THEIRS}@{ip}",
                                     acc.password])
                async with Agent(udp_cfg(blab, OURS, play="tone:1000")) as agent:
                    assert (await agent.register()).ok
                    if direction == "peer -> us":
                        agent.auto_answer = 0.1
                        answered = asyncio.ensure_future(
                            page.evaluate("t => call(t)", f"sip:{OURS}@{ip}"))
                        call = await agent.next_incoming(timeout=15)
                        assert await asyncio.wait_for(answered, 15) == "confirmed"
                    else:
                        await page.evaluate("peer.autoAnswer = true")
                        call = await agent.call(THEIRS)
                        final = await call.wait_final(timeout=20)
                        assert final.status == 200, final
                    await asyncio.sleep(2.5)
                    await page.evaluate("d => dtmf(d)", "159")
                    for _ in range(60):  # JsSIP: 100 ms tones 500 ms apart
                        if len(call.media.dtmf_received) >= 3:
                            break
                        await asyncio.sleep(0.1)
                    theirs = await page.evaluate("stats()")
                    ours = call.media.stats()[0]
                    dtmf = call.media.dtmf_received
                    await call.hangup()
                    for _ in range(50):
                        state = await page.evaluate("peer.state")
                        if state.startswith("ended"):
                            break
                        await asyncio.sleep(0.1)
                    log = await page.evaluate("peer.log")
                return {"theirs": theirs, "ours": ours, "dtmf": dtmf, "state": state,
                        "log": log}
            finally:
                await browser.close()

    result = blab.net.run_async(lambda: asyncio.wait_for(main(), 90))
    print(result)
    assert result["state"].startswith("ended"), result
    theirs, ours = result["theirs"], result["ours"]
    assert theirs["inbound"] > 50 and theirs["energy"] > 0, result  # our tone reached it
    assert ours["packets_received"] > 50, result  # its fake microphone reached us
    assert result["dtmf"] == "159", result
    cell.checked(audio="both ways (ours: packets + tone analysis; theirs: getStats)",
                 dtmf="peer -> us (RFC 4733 via Asterisk)",
                 note="DTMF us -> browser: not checkable, WebRTC has no DTMF receive API "
                      "(W3C webrtc-pc, RTCDTMFSender sends only)")
