"""WebRTC call setup times and CPU per call, against the real Asterisk lab.

Each call is made the way a browser tab does it: a new agent opens the WSS connection,
registers (401, then 200), calls 600 (the echo) with a 700 Hz tone, waits for the 200,
then for the first SRTP audio packet, talks ``--talk`` seconds, hangs up and closes
(un-REGISTER). Measured per call, on the loop clock:

- ``wss_connect``: TCP + TLS + WebSocket upgrade (``Agent.open()``);
- ``register``: REGISTER to its 200 (the challenge included);
- ``invite_200``: INVITE sent (after ICE gathering and the DTLS certificate) to the 200;
- ``gather``: ICE host-candidate gathering + certificate, before the INVITE goes out;
- ``ice``, ``dtls``: ICE checks to a nominated pair, then the DTLS handshake (from the
  answer);
- ``first_audio``: the 200 to the first decrypted RTP packet received.

CPU per call is this process's CPU time (user + system, every thread) over the calls, so
aiortc's encoding, SRTP and our analysis are in it; Asterisk's is not. The lab runs in a
test network namespace (root needed; see docs/webrtc.md), so nothing leaves the machine.

Run: ``python bench/webrtc_setup.py [--calls 10] [--talk 1.0]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import webrtc  # noqa: E402
from sipclient.agent import Agent, AgentConfig, Secret  # noqa: E402
from sipclient.lab import Lab  # noqa: E402
from sipclient.lab.netns import TestNet  # noqa: E402
from sipclient.lab.testing import RunDirClaim, test_lab_config  # noqa: E402

METRICS = ("wss_connect", "register", "gather", "invite_200", "ice", "dtls", "first_audio")


async def one_call(cfg: AgentConfig, talk: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    out: dict[str, float] = {}
    agent = Agent(cfg, media_factory=webrtc.media_factory())
    t = loop.time()
    await agent.open()
    out["wss_connect"] = loop.time() - t
    try:
        t = loop.time()
        reg = await agent.register()
        out["register"] = loop.time() - t
        assert reg.ok, reg
        t = loop.time()
        call = await agent.call("600")  # returns once the INVITE is sent
        sent = loop.time()
        final = await call.wait_final(timeout=10)
        answered = loop.time()
        assert final.status == 200, final
        out["invite_200"] = answered - sent
        media = call.media
        await media.wait_connected(10)
        while not media.rx_stats.streams:
            await asyncio.sleep(0.001)
        out["first_audio"] = loop.time() - answered
        out["gather"] = media.timings["gather_ms"] / 1000
        out["ice"] = media.timings["ice_ms"] / 1000
        out["dtls"] = media.timings["dtls_ms"] / 1000
        await asyncio.sleep(talk)
        hz = media.dominant_hz()
        assert hz is not None and abs(hz - 700) < 15, f"echo heard at {hz} Hz"
        await call.hangup()
    finally:
        await agent.close()
    return out


async def run_calls(cfgs: list[AgentConfig], talk: float) -> tuple[list[dict], float, float]:
    results = []
    cpu0, wall0 = time.process_time(), time.monotonic()
    for cfg in cfgs:
        results.append(await one_call(cfg, talk))
    return results, time.process_time() - cpu0, time.monotonic() - wall0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--talk", type=float, default=1.0, help="seconds of audio per call")
    args = ap.parse_args()

    net = TestNet(tag="bench").create()
    config = test_lab_config("webrtc-bench", extra_offset=400)
    claim = RunDirClaim(config.run_dir)
    lab = Lab(config.replace(run_dir=claim.path, bind=net.pbx_ip, host=net.pbx_ip))
    try:
        net.run(lab.up, where="pbx")
        exts = [e for e in lab.config.webrtc_extensions]
        cfgs = []
        for i in range(args.calls):
            acc = lab.account(exts[i % len(exts)])
            cfgs.append(AgentConfig(user=acc.extension, password=Secret(acc.password),
                                    server=acc.transports["wss"], insecure=True,
                                    local_address=net.ue_ip, play="tone:700",
                                    record_trace=False))
        results, cpu, wall = net.run_async(lambda: run_calls(cfgs, args.talk))
    finally:
        lab.down()
        claim.release()
        net.destroy()

    print(f"WebRTC call setup against Asterisk {lab.config.host} (test namespace), "
          f"{len(results)} calls, {args.talk:g} s of audio each")
    print(f"{'metric':<14}{'median ms':>11}{'p90 ms':>10}{'max ms':>10}")
    for m in METRICS:
        values = sorted(1000 * r[m] for r in results)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"{m:<14}{statistics.median(values):>11.1f}{p90:>10.1f}{values[-1]:>10.1f}")
    total = [1000 * (r["wss_connect"] + r["register"] + r["gather"] + r["invite_200"]
                     + r["first_audio"]) for r in results]
    print(f"{'open->audio':<14}{statistics.median(total):>11.1f}")
    print(f"CPU: {cpu:.2f} s for {len(results)} calls = {1000 * cpu / len(results):.0f} ms "
          f"per call ({cpu / wall * 100:.0f}% of one core over {wall:.1f} s)")


if __name__ == "__main__":
    main()
