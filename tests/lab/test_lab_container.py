"""The lab in a container (``sipclient lab up --container``): podman builds and runs it.

The first two tests need no engine: how a stale image is recognised. The others start
containers (podman is installed by ``make container-deps``, part of ``make test``; missing is
a failure with the command to run, never a skip) in their own run directories with ports of
their own, and check what a user would: an independent client (sipp) registers and calls
through it, ``lab down`` leaves no container and no listening socket, and a container killed
in the middle of a scenario run gives a clear failure with every report written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipclient.cli import EXIT_OK, Env, main
from sipclient.lab import Lab, LabConfig
from sipclient.lab.container import build_inputs, container_name, image_hash
from sipclient.lab.testing import claim_test_lab
from tests.lab.sipp_runner import run_sipp

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> Path:
    (root / "docker" / "asterisk").mkdir(parents=True)
    (root / "docker" / "Dockerfile").write_text(
        "FROM debian:12\nCOPY docker/asterisk \\\n  /opt/t\nRUN true\nCOPY lab.py /opt/lab.py\n")
    (root / "docker" / "asterisk" / "a.conf.tmpl").write_text("a={{x}}\n")
    (root / "lab.py").write_text("print(1)\n")
    return root


def test_the_image_hash_covers_the_dockerfile_and_what_it_copies(tmp_path):
    root = _tree(tmp_path)
    names = [str(p.relative_to(root)) for p in build_inputs(root)]
    assert names == ["docker/Dockerfile", "docker/asterisk/a.conf.tmpl", "lab.py"]
    first = image_hash(root)
    assert image_hash(root) == first
    (root / "docker" / "asterisk" / "a.conf.tmpl").write_text("a={{x}};changed\n")
    second = image_hash(root)
    assert second != first  # a template change makes the image stale
    (root / "README").write_text("not copied\n")
    assert image_hash(root) == second  # a file the build does not read does not


def test_a_copy_source_that_is_missing_is_named_with_its_line(tmp_path):
    from sipclient.lab import LabError

    root = _tree(tmp_path)
    (root / "lab.py").unlink()
    with pytest.raises(LabError, match=r"Dockerfile:5: COPY source lab.py not found"):
        build_inputs(root)


def test_the_repository_image_hash_reads_the_lab_package_and_templates():
    names = {str(p.relative_to(REPO)) for p in build_inputs(REPO)}
    assert {"docker/Dockerfile", "scripts/install-lab-deps.sh", "sipclient/lab/__main__.py",
            "docker/asterisk/pjsip.conf.tmpl"} <= names
    assert not any("__pycache__" in n for n in names)


def test_container_mode_from_the_environment_and_a_bad_engine():
    config = LabConfig.from_env({"SIPCLIENT_LAB_CONTAINER": "1", "SIPCLIENT_LAB_ENGINE": "podman"})
    assert config.container and config.engine == "podman"
    assert LabConfig.from_dict(config.to_dict()) == config  # lab.json keeps the mode
    assert not LabConfig.from_env({"SIPCLIENT_LAB_CONTAINER": "0"}).container
    with pytest.raises(ValueError, match="unknown container engine 'lxc'"):
        LabConfig(engine="lxc")
    assert container_name(Path("/a/run/lab")) != container_name(Path("/a/run/lab-2"))


def test_an_address_of_another_namespace_is_not_local():
    """``lab down`` of a container lab in a test namespace (WebRTC) runs in the root
    namespace: its bind address is not here, so its ports are not checked from here."""
    from sipclient.lab.probe import address_is_local

    assert address_is_local("127.0.0.1")
    assert not address_is_local("192.0.2.1")  # TEST-NET-1 (RFC 5737): on no interface


def test_without_an_engine_lab_up_container_says_what_to_run(tmp_path, monkeypatch):
    import sipclient.lab.container as container

    monkeypatch.setattr(container.shutil, "which", lambda _name: None)
    code, out, err = _cli("lab", "up", "--container", "--run-dir", str(tmp_path / "lab"))
    assert code != EXIT_OK and out == ""
    assert "no working container engine (podman not found; docker not found)" in err
    assert "run `make container-deps`" in err and "Traceback" not in err
    code, _, err = _cli("lab", "up", "--engine", "lxc", "--run-dir", str(tmp_path / "lab"))
    assert code != EXIT_OK and "invalid choice: 'lxc'" in err


def test_install_script_is_idempotent_and_configures_only_what_fails_here():
    """``make container-deps``: a second run installs nothing and rewrites nothing; the
    drop-in holds exactly the settings this machine's checks call for."""
    script = REPO / "scripts" / "install-container-deps.sh"
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    dropin = Path("/etc/containers/containers.conf.d/50-sipclient.conf")
    before = dropin.read_text() if dropin.exists() else None
    again = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "installing" not in again.stdout
    assert (dropin.read_text() if dropin.exists() else None) == before
    hybrid = os.popen("stat -fc %T /sys/fs/cgroup").read().strip() != "cgroup2fs"
    assert (before is not None and 'runtime = "runc"' in before) == hybrid
    assert (before is not None and 'cgroup_manager = "cgroupfs"' in before) == \
        (not Path("/run/systemd/system").is_dir())


# --- with a container engine ---------------------------------------------------------------------

def _cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


def _port_args(config: LabConfig) -> list[str]:
    return ["--sip-port", str(config.sip_port), "--tls-port", str(config.tls_port),
            "--wss-port", str(config.wss_port), "--http-port", str(config.http_port),
            "--ami-port", str(config.ami_port)]


def _exists(name: str) -> bool:
    engine = shutil.which("podman") or "podman"
    return subprocess.run([engine, "container", "exists", name]).returncode == 0


@pytest.fixture
def claimed(request):
    config, claim = claim_test_lab(request.node.name[:20], extra_offset=500)
    yield config
    Lab(config.replace(container=True)).down()  # whatever a failed assertion left
    if claim is not None:
        claim.release()


@pytest.mark.lab
@pytest.mark.timeout(900)  # may wait for the image build (make test builds it meanwhile)
def test_sipp_registers_over_udp_and_tcp_and_calls_600_then_down_leaves_nothing(
        claimed, tmp_path):
    run_dir = str(claimed.run_dir)
    code, out, err = _cli("lab", "up", "--container", "--run-dir", run_dir,
                          *_port_args(claimed))
    assert code == EXIT_OK, err
    assert "lab up in" in out and "container sipclient-lab-" in out
    lab = Lab.from_run_dir(run_dir)
    assert lab.config.container and lab.container.name == container_name(claimed.run_dir)
    assert _exists(lab.container.name)

    code, out, _ = _cli("lab", "status", "--json", "--run-dir", run_dir)
    status = json.loads(out)
    assert code == EXIT_OK and status["healthy"] and status["container"] == lab.container.name
    assert lab.container.healthcheck()  # the image's HEALTHCHECK, run now
    code, out, _ = _cli("lab", "up", "--container", "--run-dir", run_dir, *_port_args(claimed))
    assert code == EXIT_OK and "lab already up" in out  # adopted, not restarted
    assert Lab.from_run_dir(run_dir).pid == lab.pid
    code, out, _ = _cli("lab", "accounts", "--json", "--run-dir", run_dir)
    acc = {a["extension"]: a for a in json.loads(out)}
    assert acc["1001"]["password"] == LabConfig().password("1001")  # the same seed

    for ext, transport in (("1001", "u1"), ("1002", "t1")):
        a = lab.account(ext)
        run = run_sipp(lab, "register", [ext], a.username, a.password, tmp_path, transport)
        flow = [line.split()[0] if not line.startswith("SIP/2.0") else line.split(None, 2)[1]
                for line in run.first_lines()]
        assert run.returncode == 0, run.output[-2000:]
        assert flow == ["REGISTER", "401", "REGISTER", "200"] * 2, (transport, flow)
    a = lab.account(1003)
    run = run_sipp(lab, "call", ["1003;600"], a.username, a.password, tmp_path)
    assert run.returncode == 0, run.output[-2000:]
    kinds = [line.split()[0] if not line.startswith("SIP/2.0") else line.split(None, 2)[1]
             for line in run.first_lines()]
    assert kinds == ["INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"]
    assert "Registered" in lab.logs("full") or "REGISTER" in lab.logs("full")

    code, out, err = _cli("lab", "down", "--run-dir", run_dir)
    assert code == EXIT_OK and "lab stopped" in out, err
    assert not _exists(lab.container.name)
    assert lab._busy_ports() == []  # noqa: SLF001 - every port of the lab is free again
    assert "Asterisk" in (claimed.run_dir / "log" / "console.log").read_text()


@pytest.mark.lab
@pytest.mark.timeout(900)  # may wait for the image build (make test builds it meanwhile)
def test_a_container_killed_mid_run_fails_clearly_with_reports_and_the_next_run_is_clean(
        claimed, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("numbers/600-echo.sip.yaml", "register/register-tcp.sip.yaml"):
        shutil.copy(REPO / "scenarios" / name, scenarios / Path(name).name)
    run_dir = tmp_path / "lab"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SIPCLIENT_LAB_CONTAINER": "1",
           "SIPCLIENT_LAB_RUN_DIR": str(run_dir),
           **{f"SIPCLIENT_LAB_{n.upper()}": str(getattr(claimed, n))
              for n in ("sip_port", "tls_port", "wss_port", "http_port", "ami_port")}}
    cmd = [sys.executable, "-m", "sipclient", "run", str(scenarios), "--junit"]
    first = subprocess.Popen(cmd + [str(tmp_path / "first.xml"), "--report-dir",
                                    str(tmp_path / "first")], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lab = Lab(LabConfig(run_dir=run_dir, container=True))
    in_call = False
    try:
        deadline = time.monotonic() + 300  # the image may be rebuilt first
        while not in_call and time.monotonic() < deadline and first.poll() is None:
            if (run_dir / "lab.json").exists():
                lab = Lab.from_run_dir(run_dir)
                in_call = bool(lab.container.cli("core show channels concise", 5.0))
            time.sleep(0.1)
        assert in_call, "the first scenario's call never reached the lab"  # kill it now
        subprocess.run([lab.container.engine, "kill", lab.container.name], check=True,
                       capture_output=True)
        out, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
        lab.down()
    assert first.returncode == 1, out
    assert "the lab stopped: container " + lab.container.name in out
    assert "exited with status 137 (killed by signal 9)" in out
    junit = (tmp_path / "first.xml").read_text()
    assert junit.count("<testcase ") == 2 and 'failures="1"' in junit and 'errors="1"' in junit
    assert "not run: the lab stopped: container" in junit
    results = {Path(r["path"]).name: r for r in
               json.loads((tmp_path / "first" / "run.json").read_text())["scenarios"]}
    echo = results["600-echo.sip.yaml"]
    assert echo["status"] == "failed" and "the lab stopped during this scenario" in echo["error"]
    assert (Path(echo["report_dir"]) / "result.json").is_file()  # its own report too
    assert "Asterisk" in (run_dir / "log" / "console.log").read_text()  # what it said, kept
    assert not _exists(lab.container.name)  # the run removed the dead container

    second = subprocess.run(cmd + [str(tmp_path / "second.xml"), "--report-dir",
                                   str(tmp_path / "second")], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert "2 passed, 0 failed" in second.stdout
    assert not _exists(lab.container.name)
    assert lab._busy_ports() == []  # noqa: SLF001 - every port of the lab is free again


@pytest.mark.lab
@pytest.mark.timeout(900)  # may wait for the image build (make test builds it meanwhile)
def test_compose_file_runs_the_lab_with_podman_compose_and_its_healthcheck_passes(claimed):
    """docs/lab.md: ``podman-compose -f docker/compose.yaml up -d`` (the image ``lab up
    --container`` built), ports moved with SIPCLIENT_LAB_*; ``down -v`` leaves nothing."""
    from sipclient.lab import probe
    from sipclient.lab.container import ensure_image, find_engine

    engine = find_engine("podman")
    ensure_image(engine)  # tags localhost/sipclient-lab:latest, the compose file's image
    compose = shutil.which("podman-compose", path=str(Path(sys.executable).parent))
    assert compose, "podman-compose missing: `make venv` installs it (dev extra)"
    project = f"sipclient-test-{os.getpid()}"
    env = {**os.environ, **{f"SIPCLIENT_LAB_{n.upper()}": str(getattr(claimed, n))
                            for n in ("sip_port", "tls_port", "wss_port", "http_port",
                                      "ami_port")}}
    base = [compose, "-p", project, "-f", str(REPO / "docker" / "compose.yaml")]
    name = f"{project}_lab_1"
    try:
        up = subprocess.run(base + ["up", "-d"], env=env, capture_output=True, text=True,
                            timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        c = claimed
        deadline = time.monotonic() + 60
        healthy = False
        while not healthy and time.monotonic() < deadline:  # the HEALTHCHECK, run now
            healthy = subprocess.run([engine, "healthcheck", "run", name],
                                     capture_output=True).returncode == 0
            time.sleep(0.5)
        assert healthy
        assert (probe.sip_options_udp("127.0.0.1", c.sip_port) or "").startswith("SIP/2.0 401")
        assert (probe.sip_options_stream("127.0.0.1", c.tls_port, tls=True) or "").startswith(
            "SIP/2.0 401")
        assert " 101 " in (probe.websocket_upgrade("127.0.0.1", c.wss_port, "/ws") or "")
    finally:
        down = subprocess.run(base + ["down", "-v"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _exists(name)
    assert Lab(claimed)._busy_ports() == []  # noqa: SLF001
