"""Fresh runs of the golden flows validate against captures/; broken runs fail by name.

Each flow is the very function scripts/record_golden.py recorded the golden capture with,
run again now against the test lab.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sipclient.cli import Env, main
from sipclient.pcap.read import read_capture
from sipclient.pcap.validate import validate

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"

pytestmark = pytest.mark.lab


def _recorder():
    spec = importlib.util.spec_from_file_location("record_golden",
                                                  ROOT / "scripts" / "record_golden.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["record_golden"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


REC = _recorder()


async def fresh_run(lab, name: str, path: Path, **kw) -> Path:
    return await asyncio.wait_for(REC.record(name, REC.Lab.of(lab), path, **kw), 180)


def test_every_golden_flow_has_its_capture_and_readme_entry() -> None:
    readme = (CAPTURES / "README.md").read_text()
    for name in REC.FLOWS:
        assert (CAPTURES / f"{name}.pcap").is_file(), name
        assert f"`{name}.pcap`" in readme, name
        assert read_capture(str(CAPTURES / f"{name}.pcap")).sip, name


@pytest.mark.parametrize("name", list(REC.FLOWS))
def test_tshark_reads_every_golden_sip_message_as_we_do(name: str) -> None:
    assert shutil.which("tshark"), "tshark is missing: run `make lab-deps`"
    path = CAPTURES / f"{name}.pcap"
    rows = subprocess.run(["tshark", "-r", str(path), "-Y", "sip", "-T", "fields",
                           "-e", "sip.Call-ID", "-e", "sip.CSeq"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    ours = read_capture(str(path)).sip
    assert len(rows) == len(ours)
    assert [r.split("\t")[1] for r in rows] == [str(p.message.cseq) for p in ours]


@pytest.mark.parametrize("name", list(REC.FLOWS))
@pytest.mark.asyncio
async def test_a_fresh_run_validates_against_its_golden_capture(lab, tmp_path, name: str) -> None:
    run = await fresh_run(lab, name, tmp_path / f"{name}.pcap")
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "validate", str(run), "--against", str(CAPTURES / f"{name}.pcap"),
                   "--json"], Env(stdout=out, stderr=err))
    result = json.loads(out.getvalue())
    assert status == 0, result["differences"]
    assert result["ok"] and result["differences"] == []
    assert len(result["dialogs"]) == 1


@pytest.mark.asyncio
async def test_a_run_missing_its_ack_fails_naming_the_message(lab, tmp_path) -> None:
    run = read_capture(str(await fresh_run(lab, "invite-early-media", tmp_path / "run.pcap"))).sip
    acks = [i for i, p in enumerate(run) if getattr(p.message, "method", "") == "ACK"]
    del run[acks[-1]]  # the ACK of the 200
    result = validate(run, str(CAPTURES / "invite-early-media.pcap"))
    assert not result.ok
    assert result.differences == ["dialog 1 (INVITE): missing message 8: ACK"]


@pytest.mark.asyncio
async def test_a_run_answered_with_another_codec_fails_naming_it(lab, tmp_path) -> None:
    run = await fresh_run(lab, "invite-early-media", tmp_path / "pcma.pcap", codecs=("PCMA",))
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "validate", str(run), "--against",
                   str(CAPTURES / "invite-early-media.pcap")], Env(stdout=out, stderr=err))
    assert status == 1
    text = out.getvalue()
    assert ("dialog 1 (INVITE): message 7, 200 OK answer: expected codecs [PCMU, PCMA, GSM], "
            "got [PCMA]") in text
    assert ("dialog 1 (INVITE): message 1, INVITE offer: expected codecs [PCMU, PCMA, GSM], "
            "got [PCMA]") in text


def test_one_golden_against_another_fails(tmp_path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(["pcap", "validate", str(CAPTURES / "cancel.pcap"), "--against",
                   str(CAPTURES / "busy.pcap")], Env(stdout=out, stderr=err))
    assert status == 1
    assert "dialog 1 (INVITE): message 6: expected 486 Busy Here, got 180 Ringing" in \
        out.getvalue()


def test_a_golden_capture_written_as_a_flow_file_validates_the_same(tmp_path) -> None:
    flow = tmp_path / "hold.yaml"
    out = io.StringIO()
    golden = str(CAPTURES / "hold.pcap")
    assert main(["pcap", "validate", golden, "--against", golden, "--write-flow", str(flow)],
                Env(stdout=out, stderr=io.StringIO())) == 0
    assert "sendonly" in flow.read_text()
    assert validate(golden, str(flow)).ok
    result = validate(str(CAPTURES / "dtmf.pcap"), str(flow))
    assert "dialog 1 (INVITE): missing message 8: INVITE" in result.differences


def test_unreadable_inputs_exit_65_with_one_line(tmp_path) -> None:
    bad_flow = tmp_path / "flow.yaml"
    bad_flow.write_text("dialogs:\n  - flow: [INVITE, 2x00]\n")
    not_pcap = tmp_path / "run.pcap"
    not_pcap.write_text("hello")
    golden = str(CAPTURES / "busy.pcap")
    for argv, code, text in [
        ([golden, "--against", str(bad_flow)], 65, f"{bad_flow}:2: bad flow item"),
        ([str(not_pcap), "--against", golden], 65, "not a pcap or pcapng file"),
        ([golden, "--against", str(tmp_path / "none.yaml")], 2, "no such file"),
    ]:
        err = io.StringIO()
        assert main(["pcap", "validate", *argv], Env(stdout=io.StringIO(), stderr=err)) == code
        assert text in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_every_golden_digest_is_right_for_the_lab_password(tmp_path) -> None:
    from sipclient.lab import LabConfig

    lab = LabConfig()
    pwfile = tmp_path / "passwords"
    pwfile.write_text("".join(f"{e}:{lab.password(e)}\n"
                              for e in (*lab.sip_extensions, *lab.webrtc_extensions)))
    for name in REC.FLOWS:
        out = io.StringIO()
        status = main(["pcap", "auth-check", str(CAPTURES / f"{name}.pcap"), "--password-file",
                       str(pwfile), "--json"], Env(stdout=out, stderr=io.StringIO()))
        data = json.loads(out.getvalue())
        assert status == 0 and data["wrong"] == 0 and data["checked"] >= 1, (name, data)
