"""The plugin's fixtures in async tests under pytest-asyncio (issue 19): ``sip_agent`` is
awaited on the test's own loop, ``sip_lab`` works as in a plain test. Run in a subprocess
(pytester) through the installed entry point, on the session lab of this run; a second
session with ``--lab-run-dir`` naming an empty directory starts its own lab there."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

ASYNC_TEST = '''
import asyncio

import pytest


@pytest.mark.asyncio
async def test_an_async_test_registers_and_calls_600(sip_agent, sip_lab):
    alice = await sip_agent("1017", play="tone:1000")
    reg = await alice.register()
    assert reg.ok and reg.status == 200
    assert sip_lab.contacts("1017")
    call = await alice.call("600")
    final = await call.wait_final(timeout=15)
    assert final.status == 200
    await asyncio.sleep(1.0)   # the echo plays back what alice sends
    assert call.media.stats()[0]["packets_received"] > 20
    await call.hangup()
    assert alice.flow(call.call_id)[-2:] == ["BYE", "200"]


def test_the_agent_was_closed_on_its_loop_at_teardown(sip_lab):
    assert sip_lab.contacts("1017") == []


def test_a_plain_test_still_gets_the_plain_factory(sip_agent):
    bob = sip_agent("1018")
    reg = sip_agent.run(bob.register(), timeout=10)
    assert reg.ok
'''


@pytest.mark.lab
def test_an_async_test_with_the_plugins_fixtures_registers_and_calls_600(pytester, lab):
    pytester.makepyfile(test_async_agents=ASYNC_TEST)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider",
                                           f"--lab-run-dir={lab.run_dir}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_an_async_test_registers_and_calls_600 PASSED*"])
    assert lab.contacts("1017") == [] and lab.contacts("1018") == []


REGISTER_ONLY = '''
import pytest


@pytest.mark.asyncio
async def test_registers(sip_agent, sip_lab):
    alice = await sip_agent("1001")
    assert (await alice.register()).ok
    assert str(sip_lab.run_dir).endswith("/mylab")
'''


@pytest.mark.lab
def test_the_ini_lab_run_dir_starts_a_lab_there_and_stops_it(pytester):
    import tempfile
    from pathlib import Path

    from sipclient.lab.runner import processes_mentioning

    short = Path(tempfile.mkdtemp(prefix="sipl-"))  # Asterisk's socket path is bounded
    try:
        pytester.makeini(f"[pytest]\nsip_lab_run_dir = {short}/mylab\n")
        pytester.makepyfile(test_ini_lab=REGISTER_ONLY)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert (short / "mylab" / "lab.json").is_file()
        assert processes_mentioning(f"{short}/mylab") == []  # stopped at the session's end
    finally:
        import shutil

        shutil.rmtree(short, ignore_errors=True)
