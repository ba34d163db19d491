"""The lab waits on its processes' own events (sipclient/lab/follow.py): a line appearing in a
log (inotify), a process's exit (pidfd), never a sleep-and-look loop. Real processes, no lab."""

from __future__ import annotations

import subprocess
import sys
import time

from sipclient.lab.follow import pidfd_of, wait_exited, wait_for_text


def _later(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_line_written_later_is_found_as_soon_as_it_is_written(tmp_path) -> None:
    log = tmp_path / "log" / "full"
    log.parent.mkdir()  # the file itself does not exist yet: Asterisk creates it
    proc = _later(f"import time; p = {str(log)!r}\n"
                  "open(p, 'a').write('loading modules\\n' * 2000); time.sleep(0.4)\n"
                  "open(p, 'a').write('[x] VERBOSE asterisk.c: Asterisk Ready.\\n')\n"
                  "time.sleep(5)")
    fd = pidfd_of(proc.pid)
    try:
        t0 = time.monotonic()
        assert wait_for_text(log, b"Asterisk Ready.", t0 + 20, exits=[fd]) == "found"
        assert time.monotonic() - t0 < 5  # woken by the write, not by the 20 s deadline
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_dies_first_ends_the_wait_at_once(tmp_path) -> None:
    log = tmp_path / "full"
    proc = _later("import time; time.sleep(0.3); raise SystemExit(3)")
    fd = pidfd_of(proc.pid)
    t0 = time.monotonic()
    assert wait_for_text(log, b"Asterisk Ready.", t0 + 20, exits=[fd]) == "exited"
    assert time.monotonic() - t0 < 5
    assert proc.wait(1) == 3


def test_silence_ends_at_the_deadline(tmp_path) -> None:
    log = tmp_path / "full"
    log.write_text("Asterisk Ready, almost\n")
    t0 = time.monotonic()
    assert wait_for_text(log, b"Asterisk Ready.", t0 + 0.3) == "timeout"
    assert 0.3 <= time.monotonic() - t0 < 3


def test_wait_exited_wakes_on_each_exit() -> None:
    procs = [_later("import time; time.sleep(0.2)"), _later("import time; time.sleep(0.4)")]
    t0 = time.monotonic()
    assert wait_exited([p.pid for p in procs], 20) is True
    assert time.monotonic() - t0 < 5
    stuck = _later("import time; time.sleep(30)")
    try:
        assert wait_exited([stuck.pid], 0.2) is False
    finally:
        stuck.kill()
        for p in [*procs, stuck]:
            p.wait()


def test_a_log_directory_made_later_is_followed_too(tmp_path) -> None:
    """A container renders its run directory itself: the log directory may not exist yet."""
    log = tmp_path / "lab" / "log" / "full"
    proc = _later(f"import os, time; time.sleep(0.3); os.makedirs({str(log.parent)!r}, "
                  f"exist_ok=True); open({str(log)!r}, 'a').write('Asterisk Ready.\\n')")
    try:
        assert wait_for_text(log, b"Asterisk Ready.", time.monotonic() + 20) == "found"
    finally:
        proc.wait()
