"""Where the lab runs (issue 19): ``./run/<name>`` of the current directory (a per-user cache
when that is not writable), never the package's tree; ``--lab-run-dir`` on ``run`` and
``lab``; the default ports taken by another program: free ones, and the user is told."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sipclient.lab.config import default_run_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_default_run_dir_is_the_current_directorys(tmp_path: Path) -> None:
    assert default_run_dir("lab", cwd=tmp_path) == tmp_path / "run" / "lab"
    assert default_run_dir(cwd=REPO) == REPO / "run" / "lab"  # a checkout is a directory too


def test_a_directory_that_is_not_writable_uses_the_per_user_cache(tmp_path: Path) -> None:
    import tempfile

    here = tmp_path / "ro"
    cache = Path(tempfile.mkdtemp(prefix="sipc-"))  # short: the control socket's path fits

    def writable(path: Path) -> bool:  # as os.access would say for a read-only ./
        return not path.is_relative_to(here)

    try:
        got = default_run_dir("lab", cwd=here, environ={"XDG_CACHE_HOME": str(cache / "c")},
                              writable=writable)
        assert got == cache / "c" / "sipclient" / "lab"
        got = default_run_dir("lab", cwd=here, environ={"HOME": str(cache / "h")},
                              writable=writable)
        assert got == cache / "h" / ".cache" / "sipclient" / "lab"
        # neither: the temporary directory
        got = default_run_dir("lab", cwd=here, environ={}, writable=writable)
        assert got.name == "lab" and got.parent.name == f"sipclient-{os.getuid()}"
    finally:
        cache.rmdir()


def test_a_directory_too_deep_for_asterisks_control_socket_uses_the_cache(tmp_path):
    import tempfile

    deep = tmp_path / ("d" * 90)
    cache = Path(tempfile.mkdtemp(prefix="sipc-"))
    try:
        got = default_run_dir("lab", cwd=deep, environ={"XDG_CACHE_HOME": str(cache)})
    finally:
        cache.rmdir()
    assert got == cache / "sipclient" / "lab"


def test_a_read_only_run_folder_is_not_writable(tmp_path: Path) -> None:
    from sipclient.lab.config import _writable_dir

    assert _writable_dir(tmp_path / "run")  # made when needed
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o555)
    try:
        assert _writable_dir(run) == os.access(run, os.W_OK)  # root may write anyway
    finally:
        run.chmod(0o755)
    (tmp_path / "file").write_text("")
    assert not _writable_dir(tmp_path / "file")  # not a directory


SCENARIO = """\
name: register once
agents:
  alice: {account: 1001}
steps:
  - register: alice
  - expect_flow: {agent: alice, flow: [REGISTER, 401, REGISTER, 200]}
"""


def _hold_7048() -> socket.socket | None:
    """Bind the lab's default SIP port (UDP, 127.0.0.1) when it is free: another program
    holding it. None when something else already does (the condition is there already)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 7048))
    except OSError:
        sock.close()
        return None
    return sock


@pytest.mark.lab
def test_run_from_an_empty_directory_starts_its_lab_there_on_free_ports() -> None:
    # a short path: under pytest-xdist tmp_path is too deep for Asterisk's control socket
    # (107 characters), and the lab would rightly move to the per-user cache
    with tempfile.TemporaryDirectory(prefix="sc-", dir="/tmp") as short:
        _run_from_an_empty_directory(Path(short) / "elsewhere")


def _run_from_an_empty_directory(here: Path) -> None:
    here.mkdir()
    (here / "one.sip.yaml").write_text(SCENARIO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPCLIENT_LAB_")}
    held = _hold_7048()
    try:
        proc = subprocess.run([sys.executable, "-m", "sipclient", "run", "one.sip.yaml"],
                              cwd=here, env=env, capture_output=True, text=True, timeout=240)
    finally:
        if held is not None:
            held.close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert (here / "run" / "lab" / "lab.json").is_file()  # ./run/lab of where it ran
    assert not (REPO / "run" / "lab" / "one").exists()
    assert "the lab's ports (SIP 7048" in out and "are taken by another program" in out, out
    assert "using SIP " in out and "1 passed" in out
    # the lab it started is stopped again
    assert "lab up in" in out


@pytest.mark.lab
def test_lab_run_dir_flag_on_run(tmp_path: Path) -> None:
    (tmp_path / "one.sip.yaml").write_text(SCENARIO)
    chosen = tmp_path / "labs" / "mine"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPCLIENT_LAB_")}
    proc = subprocess.run([sys.executable, "-m", "sipclient", "run", "one.sip.yaml",
                           "--lab-run-dir", str(chosen)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (chosen / "lab.json").is_file() and not (tmp_path / "run").exists()
    assert f"starting the Asterisk lab in {chosen}" in proc.stdout + proc.stderr


@pytest.mark.lab
def test_lab_up_with_the_default_port_taken_says_which_ports_it_uses(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPCLIENT_LAB_")}
    chosen = tmp_path / "lab"

    def lab(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sipclient", "lab", *argv,
                               "--lab-run-dir", str(chosen)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
    held = _hold_7048()
    try:
        up = lab("up")
    finally:
        if held is not None:
            held.close()
        down = lab("down")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "sipclient lab up: the lab's ports (SIP 7048" in up.stderr
    port = int(up.stderr.split("using SIP ")[1].split(",")[0])
    assert port != 7048 and f":{port}" in up.stdout  # the endpoints it printed
    assert down.returncode == 0 and down.stdout == "lab stopped\n"
