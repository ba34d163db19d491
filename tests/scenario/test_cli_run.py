"""``sipclient run`` through the CLI entry point (in-process, streams injected): usage errors
and broken files stop before anything runs (exit 2, ``file:line: message``, no traceback);
``-k``; a real run of two scenario files on the lab with --junit/--json; workers sharing an
external target."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sipclient.cli import Env, main

DATA = Path(__file__).parent / "data"


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *argv], Env(stdout=out, stderr=err, environ=environ))
    return code, out.getvalue(), err.getvalue()


def test_schema_is_printed_as_json():
    code, out, err = cli("--schema")
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert schema["type"] == "object" and "steps" in schema["properties"]


@pytest.mark.parametrize("argv, message", [
    ((), "give at least one scenario file or folder"),
    (("nowhere/",), "nowhere/: no such file or folder"),
    (("-n", "0", str(DATA)), "'0' is not a number of workers"),
    ((str(DATA / "register-1003.sip.yaml"), "-k", "udp and"),
     "-k 'udp and': expected a word at the end"),
    ((str(DATA / "register-1003.sip.yaml"), "-k", "nothing-like-this"),
     "no scenario matches -k 'nothing-like-this' (1 loaded)"),
    ((str(DATA / "register-1003.sip.yaml"), "--insecure"), "--insecure applies to --target"),
    ((str(DATA / "register-1003.sip.yaml"), "--target", "bogus:thing"),
     "sipclient run: bad target 'bogus:thing'"),
    ((str(DATA / "register-1003.sip.yaml"), "--profile", "/nonexistent/p.yaml"),
     "profile /nonexistent/p.yaml: cannot read it"),
])
def test_usage_errors_exit_2_with_one_clear_line(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "reports").exists()  # nothing ran


def test_an_empty_folder_is_a_usage_error(tmp_path):
    code, _, err = cli(str(tmp_path))
    assert code == 2 and f"no *.sip.yaml file in {tmp_path}" in err


def test_a_broken_file_stops_the_run_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.sip.yaml"
    shutil.copy(DATA / "register-1003.sip.yaml", good)
    broken = tmp_path / "broken.sip.yaml"
    shutil.copy(DATA / "broken.sip.yaml", broken)
    code, out, err = cli(str(good), str(broken))
    assert code == 2
    assert f'{broken}:7: step 2 (call): unknown agent "bob" (agents: alice)' in err
    assert "1 error in 1 file; nothing was run" in err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "reports").exists()


# ----------------------------------------------------------------------------- on the lab

@pytest.mark.lab
def test_two_scenarios_on_the_lab_with_junit_and_json(lab, tmp_path, monkeypatch):
    password = lab.account(1005).password
    monkeypatch.setenv("SIPCLIENT_TEST_PASSWORD_1005", password)
    monkeypatch.chdir(tmp_path)
    for name in ("register-1003.sip.yaml", "expect-secret-header.sip.yaml",
                 "long-wait-1008.sip.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    code, out, err = cli(".", "-k", "register and not long", "--junit", "out/junit.xml",
                         "--json", "out/run.json", "--report-dir", "rep",
                         environ={"SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)})
    assert code == 1, out + err
    assert out.startswith("running 2 scenarios (1 deselected by -k); reports in ")
    # progress lines, the table, the failure with its YAML, expected and received
    assert "register 1003 over UDP ... PASS" in out
    assert "1005 waits for a header that never comes ... FAIL" in out
    assert "=== FAIL 1005 waits for a header that never comes" in out
    assert "  13 |       agent: bob" in out
    assert "received:\n    SIP/2.0 200 OK" in out
    assert "1 passed, 1 failed" in out
    # JUnit: both scenarios, the failure's details
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"register 1003 over UDP", "1005 waits for a header that never comes"}
    assert cases["register 1003 over UDP"].find("failure") is None
    assert "alice: REGISTER 401 REGISTER 200" in \
        cases["register 1003 over UDP"].find("system-out").text
    failure = cases["1005 waits for a header that never comes"].find("failure")
    assert failure.get("message").startswith("step 2 (expect) at ")
    assert "ladder so far:" in failure.text
    # JSON: the whole results, same as the run.json of the report folder
    doc = json.loads((tmp_path / "out" / "run.json").read_text())
    assert (doc["counts"]["passed"], doc["counts"]["failed"], doc["counts"]["deselected"]) \
        == (1, 1, 1)
    assert not (tmp_path / "rep" / "long-wait-1008").exists()
    assert json.loads((tmp_path / "rep" / "run.json").read_text())["counts"] == doc["counts"]
    ok = next(s for s in doc["scenarios"] if s["status"] == "passed")
    # registered, then unregistered at the end (challenged like any request)
    assert ok["flows"]["alice"] == ["REGISTER", "401", "REGISTER", "200"] * 2
    assert (tmp_path / "rep" / "register-1003" / "capture.pcap").stat().st_size > 0
    assert (tmp_path / "rep" / "register-1003" / "result.json").is_file()
    # the password: in none of the outputs, reports or files (the capture included)
    assert password not in out + err
    for path in [*(tmp_path / "rep").rglob("*"), *(tmp_path / "out").rglob("*")]:
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert "***" in failure.text
    # the lab was not ours to stop, and no contact is left behind
    assert lab.is_running()
    assert lab.contacts("1003") == [] and lab.contacts("1005") == []


def test_every_broken_file_of_a_folder_is_reported_with_its_line(tmp_path, monkeypatch):
    broken = Path(__file__).parent / "broken"
    files = sorted(broken.glob("*.sip.yaml"))
    assert files, "tests/scenario/broken/ holds the loader's broken examples"
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(str(broken))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[-1] == (f"sipclient run: {len(lines) - 1} errors in {len(files)} files; "
                         "nothing was run")
    for f in files:  # each file named with a line number, in the folder's order
        assert any(line.startswith(f"{f}:") and line[len(str(f)) + 1:].split(":")[0].isdigit()
                   for line in lines), f
    assert [line.split(":")[0] for line in lines[:-1]] == \
        sorted(line.split(":")[0] for line in lines[:-1])
    assert "Traceback" not in err
