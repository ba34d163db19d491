"""How long loading and checking a scenario file takes (YAML with lines, schema, checks).

Three workloads: the docs' echo example (the usual size), a 500-step file (a long soak
scenario: calls, waits, expects with regexes, variables) and the same 500-step file with
200 mistakes (every error is gathered and worded). Prints the median of ``--rounds`` runs.

Run: ``python bench/scenario_loader.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sipclient.scenario.loader import load_text
from sipclient.scenario.model import ScenarioErrors

ECHO = """\
name: call the echo test over UDP and hear our own tone
tags: [call, echo, udp]
agents:
  alice: {account: 1001, transport: udp, codecs: [PCMU], play: "tone:1000"}
steps:
  - register: alice
  - call: {from: alice, to: "600", as: c1}
  - wait: 2
  - expect_media: {call: c1, codec: PCMU, tone: 1000, max_loss: 0.05}
  - hangup: c1
  - expect_flow:
      agent: alice
      call: c1
      flow: [INVITE, 401, ACK, INVITE, "100?", "180|183?", 200, ACK, BYE, 200]
"""

HEAD = """\
vars:
  callee: "600"
agents:
  alice: {account: 1001}
  bob: {account: 1002}
steps:
  - register: alice
"""

BLOCK = """\
  - call: {{from: alice, to: "${{callee}}", as: c{n}}}
  - expect:
      agent: alice
      status: 200
      headers: {{Contact: "<sip:\\\\d+@", Server: "^Asterisk"}}
      capture: {{cid{n}: {{header: Call-ID}}}}
  - wait: 1
  - send_raw: {{agent: alice, message: "x ${{cid{n}}} ${{c{n}.call_id}} ${{new.branch}}"}}
  - hangup: c{n}
"""

BAD = """\
  - call: {{from: alise, to: "${{calee}}", as: c{n}, timeout: soon}}
  - hangup: c{n}
"""


def measure(text: str, rounds: int) -> tuple[float, int]:
    times, errors = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            load_text(text, "bench.sip.yaml", env={})
        except ScenarioErrors as exc:
            errors = len(exc.errors)
        times.append(time.perf_counter() - start)
    return statistics.median(times), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    long = HEAD + "".join(BLOCK.format(n=n) for n in range(100))
    broken = long + "".join(BAD.format(n=1000 + n) for n in range(50))
    for label, text in (("echo example (6 steps)", ECHO), ("500 steps", long),
                        ("500 steps + 100 wrong", broken)):
        seconds, errors = measure(text, rounds)
        lines = text.count("\n")
        print(f"{label:26s} {lines:5d} lines  {seconds * 1000:8.2f} ms"
              + (f"  ({errors} errors)" if errors else ""))


if __name__ == "__main__":
    main()
