"""Hostile scenario files: every one is exit 2 with one ``file:line: message`` line, quickly and
in little memory (issue 18: an alias bomb grew to MemoryError, 20,000 nested ``[`` gave a
RecursionError with no line, a 50 MB file took 299 s and 5.8 GB)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.scenario.loader import ScenarioErrors, load_scenario

BROKEN = Path(__file__).resolve().parents[1] / "scenario" / "broken"
HOSTILE = ["alias-bomb", "alias-self-reference", "deep-nesting", "too-many-aliases",
           "server-sctp", "server-unclosed-bracket", "header-name-crlf", "header-value-crlf"]


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.sip.yaml"
    with open(path, "w") as f:
        f.write("vars:\n")
        for i in range(600_000):  # about 50 MB
            f.write(f"  v{i}: {'x' * 72}\n")
    return path


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_one_line_with_file_and_line_in_little_time(name):
    path = BROKEN / f"{name}.sip.yaml"
    started = time.monotonic()
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path, env={})
    assert time.monotonic() - started < 5
    assert len(info.value.errors) == 1
    assert re.match(rf"{re.escape(str(path))}:\d+: \S", str(info.value))


def test_a_50_mb_file_is_refused_at_once_with_a_line(tmp_path):
    path = _huge(tmp_path)
    started = time.monotonic()
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path, env={})
    assert time.monotonic() - started < 5
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+: the file, at this line, exceeds the "
                        r"limit of 2 MiB .*SIPCLIENT_LIMIT_SCENARIO_BYTES.*", str(info.value))


# the peak of this process alone: VmHWM belongs to the memory map that exec made, whereas
# getrusage's ru_maxrss keeps the high-water mark of the forking parent (pytest, which may
# itself be over 200 MB late in a long suite)
PEAK = ("import sys\nfrom sipclient.cli import main\ncode = main(sys.argv[1:])\n"
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print('peak_kb', hwm, file=sys.stderr)\n"
        "sys.exit(code)\n")


def test_sipclient_run_stops_every_bomb_with_exit_2_under_200_mb(tmp_path):
    files = [BROKEN / f"{name}.sip.yaml" for name in HOSTILE] + [_huge(tmp_path)]
    for path in files:
        proc = subprocess.run([sys.executable, "-c", PEAK, "run", str(path), "--target",
                               "udp:127.0.0.1:9", "--report-dir", str(tmp_path / "r")],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.splitlines()
        assert re.match(rf"{re.escape(str(path))}:\d+: \S", lines[0]), proc.stderr
        assert "Traceback" not in proc.stderr
        peak_kb = int(lines[-1].split()[1])
        assert peak_kb < 200 * 1024, f"{path.name}: {peak_kb} KB"
