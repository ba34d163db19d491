"""Timings of the HTTP twin on a real lab (issue 9): not a test, a measurement.

    .venv/bin/python bench/http_twin.py [--calls 5]

Per click-to-call (seed 001): request -> the agent's INVITE arrives; the agent's answer ->
the echo reaches it (the number dialled); hang-up -> seed 000's CDR at the receiver; and the
CDR's billsec against the talk time the agent measured. Also: statusramais round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipclient.agent import Agent, AgentConfig, Secret  # noqa: E402
from sipclient.http.client import HttpClient  # noqa: E402
from sipclient.http.dialects import pbx_api  # noqa: E402
from sipclient.http.receivers import WebhookReceiver  # noqa: E402
from sipclient.http.twin import Twin, TwinConfig, WebhookTarget  # noqa: E402
from sipclient.lab import Lab  # noqa: E402
from sipclient.lab.testing import claim_test_lab  # noqa: E402


async def bench(lab: Lab, calls: int, talk: float) -> dict[str, list[float]]:
    creds = pbx_api.Credentials("root", Secret("bench-senha"), Secret("bench-token"))
    out: dict[str, list[float]] = {k: [] for k in ("invite_ms", "echo_ms", "cdr_ms",
                                                    "billsec_error_s", "statusramais_ms")}
    ext = "1010"
    cfg = AgentConfig(user=ext, password=Secret(lab.account(ext).password),
                      server=f"udp:{lab.config.probe_host}:{lab.config.sip_port}",
                      local_address="127.0.0.1", play="tone:1000")
    async with WebhookReceiver() as rx, \
            Twin(lab, TwinConfig(credentials=creds, webhooks=[
                WebhookTarget("seed000", rx.url("seed000"))])) as twin, Agent(cfg) as agent:
        await agent.register()
        client = HttpClient(ca_file=str(twin.ca_file))
        url = twin.url + pbx_api.API_PATH
        for _ in range(calls):
            t0 = time.perf_counter()
            answer = (await client.post_json(url, pbx_api.request(
                "clicktocall", creds, origem=ext, destino="600"))).json()
            call_id = pbx_api.parse_click_to_call_answer(answer)
            incoming = await agent.next_incoming(timeout=10)
            out["invite_ms"].append((time.perf_counter() - t0) * 1000)
            await incoming.answer()
            answered = time.perf_counter()
            while not incoming.media.stats()[0].get("dominant_hz"):
                await asyncio.sleep(0.02)
            out["echo_ms"].append((time.perf_counter() - answered) * 1000)
            t1 = time.perf_counter()
            s = await client.post_json(url, pbx_api.request("statusramais", creds))
            pbx_api.validate_statusramais(s.json())
            out["statusramais_ms"].append((time.perf_counter() - t1) * 1000)
            await asyncio.sleep(max(0.0, talk - (time.perf_counter() - answered)))
            await incoming.hangup()
            spoken = time.perf_counter() - answered
            t2 = time.perf_counter()
            rec = await twin.wait_ended(call_id)
            cdr = await rx.expect("seed000", "cdr", callid=rec.key, timeout=10)
            out["cdr_ms"].append((time.perf_counter() - t2) * 1000)
            out["billsec_error_s"].append(int(cdr.fields["billsec"]) - spoken)
            await asyncio.sleep(0.5)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--talk", type=float, default=3.0, help="seconds of talk per call")
    args = parser.parse_args()
    config, claim = claim_test_lab("bench-http")
    lab = Lab(config)
    lab.up()
    try:
        results = asyncio.run(bench(lab, args.calls, args.talk))
    finally:
        lab.down()
        if claim is not None:
            claim.release()
    print(f"{args.calls} click-to-calls (seed 001) on the lab, {args.talk:g} s of talk each")
    for name, values in results.items():
        print(f"  {name:16} median {statistics.median(values):8.2f}  "
              f"min {min(values):8.2f}  max {max(values):8.2f}")


if __name__ == "__main__":
    main()
