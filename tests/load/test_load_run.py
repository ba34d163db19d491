"""`sipclient load run`: a shipped scenario as 50 load instances against the Asterisk lab,
each with its own account from --users (no two instances in flight share one)."""

from __future__ import annotations

import io
import json

import pytest

from sipclient.cli import Env, main

SCENARIO = "scenarios/calls/seed001-invite-udp.sip.yaml"


@pytest.mark.lab
def test_a_shipped_scenario_as_50_instances_all_pass(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("SIPCLIENT_LAB_RUN_DIR", str(lab.config.run_dir))  # adopt the test lab
    out, err = io.StringIO(), io.StringIO()
    status = main(["load", "run", SCENARIO, "--calls", "50", "--concurrency", "6", "--processes", "2",
                   "--rate", "3", "--users", "1001-1012", "--report", str(tmp_path),
                   "--json", "-q"], Env(stdout=out, stderr=err))
    r = json.loads(out.getvalue())
    assert status == 0, (r.get("errors"), err.getvalue())
    assert (r["attempted"], r["completed"], r["failed"]) == (50, 50, 0)
    assert r["by_status"] == {"passed": 50}
    assert r["instance_ms"]["count"] == 50
    results = sorted((tmp_path / "instances").glob("*/result.json"))
    assert len(results) == 50
    # each instance's alice registered as the account it was given
    users = {json.loads(p.read_text())["agents"]["alice"][0]["text"].split("From: <sip:")[1]
             .split("@")[0] for p in results}
    assert users == {str(u) for u in range(1001, 1013)}
    assert lab.is_running()  # an adopted lab is left running


def test_a_broken_scenario_file_is_file_line_exit_2(tmp_path):
    bad = tmp_path / "bad.sip.yaml"
    bad.write_text("name: x\nagents:\n  a: {account: 1001}\nsteps:\n  - frobnicate: a\n")
    err = io.StringIO()
    status = main(["load", "run", str(bad), "--calls", "1", "-q"],
                  Env(stdout=io.StringIO(), stderr=err))
    assert status == 2
    assert f"{bad}:5" in err.getvalue() and "Traceback" not in err.getvalue()
