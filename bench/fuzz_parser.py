"""Fuzz the SIP parser by mutating real messages: nothing but ParseError may escape.

Each input is a corpus message (tests/data/messages/*.sip: the seed's messages, Asterisk's
answers, edge cases) put through 1 to 4 random mutations: byte flips, insertions of SIP
metacharacters, deletions, duplicated or truncated spans, spliced header lines. Every input
is parsed, every typed view the core knows is read, and the message is serialized again.

Run: ``make fuzz`` (1,000,000 inputs) or ``python bench/fuzz_parser.py --examples N
[--seed S]``. Exit status 0 when only ParseError was seen; 1 with the failing input
written to ``fuzz-crash-<n>.sip`` otherwise. The test suite runs a short version.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sipclient  # noqa: E402
from sipclient import ParseError  # noqa: E402

CORPUS_DIR = ROOT / "tests" / "data" / "messages"
INTERESTING = [
    b"\r\n", b"\r\n\r\n", b"\n", b":", b";", b",", b"<", b">", b'"', b"\\", b"=", b" ", b"\t",
    b"@", b"[", b"]", b"%", b"%zz", b"\x00", b"\xff", b"\xc3", b"SIP/2.0", b"0", b"-1",
    b"99999999999999999999", b"Content-Length: 9999\r\n", b"l: 0\r\n", b"v: SIP/2.0/UDP x\r\n",
]
VIEWS = (
    "call_id", "cseq", "via", "top_via", "from_", "to", "contact", "max_forwards", "expires",
    "route", "record_route", "content_type", "content_length", "allow", "supported", "require",
    "user_agent", "www_authenticate", "proxy_authenticate", "authorization",
    "proxy_authorization",
)


def load_corpus() -> list[bytes]:
    corpus = [p.read_bytes() for p in sorted(CORPUS_DIR.glob("*.sip"))]
    if not corpus:
        raise SystemExit(f"no corpus messages in {CORPUS_DIR}")
    return corpus


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a byte
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a metacharacter
            buf[pos:pos] = rng.choice(INTERESTING)
        elif op == 2:  # delete a span
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 3:  # duplicate a span
            span = bytes(buf[pos : pos + rng.randint(1, 64)])
            buf[pos:pos] = span
        elif op == 4:  # truncate
            del buf[pos:]
        else:  # splice a line from elsewhere
            lines = bytes(buf).split(b"\r\n")
            if len(lines) > 2:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines.insert(i, lines[j])
                buf = bytearray(b"\r\n".join(lines))
    return bytes(buf)


def exercise(data: bytes) -> None:
    """Parse, read every typed view, serialize. Only ParseError may escape."""
    try:
        msg = sipclient.parse_message(data)
    except ParseError:
        return
    for name in VIEWS:
        try:
            getattr(msg, name)
        except ParseError:
            pass
    if msg.is_request:
        try:
            msg.uri_parsed
        except ParseError:
            pass
    bytes(msg)


def run(examples: int, seed: int = 0, report_every: int = 0) -> tuple[int, list[bytes]]:
    """Run ``examples`` inputs; return (count, crashing inputs)."""
    rng = random.Random(seed)
    corpus = load_corpus()
    crashes: list[bytes] = []
    for i in range(examples):
        data = mutate(rng, rng.choice(corpus))
        try:
            exercise(data)
        except Exception:  # noqa: BLE001 - this is what we hunt for
            crashes.append(data)
            if len(crashes) <= 3:
                traceback.print_exc()
        if report_every and (i + 1) % report_every == 0:
            print(f"{i + 1:,} inputs, {len(crashes)} crashes", flush=True)
    return examples, crashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    start = time.perf_counter()
    count, crashes = run(args.examples, args.seed, report_every=100_000)
    elapsed = time.perf_counter() - start
    print(f"seed {args.seed}: {count:,} inputs in {elapsed:.0f} s "
          f"({count / elapsed:,.0f}/s), {len(crashes)} exceptions other than ParseError")
    for n, data in enumerate(crashes[:10]):
        Path(f"fuzz-crash-{n}.sip").write_bytes(data)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
