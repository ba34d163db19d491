"""Every verdict of ``pcap diagnose`` on a capture made for it in the lab (issue 17).

tests/data/diagnose/ holds one small capture per verdict, recorded against the Asterisk lab by
scripts/record_diagnose_captures.py (its ``CASES`` table says how each was made and which
codes it must give). Each file gives exactly its codes and nothing else, tshark reads it,
and (lab test) a fresh recording against a lab started here gives the same codes again, so
the files and the lab's behaviour cannot drift apart.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.pcap.diagnose import CODES, diagnose
from sipclient.pcap.read import read_capture

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "diagnose"


def _script():
    spec = importlib.util.spec_from_file_location(
        "record_diagnose_captures", ROOT / "scripts" / "record_diagnose_captures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
CASES = SCRIPT.CASES


def codes_of(path: Path, passwords=None) -> list[list[str]]:
    return [d.codes for d in diagnose(read_capture(str(path)).sip, passwords)]


def lab_passwords():
    """The lab's passwords (derived from its seed; the recording lab used the default)."""
    from sipclient.lab.config import LabConfig
    from sipclient.pcap.auth_check import Passwords

    cfg = LabConfig()
    return Passwords(None, {ext: cfg.password(ext) for ext in cfg.sip_extensions})


def test_every_verdict_has_a_capture():
    produced = {code for case in CASES.values()
                for code in case.codes + (case.with_password or ())}
    assert produced == set(CODES) | {"ok"}
    assert sorted(p.stem for p in DATA.glob("*.pcap")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_capture_gives_exactly_its_codes(name):
    case = CASES[name]
    got = codes_of(DATA / f"{name}.pcap")
    assert got and all(codes == list(case.codes) for codes in got), got
    with_passwords = codes_of(DATA / f"{name}.pcap", lab_passwords())
    assert all(codes == list(case.with_password or case.codes) for codes in with_passwords)


def test_the_conflict_names_both_aors():
    status, out, err = run("pcap", "diagnose", str(DATA / "same-source-port-conflict.pcap"),
                           "--json")
    regs = json.loads(out)
    assert status == 1 and [r["aor"] for r in regs] == ["sip:1005@127.0.0.1",
                                                        "sip:1006@127.0.0.1"]
    for reg in regs:
        evidence = reg["findings"][0]["evidence"][0]
        assert "sip:1005@127.0.0.1" in evidence and "sip:1006@127.0.0.1" in evidence
        assert reg["source"] == regs[0]["source"]
    assert regs[0]["user_agents"] != regs[1]["user_agents"]


def test_stale_nonce_says_the_delay_and_the_stale_flag():
    status, out, err = run("pcap", "diagnose", str(DATA / "stale-nonce.pcap"))
    assert status == 1
    assert "STALE-NONCE" in out.splitlines()[2]
    assert "answered 6.0 s later" in out and "stale=true" in out


def test_clean_registration_is_ok_and_exit_0():
    status, out, err = run("pcap", "diagnose", str(DATA / "ok.pcap"))
    assert status == 0 and err == "" and out.splitlines()[2].endswith(": ok (registered)")


def test_wrong_password_only_with_the_password_file(tmp_path):
    path = str(DATA / "wrong-password.pcap")
    status, out, err = run("pcap", "diagnose", path)
    assert "WRONG-PASSWORD" not in out and "wrong-password:" not in out and "cannot be told" in out
    from sipclient.lab.config import LabConfig

    pw = tmp_path / "pw.txt"
    pw.write_text(f"1002:{LabConfig().password('1002')}\n# the lab's\n1001:x\n")
    status, out, err = run("pcap", "diagnose", path, "--password-file", str(pw))
    assert status == 1 and out.splitlines()[2].startswith("sip:1002@127.0.0.1: WRONG-PASSWORD")
    assert LabConfig().password("1002") not in out + err
    ok = DATA / "ok.pcap"
    pw.write_text(f"1001:{LabConfig().password('1001')}\n1002:x\n")
    status, out, err = run("pcap", "diagnose", str(ok), "--password-file", str(pw))
    assert status == 0 and "the password in the file is right for 1001" in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_tshark_reads_it(name):
    path = DATA / f"{name}.pcap"
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "sip", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(p.frame) for p in read_capture(str(path)).sip]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Env(stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


@pytest.mark.lab
@pytest.mark.asyncio
async def test_a_fresh_recording_gives_the_same_codes(tmp_path):
    """Re-record every case against a lab started here (nonce_lifetime 4 s) and diagnose."""
    lab, claim = SCRIPT.start_lab("diagnose-test")
    try:
        for name, case in CASES.items():
            path = await asyncio.wait_for(
                SCRIPT.record(name, SCRIPT.Lab.of(lab), tmp_path / f"{name}.pcap"), 180)
            got = codes_of(path)
            assert got and all(codes == list(case.codes) for codes in got), (name, got)
    finally:
        lab.down()
        if claim is not None:
            claim.release()


def test_the_python_api(tmp_path):
    from sipclient.pcap.diagnose import diagnose_file

    (d,) = diagnose_file(str(DATA / "stale-nonce.pcap"))
    assert d.codes == ["stale-nonce"] and d.registration.state == "not registered"
    assert d.findings[0].frames[:3] == (2, 3, 4) and d.as_dict()["verdict"] == "stale-nonce"
    pw = tmp_path / "pw"
    pw.write_text("not-it\n")
    (d,) = diagnose_file(str(DATA / "wrong-password.pcap"), str(pw))
    assert d.codes == ["wrong-password"]


def test_the_same_user_agent_on_one_port_may_be_one_phone_with_two_lines(tmp_path):
    """The conflict capture with both User-Agents the same (and the same Contact address and
    port, as two sipclient agents or one phone with two lines send): still reported (seed
    001's two identical phones look just like this), with the doubt said."""
    from sipclient.pcap.writer import PcapWriter

    path = tmp_path / "two-lines.pcap"
    with path.open("wb") as f:
        w = PcapWriter(f)
        for p in read_capture(str(DATA / "same-source-port-conflict.pcap")).sip:
            w.write(p.time, p.transport, p.src, p.dst,
                    p.raw.replace(b"phone-bob/1.0", b"phone-ali/1.0").replace(
                        b"phone-alice/1.0", b"phone-ali/1.0"))
    assert codes_of(path) == [["same-source-port-conflict"]] * 2
    status, out, err = run("pcap", "diagnose", str(path))
    assert "if this is one phone with two lines, there is no conflict" in out
    status, out, err = run("pcap", "diagnose", str(DATA / "same-source-port-conflict.pcap"))
    assert "User-Agents phone-alice/1.0 and phone-bob/1.0" in out and "two lines" not in out
