"""sipp as a UAS that challenges with 401 and verifies our digest itself (sipp's
``<verifyauth>``, an implementation independent of ours and of Asterisk's).

The scenario is tests/interop/sipp/uas_auth.xml. sipp runs as a subprocess on 127.0.0.1
with free ports, ``-m 1`` (one call, then it exits), a global ``-timeout`` and
``-trace_err``; our CLI (``sipclient.cli.main``, in process) is the client:

* right password: REGISTER, 401, REGISTER, 200 (exit 0); INVITE, 401, ACK, INVITE, 100,
  200, ACK, BYE, 200 (exit 0);
* wrong password: sipp's verifyauth fails, it answers 403: our auth-failure exit code 3.

sipp must end by itself with exit code 0 (its scenario ran to the end) and log no
unexpected message. sipp (Debian's sip-tester) missing is a failure, not a skip.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sipclient.cli import EXIT_AUTH, EXIT_OK, Env, main
from sipclient.lab.probe import free_udp_port, port_in_use

from .tools import require_binary

SCENARIO = Path(__file__).with_name("sipp") / "uas_auth.xml"
HOST = "127.0.0.1"
USER, PASSWORD = "1001", "s3cret-sipp"


def sipp_binary() -> str:
    return require_binary("sipp", "run `make lab-deps` (Debian package sip-tester)")


class Sipp:
    """``sipp -sf uas_auth.xml`` in the background for one call (``-m 1``)."""

    def __init__(self, workdir: Path, password: str = PASSWORD, timeout: float = 20) -> None:
        self.port = free_udp_port()
        self.workdir = workdir
        self.errors = workdir / "sipp_errors.log"
        self.timeout = timeout
        self.argv = [sipp_binary(), "-sf", str(SCENARIO), "-set", "user", USER,
                     "-set", "pass", password, "-i", HOST, "-p", str(self.port),
                     "-mi", HOST, "-mp", str(free_udp_port(also=(2,))),
                     "-cp", str(free_udp_port()), "-bind_local", "-m", "1", "-nostdin",
                     "-timeout", f"{int(timeout)}s", "-timeout_error",
                     "-trace_err", "-error_file", str(self.errors)]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Sipp:
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while not port_in_use(HOST, self.port, socket.SOCK_DGRAM):  # listening once its port is bound
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.proc.communicate()[0].decode(errors="replace")
                pytest.fail(f"sipp did not start (exit {self.proc.returncode}):\n{out[-2000:]}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    @property
    def server(self) -> str:
        return f"udp:{HOST}:{self.port}"

    def finish(self) -> tuple[int, str]:
        """Wait for sipp to end by itself (it has ``-m 1``): exit code and output."""
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate(timeout=self.timeout + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out.decode(errors="replace")

    def error_log(self) -> str:
        return self.errors.read_text(errors="replace") if self.errors.exists() else ""


def cli(*argv: str) -> tuple[int, dict]:
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    code = main([*argv, "--json"], env)
    out = env.stdout.getvalue()
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        raise AssertionError(f"exit {code}, no JSON:\n{out}\n{env.stderr.getvalue()}") from None


def run_against_sipp(tmp_path: Path, password: str, *argv: str) -> tuple[int, dict]:
    """Our CLI with ``password`` against sipp, which expects :data:`PASSWORD`."""
    with Sipp(tmp_path) as sipp:
        code, obj = cli(*argv, "--server", sipp.server, "--user", USER, "--password", password,
                        "--timeout", "10")
        rc, out = sipp.finish()
        errors = sipp.error_log()
    assert rc == 0, f"sipp exit {rc} (our exit {code}, {obj})\n{out[-3000:]}\n{errors}"
    assert not errors.strip(), errors
    return code, obj


@pytest.fixture(autouse=True)
def _sipp_present() -> None:
    sipp_binary()


def test_register_right_password(tmp_path: Path) -> None:
    code, obj = run_against_sipp(tmp_path, PASSWORD, "register")
    assert code == EXIT_OK, obj
    assert obj["flow"] == ["REGISTER", "401", "REGISTER", "200"], obj
    assert obj["ok"] is True and obj["status"] == 200 and obj["expires"] == 120


def test_register_wrong_password(tmp_path: Path) -> None:
    code, obj = run_against_sipp(tmp_path, "not-it", "register")
    assert code == EXIT_AUTH, obj
    assert obj["flow"] == ["REGISTER", "401", "REGISTER", "403"], obj
    assert obj["status"] == 403 and obj["ok"] is False
    assert "not-it" not in json.dumps(obj)


def test_call_right_password(tmp_path: Path, matrix) -> None:
    from .test_sipp_peers import sipp_version

    matrix.cell("sipp", "us -> peer", "udp", "PCMU", version=sipp_version(),
                via="-; sipp UAS verifies our digest").checked(note="signalling only")
    code, obj = run_against_sipp(tmp_path, PASSWORD, "call", "600", "--duration", "0.3",
                                 "--codec", "PCMU")
    assert code == EXIT_OK, obj
    assert obj["flow"] == ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE",
                           "200"], obj
    assert obj["ended_by"] == "local"


def test_call_wrong_password(tmp_path: Path) -> None:
    code, obj = run_against_sipp(tmp_path, "not-it", "call", "600")
    assert code == EXIT_AUTH, obj
    assert obj["flow"] == ["INVITE", "401", "ACK", "INVITE", "403", "ACK"], obj
    assert obj["status"] == 403
