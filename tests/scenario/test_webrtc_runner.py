"""WebRTC scenarios under ``sipclient run`` and the pytest plugin with no namespace set up by
hand: the runner gives them a lab in test network namespaces (sipclient/scenario/netlab.py)
and runs them in the agents' namespace; other scenarios stay on the ordinary lab; everything
made is removed at the end. Without root the scenario fails with one line saying why.

The lab tests need root and iproute2 (the WebRTC test network namespaces): without them they
fail with the reason, they are not skipped."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sipclient.cli import EXIT_FAILURE, EXIT_OK, Env, main
from sipclient.lab import netns
from sipclient.scenario import netlab as netlab_mod
from sipclient.scenario.loader import load_scenario

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
WEBRTC = REPO / "scenarios" / "webrtc" / "webrtc-to-udp.sip.yaml"
DATA = Path(__file__).parent / "data"
NO_ROOT = "network namespaces need root (ip netns add)"


def cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *argv], Env(stdout=out, stderr=err, environ=environ))
    return code, out.getvalue(), err.getvalue()


def needs_namespaces() -> None:
    why = netns.available()
    if why:
        pytest.fail(f"these tests need test network namespaces: {why}", pytrace=False)


def namespaces() -> set[str]:
    return set(netns._namespaces())


def namespace_and_run_dir(description: str) -> tuple[str, str]:
    """``lab wss://... in namespace sipc1-r1-pbx (/x/run/lab-ns)`` -> (namespace, run dir)."""
    m = re.search(r"in namespace (\S+) \((.+)\)$", description)
    assert m, description
    return m.group(1), m.group(2)


def asterisk_of(run_dir: str) -> list[int]:
    from sipclient.lab.runner import processes_mentioning

    return processes_mentioning(str(Path(run_dir) / "etc" / "asterisk.conf"))


# ----------------------------------------------------------------------------- no lab needed

def test_which_scenarios_need_the_namespace_lab():
    assert netlab_mod.needs_netns(load_scenario(WEBRTC))
    assert not netlab_mod.needs_netns(load_scenario(DATA / "register-1003.sip.yaml"))


def test_without_root_the_cli_says_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(netlab_mod, "unavailable", lambda: NO_ROOT)
    mine = f"sipc{os.getpid()}-"
    before = namespaces()
    code, out, err = cli(str(WEBRTC), "--report-dir", str(tmp_path / "rep"),
                         "--json", str(tmp_path / "run.json"))
    assert code == EXIT_FAILURE, out + err
    assert "Traceback" not in out + err
    assert "... ERROR" in out and "0 passed, 0 failed, 1 error" in out
    lines = [line for line in out.splitlines() if NO_ROOT in line]
    assert lines == [
        "WebRTC scenarios on the built-in lab need a lab in a test network namespace (ICE "
        f"cannot use 127.0.0.1), and {NO_ROOT}: run as root, or give --target/--profile of a "
        "PBX on a routable address"]
    result = json.loads((tmp_path / "run.json").read_text())["scenarios"][0]
    assert result["status"] == "error" and NO_ROOT in result["error"]
    assert not {n for n in namespaces() - before if n.startswith(mine)}


def test_without_root_the_plugin_fails_the_item_with_the_reason(pytester):
    # the privilege check says no, in the pytest process under test
    pytester.makeconftest(f"""
import sipclient.scenario.netlab as netlab
netlab.unavailable = lambda: {NO_ROOT!r}
""")
    (pytester.path / "scenarios").mkdir()
    shutil.copy(WEBRTC, pytester.path / "scenarios" / WEBRTC.name)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "Traceback" not in out and "netlab.py" not in out
    result.stdout.fnmatch_lines([
        f"*WebRTC scenarios on the built-in lab need a lab in a test network namespace*"
        f"{NO_ROOT}: run as root*"])


def test_an_external_target_runs_webrtc_scenarios_as_they_are():
    """--target/--profile: the user's network; no namespace lab is even considered."""
    from sipclient.scenario.labs import TargetSpec, make_netlab

    assert make_netlab(TargetSpec(target="udp:192.0.2.1:5060")) is None


def test_a_lab_on_a_routable_address_is_used_as_it_is(tmp_path):
    """A lab started by hand in a namespace (docs/webrtc.md): not loopback, no second lab."""
    from sipclient.scenario.labs import TargetSpec, make_netlab

    environ = {"SIPCLIENT_LAB_RUN_DIR": str(tmp_path / "lab"),
               "SIPCLIENT_LAB_BIND": "10.213.250.2"}
    assert make_netlab(TargetSpec(environ=environ)) is None
    assert make_netlab(TargetSpec(environ={"SIPCLIENT_LAB_RUN_DIR": str(tmp_path / "lab")})) \
        is not None


# ----------------------------------------------------------------------------- real labs

@pytest.mark.lab
def test_cli_runs_webrtc_in_the_namespace_lab_and_udp_on_the_lab(lab, tmp_path):
    needs_namespaces()
    code, out, err = cli(str(WEBRTC), str(DATA / "register-1003.sip.yaml"),
                         "--report-dir", str(tmp_path / "rep"),
                         "--json", str(tmp_path / "run.json"),
                         environ={**os.environ, "SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)})
    assert code == EXIT_OK, out + err
    assert "2 passed, 0 failed" in out
    doc = json.loads((tmp_path / "run.json").read_text())
    by_name = {Path(s["path"]).name: s for s in doc["scenarios"]}
    web = by_name[WEBRTC.name]
    # the WebRTC scenario ran on the namespace lab, its agents on the test link
    assert web["media"]["c1"]["profile"] == "UDP/TLS/RTP/SAVPF"
    assert abs(web["media"]["c1"]["dominant_hz"] - 1300) < 30
    assert abs(web["media"]["b2"]["dominant_hz"] - 1300) < 30
    assert str(web["media"]["c1"]["local_rtp"]).startswith("10.213.")
    assert "10.213." in web["ladder"] and "127.0.0.1" not in web["ladder"]
    # the UDP scenario on the ordinary lab (the session's, adopted)
    udp = by_name["register-1003.sip.yaml"]
    assert udp["status"] == "passed" and "127.0.0.1" in udp["ladder"]
    assert doc["target"].startswith(f"lab udp:127.0.0.1:{lab.config.sip_port} ")
    ns, run_dir = namespace_and_run_dir(doc["target"].split("; WebRTC scenarios: ")[1])
    assert ns.startswith(f"sipc{os.getpid()}-") and ns.endswith("-pbx")
    # all gone afterwards: namespaces, their Asterisk; the ordinary lab was not ours to stop
    assert ns not in namespaces() and ns[:-4] + "-ue" not in namespaces()
    assert asterisk_of(run_dir) == []
    assert lab.is_running()


@pytest.mark.lab
def test_plugin_runs_webrtc_in_the_namespace_lab_and_udp_on_the_lab(pytester, lab):
    needs_namespaces()
    folder = pytester.path / "scenarios"
    folder.mkdir()
    shutil.copy(WEBRTC, folder / WEBRTC.name)
    shutil.copy(DATA / "register-1003.sip.yaml", folder / "register-1003.sip.yaml")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider",
                                           f"--sip-lab-run-dir={lab.run_dir}",
                                           f"--junitxml={junit}")
    result.assert_outcomes(passed=2)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    web = next(c for n, c in cases.items() if n.startswith("a WebRTC agent"))
    props = {p.get("name"): p.get("value") for p in web.iter("property")}
    ns, run_dir = namespace_and_run_dir(props["lab"])
    assert ns.endswith("-pbx")
    udp = next(c for n, c in cases.items() if "1003" in n)
    assert "lab" not in {p.get("name") for p in udp.iter("property")}
    # the session's end removed the namespaces and stopped their Asterisk
    assert ns not in namespaces() and ns[:-4] + "-ue" not in namespaces()
    assert asterisk_of(run_dir) == []
    assert lab.is_running()


@pytest.mark.lab
def test_cancelling_a_scenario_in_the_namespace_cancels_it_inside(tmp_path):
    """What Ctrl-C does to a running WebRTC scenario: the cancellation reaches the coroutine
    in the agents' namespace, which cleans up there before the caller sees it."""
    needs_namespaces()
    from sipclient.lab import LabConfig

    lab = netlab_mod.NetLab(base=LabConfig.from_env({}).replace(run_dir=tmp_path / "lab"))
    seen: dict[str, object] = {}

    async def scenario(target) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((target.host, target.port))
        seen["local"] = sock.getsockname()[0]
        sock.close()
        seen["started"] = True
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.2)  # the engine's hang-up and unregister take a while
            seen["cleaned"] = True

    async def interrupt() -> None:
        task = asyncio.ensure_future(lab.run(scenario))
        while not seen.get("started"):
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(asyncio.wait_for(interrupt(), 60))
        assert seen["cleaned"] is True
        assert seen["local"] == lab.net.ue_ip != "127.0.0.1"
        ns, run_dir = lab.net.pbx_ns, str(lab.lab.config.run_dir)
        assert ns in namespaces()
    finally:
        lab.close()
    assert ns not in namespaces() and asterisk_of(run_dir) == []
