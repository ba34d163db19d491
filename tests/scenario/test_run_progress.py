"""``sipclient run`` while scenarios run (issue 6 item 4, issue 7 item 1): ``-v`` prints a
line per step as it ends (in this process and from ``-n`` workers), a terminal without ``-v``
gets a live status line (never anything else), and ``--capture-interface IFACE`` gives each
scenario a real interface capture, ``capture.iface.pcapng``, beside its own capture."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from sipclient.cli import Env, main
from sipclient.scenario.progress import Progress

DATA = Path(__file__).parent / "data"


def cli(*argv: str, environ: dict[str, str] | None = None,
        stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    code = main(["run", *argv], Env(stdout=out, stderr=err, environ=environ))
    return code, out.getvalue(), err.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


SCENARIO = SimpleNamespace(name="register 1003 over UDP", steps=(1, 2))


def _event(path: str, status: str = "passed", message: str = "", kind: str = "register",
           title: str = "register") -> dict:
    return {"path": path, "kind": kind, "title": title, "status": status, "duration": 0.25,
            "message": message}


# ----------------------------------------------------------------------------- no lab

def test_verbose_prints_a_line_per_step_and_a_failed_steps_message():
    out = io.StringIO()
    progress = Progress(out, 1, verbose=True)
    progress.started(0, SCENARIO, None)
    progress.step(0, _event("1"), None)
    progress.step(0, _event("2", "failed", "expected 200, got 403 Forbidden\nsecond line",
                            kind="expect", title="wait for the 200"), None)
    progress.finished(0, {"name": SCENARIO.name, "status": "failed", "duration": 1.5}, None)
    assert out.getvalue().splitlines() == [
        "[1/1] register 1003 over UDP ...",
        "    step 1    register                       PASS  0.25 s",
        "    step 2    expect: wait for the 200       FAIL  0.25 s",
        "          expected 200, got 403 Forbidden",
        "          second line",
        "[1/1] register 1003 over UDP ... FAIL 1.50 s",
    ]


def test_verbose_step_lines_from_workers_name_the_scenario_and_the_worker():
    out = io.StringIO()
    progress = Progress(out, 12, verbose=True)
    progress.started(2, SCENARIO, 1)  # workers: nothing until there is something to say
    progress.step(2, _event("1.2#3", "skipped"), 1)
    assert out.getvalue() == \
        "    [ 3/12] [w1]   step 1.2#3 register                       SKIP  0.25 s\n"


def test_the_live_status_line_is_rewritten_and_cleared_before_the_verdict():
    out = _Tty()
    progress = Progress(out, 2, live=True)
    progress.started(0, SCENARIO, None)
    progress.step(0, _event("1"), None)
    progress.step(0, _event("1.1"), None)  # a nested step: not a top-level one done
    progress.note("a note")
    progress.step(0, _event("2"), None)
    progress.finished(0, {"name": SCENARIO.name, "status": "passed", "duration": 1.0}, None)
    text = out.getvalue()
    assert "\r\x1b[K[1/2] register 1003 over UDP ... step 1/2 (0 done)" in text
    assert "\r\x1b[K[1/2] register 1003 over UDP ... step 2/2 (1 done)" in text
    assert "\r\x1b[K[1/2] register 1003 over UDP ... step 2/2 (2 done)" in text
    # cleared before the note and before the scenario's own line, which comes whole
    assert "(1 done)\r\x1b[Ka note\n" in text
    assert text.endswith("(2 done)\r\x1b[K[1/2] register 1003 over UDP ... PASS 1.00 s\n")


def test_without_a_terminal_or_verbose_steps_print_nothing():
    out = io.StringIO()
    progress = Progress(out, 1)
    progress.started(0, SCENARIO, None)
    progress.step(0, _event("1"), None)
    progress.finished(0, {"name": SCENARIO.name, "status": "passed", "duration": 1.0}, None)
    assert out.getvalue() == "[1/1] register 1003 over UDP ... PASS 1.00 s\n"


def test_a_bogus_capture_interface_is_a_usage_error_before_anything_runs(tmp_path,
                                                                         monkeypatch):
    if not shutil.which("dumpcap"):
        pytest.skip("dumpcap is not installed")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(str(DATA / "register-1003.sip.yaml"), "--capture-interface",
                         "nosuch0")
    assert code == 2 and out == ""
    assert err.startswith("sipclient run: cannot capture on nosuch0: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "reports").exists()  # nothing ran


# ----------------------------------------------------------------------------- on the lab

@pytest.mark.lab
def test_verbose_shows_each_step_in_order_as_it_ends(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(str(DATA / "register-1003.sip.yaml"), "-v", "--report-dir", "rep",
                         environ={"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)})
    assert code == 0, out + err
    lines = out.splitlines()
    first = lines.index("[1/1] register 1003 over UDP ...")
    steps = lines[first + 1:first + 3]
    assert steps[0].split()[:4] == ["step", "1", "register", "PASS"], steps
    assert steps[1].split()[:4] == ["step", "2", "expect_flow", "PASS"], steps
    assert lines[first + 3].startswith("[1/1] register 1003 over UDP ... PASS ")
    assert "\r" not in out  # no status line without a terminal


@pytest.mark.lab
def test_verbose_step_lines_come_from_worker_processes(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA / "register-1003.sip.yaml", tmp_path)
    (tmp_path / "register-1004.sip.yaml").write_text(
        (DATA / "register-1003.sip.yaml").read_text().replace("1003", "1004"))
    c = lab.config
    (tmp_path / "lab.yaml").write_text(
        f"target: udp:{c.probe_host}:{c.sip_port}\ndomain: {c.host}\naccounts:\n"
        "  '1003': {password_env: PW_1003}\n  '1004': {password_env: PW_1004}\n")
    monkeypatch.setenv("PW_1003", lab.account(1003).password)
    monkeypatch.setenv("PW_1004", lab.account(1004).password)
    code, out, err = cli(".", "-v", "-n", "2", "--profile", "lab.yaml", "--report-dir", "rep")
    assert code == 0, out + err
    for n, name in ((1, "register 1003 over UDP"), (2, "register 1004 over UDP")):
        mine = [line for line in out.splitlines() if line.startswith(f"    [{n}/2] [w")]
        assert [line.split()[3:6] for line in mine] == \
            [["1", "register", "PASS"], ["2", "expect_flow", "PASS"]], out
        done = next(i for i, line in enumerate(out.splitlines())
                    if line.startswith(f"[{n}/2] [w") and name in line)
        assert out.splitlines().index(mine[-1]) < done  # the steps before the verdict


@pytest.mark.lab
def test_capture_interface_writes_a_real_capture_beside_the_scenarios(lab, tmp_path,
                                                                     monkeypatch):
    if os.geteuid() != 0 or not shutil.which("dumpcap") or not shutil.which("tshark"):
        pytest.skip("needs root, dumpcap and tshark")
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA / "register-1003.sip.yaml", tmp_path)
    code, out, err = cli("register-1003.sip.yaml", "--capture-interface", "lo",
                         "--report-dir", "rep",
                         environ={"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)})
    assert code == 0, out + err
    folder = tmp_path / "rep" / "register-1003"
    iface = folder / "capture.iface.pcapng"
    assert iface.stat().st_size > 0 and (folder / "capture.pcap").stat().st_size > 0
    # only the lab's port: other programs on this machine may use loopback meanwhile
    port = lab.config.sip_port
    seen = subprocess.run(["tshark", "-r", str(iface), "-Y",
                           f"sip && (udp.port == {port} || tcp.port == {port})", "-T", "fields",
                           "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.From"],
                          capture_output=True, text=True, timeout=60)
    assert seen.returncode == 0, seen.stderr
    rows = [line.split("\t") for line in seen.stdout.splitlines()]
    registers = [r for r in rows if r[0] == "REGISTER" and "1003" in r[2]]
    # registered and unregistered (each challenged): the cleanup is in the capture too
    assert len(registers) >= 4, seen.stdout
    assert [r[1] for r in rows if r[1]].count("200") >= 2
    assert lab.contacts("1003") == []


def _registers(capture: Path, extension: str) -> list[str]:
    seen = subprocess.run(["tshark", "-r", str(capture), "-Y", "sip.Method == REGISTER",
                           "-T", "fields", "-e", "sip.Expires", "-e", "sip.Contact",
                           "-e", "sip.From"], capture_output=True, text=True, timeout=60)
    assert seen.returncode == 0, seen.stderr
    return [line for line in seen.stdout.splitlines() if extension in line]


@pytest.mark.lab
def test_after_sigint_the_interface_capture_holds_the_cleanup(lab, tmp_path):
    if os.geteuid() != 0 or not shutil.which("dumpcap") or not shutil.which("tshark"):
        pytest.skip("needs root, dumpcap and tshark")
    from tests.scenario.test_interrupt import _start, _wait_registered

    shutil.copy(DATA / "long-wait-1007.sip.yaml", tmp_path)
    env = dict(os.environ, SIPCLIENT_LAB_RUN_DIR=str(lab.run_dir))
    proc = _start([".", "--report-dir", "rep", "--capture-interface", "lo"], tmp_path, env)
    _wait_registered(lab, ["1007"], proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert lab.contacts("1007") == []
    registers = _registers(tmp_path / "rep" / "long-wait-1007" / "capture.iface.pcapng", "1007")
    # the registration and, after the signal, the unregistration (Expires 0), each challenged
    assert len(registers) >= 4, registers
    assert any(line.split("\t")[0] == "0" or "expires=0" in line.split("\t")[1].lower()
               for line in registers[2:]), registers
