"""The ``sipclient`` pytest plugin, as a user meets it: ``pytest`` on a folder of
``*.sip.yaml`` files (run in a subprocess through the installed ``pytest11`` entry point),
against the session lab of this test run (``--sip-lab-run-dir``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data"

PYTHON_TEST = '''
def test_an_agent_registers(sip_agent, sip_lab, sip_target):
    alice = sip_agent("1009", transport="tcp")
    reg = sip_agent.run(alice.register(), timeout=10)
    assert reg.ok and reg.status == 200
    assert sip_lab.contacts("1009")
    assert sip_target.name == "lab"


def test_the_agent_was_closed_at_teardown(sip_lab):
    assert sip_lab.contacts("1009") == []
'''


def _copy(pytester: pytest.Pytester, *names: str) -> None:
    folder = pytester.path / "scenarios"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(DATA / name, folder / name)


@pytest.mark.lab
def test_scenarios_and_fixtures_run_as_tests(pytester, lab, monkeypatch):
    monkeypatch.setenv("SIPCLIENT_TEST_PASSWORD_1005", lab.account(1005).password)
    _copy(pytester, "register-1003.sip.yaml", "expect-secret-header.sip.yaml")
    pytester.makepyfile(test_agents=PYTHON_TEST)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider",
                                           f"--sip-lab-run-dir={lab.run_dir}")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "scenarios/expect-secret-header.sip.yaml::1005 waits for a header that never comes "
        "FAILED*",
        "scenarios/register-1003.sip.yaml::register 1003 over UDP PASSED*",
    ])
    # the failure: the step's YAML lines, expected, received, the ladder; no traceback
    result.stdout.fnmatch_lines([
        "*scenario '1005 waits for a header that never comes' failed*",
        "step 2 (expect) at *expect-secret-header.sip.yaml:12: failed",
        "      12 |   - expect:",
        "*15 |       headers: {X-Never: \"${lab_password}\"}",
        "expected:",
        "    a 200 response received, with X-Never matching /***/",
        "received:",
        "    SIP/2.0 200 OK",
    ])
    assert "ladder so far:" in out
    assert "Traceback" not in out and "engine.py" not in out
    assert lab.account(1005).password not in out
    assert lab.is_running() and lab.contacts("1003") == [] and lab.contacts("1005") == []
    # report.html of the session, in its report folder (issue 21)
    page = next((pytester.path / "reports").glob("pytest-*/report.html")).read_text()
    assert page.count("<tr data-status=") == 2 and 'data-status="failed"' in page
    assert "register 1003 over UDP" in page and lab.account(1005).password not in page


@pytest.mark.lab
def test_tags_are_keywords_and_xdist_workers_run_scenarios(pytester, lab):
    _copy(pytester, "register-1003.sip.yaml", "long-wait-1007.sip.yaml")
    (pytester.path / "scenarios" / "long-wait-1007.sip.yaml").write_text(
        (DATA / "long-wait-1007.sip.yaml").read_text().replace("wait: 90", "wait: 1"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-k",
                                           "register and not failing",
                                           f"--sip-lab-run-dir={lab.run_dir}")
    result.assert_outcomes(passed=2)
    selected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only",
                                             "-q", "-k", "long")
    selected.stdout.fnmatch_lines(["*long-wait-1007.sip.yaml::1007 registers and waits long"])
    assert "register-1003" not in selected.stdout.str()


def test_a_broken_file_is_a_collection_error_with_file_and_line(pytester):
    _copy(pytester, "broken.sip.yaml", "register-1003.sip.yaml")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting scenarios/broken.sip.yaml*",
        '*scenarios/broken.sip.yaml:7: step 2 (call): unknown agent "bob" (agents: alice)',
    ])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.lab
def test_each_xdist_worker_starts_and_stops_its_own_lab(pytester):
    """The default: no lab given, so each worker starts one (own run directory and ports)
    and stops it before the worker ends."""
    from sipclient.lab.runner import processes_mentioning

    _copy(pytester, "register-1003.sip.yaml", "long-wait-1007.sip.yaml")
    (pytester.path / "scenarios" / "long-wait-1007.sip.yaml").write_text(
        (DATA / "long-wait-1007.sip.yaml").read_text().replace("wait: 90", "wait: 3"))
    reports = pytester.path / "rep"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           f"--sip-report-dir={reports}")
    result.assert_outcomes(passed=2)
    page = (reports / "report.html").read_text()   # by the controller, of both workers' results
    assert page.count('<tr data-status="passed"') == 2
    servers = set()
    for path in reports.glob("*/result.json"):
        data = json.loads(path.read_text())
        servers |= {entry["remote"] for entry in data["agents"]["alice"]}
    assert len(servers) == 2, servers  # two labs, one per worker
    assert processes_mentioning("/lab-sip-gw") == []  # both stopped
