"""INVITEs to ``sipclient answer`` that are never ACKed (issue #13): every dialog ends with a
BYE after 64*T1 and the answerer's descriptors come back to their level. The 1,000-call
figures come from bench/unacked_invites.py; this runs it small, with T1 = 50 ms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "unacked_invites.py"


def test_unacked_invites_end_and_release_descriptors() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--calls", "40", "--rate", "100",
                           "--t1", "0.05"], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "answered (200): 40; ended with BYE: 40; within 64*T1 + 1 s: 40" in out, out
