"""``sipclient answer`` waits for calls for days: it runs on the C allocator
(``PYTHONMALLOC=malloc``) so that what a burst of calls freed goes back to the system
(issue 13; sipclient/io/memory.py). A user's own PYTHONMALLOC is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sipclient.lab.probe import free_udp_port

REPO = Path(__file__).resolve().parents[2]


def _allocator_of_answer(extra_env: dict[str, str]) -> str | None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    env.update(extra_env, PYTHONPATH=str(REPO))
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "sipclient", "answer", "--no-register", "-s",
                             f"udp:127.0.0.1:{port}", "-u", "1002"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # the first line comes once it listens
        assert "waiting for calls" in line, line
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        found = [v for v in environ if v.startswith(b"PYTHONMALLOC=")]
        return found[0].split(b"=", 1)[1].decode() if found else None
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()


def test_answer_runs_on_the_c_allocator() -> None:
    assert _allocator_of_answer({}) == "malloc"


def test_answer_keeps_the_allocator_the_user_chose() -> None:
    assert _allocator_of_answer({"PYTHONMALLOC": "pymalloc"}) == "pymalloc"
