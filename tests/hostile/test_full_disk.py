"""A full disk (a small tmpfs made by the test; needs root): every output that cannot be
written is a clear error with its path and a non-zero exit, never a traceback, a silently
cut file or a 0-byte file left behind (issue 18)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from sipclient.cli import EXIT_FAILURE, Env, main
from tests.cli.uas import PbxThread

def setup_module() -> None:
    assert os.geteuid() == 0, "these tests mount a small tmpfs: run them as root (CI does)"

PASSWORD = "pw-full-disk"


@pytest.fixture
def small_disk(tmp_path):
    """A 16 KiB tmpfs; ``fill(free)`` leaves about ``free`` bytes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], check=True)

    def fill(free: int) -> None:
        (mount / "filler").write_bytes(b"\0" * max(0, 16384 - free))

    try:
        yield mount, fill
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture(scope="module")
def pbx():
    with PbxThread({"1001": PASSWORD}, host="127.0.0.1") as p:
        yield p


def call(pbx, *extra):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(["call", "600", "--server", pbx.server, "-u", "1001", "--password", PASSWORD,
                 "--duration", "1.5", "--json", *extra], env)
    assert "Traceback" not in env.stderr.getvalue()
    return code, json.loads(env.stdout.getvalue())


@pytest.mark.parametrize("flag, name, what", [("--pcap", "x.pcap", "capture"),
                                              ("--record", "x.wav", "recording")])
def test_an_output_on_a_full_disk_fails_before_the_call_and_leaves_no_file(
        pbx, small_disk, flag, name, what):
    mount, fill = small_disk
    fill(0)
    path = mount / name
    code, obj = call(pbx, flag, str(path))
    assert code == EXIT_FAILURE and obj["ok"] is False
    assert obj["error"] == f"cannot write the {what} {path}: No space left on device"
    assert not path.exists(), "no 0-byte file is left behind"
    assert obj["flow"] == [], "nothing was dialled"


def test_a_capture_cut_by_a_full_disk_mid_call_is_a_failure(pbx, small_disk):
    mount, fill = small_disk
    fill(8192)
    path = mount / "x.pcap"
    code, obj = call(pbx, "--pcap", str(path))
    assert code == EXIT_FAILURE and obj["ok"] is False and obj["status"] == 200
    assert obj["error"] == f"capture {path} stopped early: No space left on device"
    assert 0 < path.stat().st_size <= 8192      # what did fit is kept, and said to be cut


WAIT_ONLY = """\
name: wait only
agents:
  alice: {user: "1001", password: x}
steps:
  - wait: 0.1
"""


def run_cli(*argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main(list(argv), env)
    err = env.stderr.getvalue()
    assert "Traceback" not in err
    return code, env.stdout.getvalue(), err


def leftovers(mount: Path) -> list[Path]:
    """Files a failed write left: a .tmp, or an empty file."""
    return [p for p in mount.rglob("*") if p.is_file() and p.name != "filler"
            and (p.name.endswith(".tmp") or p.stat().st_size == 0)]


@pytest.mark.parametrize("where", ["report-dir", "junit", "json"])
def test_run_reports_on_a_full_disk_are_a_failure_naming_the_file(small_disk, tmp_path, where):
    mount, fill = small_disk
    fill(0)
    scenario = tmp_path / "wait.sip.yaml"
    scenario.write_text(WAIT_ONLY)
    report_dir = mount / "rep" if where == "report-dir" else tmp_path / "rep"
    argv = ["run", str(scenario), "--target", "udp:127.0.0.1:9", "--report-dir",
            str(report_dir)]
    if where == "junit":
        argv += ["--junit", str(mount / "junit.xml")]
    if where == "json":
        argv += ["--json", str(mount / "run.json")]
    code, out, err = run_cli(*argv)
    assert code == EXIT_FAILURE
    target = {"report-dir": report_dir / "run.json", "junit": mount / "junit.xml",
              "json": mount / "run.json"}[where]
    assert f"sipclient run: cannot write {target}: No space left on device" in err
    if where == "report-dir":
        assert "cannot write the capture " in out  # the scenario's own capture, said
    assert leftovers(mount) == []


def test_an_html_ladder_on_a_full_disk_fails_with_its_path_and_no_empty_file(small_disk):
    mount, fill = small_disk
    fill(0)
    out = mount / "ladder.html"
    capture = Path(__file__).resolve().parents[2] / "captures" / "busy.pcap"
    code, stdout, err = run_cli("pcap", "ladder", str(capture), "--html", str(out))
    assert code == EXIT_FAILURE
    assert f"cannot write {out}: No space left on device" in err
    assert not out.exists() and leftovers(mount) == []
