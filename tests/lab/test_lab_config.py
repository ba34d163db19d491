"""Rendering the templates: pure, no Asterisk needed."""

from __future__ import annotations

import re

import pytest

from sipclient.lab import LabConfig, parse_extensions
from sipclient.lab.errors import LabError
from sipclient.lab.render import fill, render
from sipclient.lab.testing import test_lab_config


def test_defaults_mirror_the_cloud():
    c = LabConfig()
    assert (c.sip_port, c.wss_port, c.rtp_start, c.rtp_end) == (7048, 8089, 10000, 20000)
    assert c.endpoints()["wss"] == "wss://127.0.0.1:8089/ws"


def test_render_fills_every_placeholder_and_keeps_asterisk_variables(tmp_path):
    config = LabConfig(run_dir=tmp_path / "lab", sip_port=7148, wss_port=8189,
                       sip_extensions=("1001", "1002"), webrtc_extensions=("2001",))
    files = {p.name: p.read_text() for p in render(config)}
    assert {"asterisk.conf", "pjsip.conf", "extensions.conf", "http.conf", "rtp.conf",
            "modules.conf", "logger.conf", "manager.conf", "cdr.conf"} <= set(files)
    for name, text in files.items():
        assert "{{" not in text, name
    assert f"astrundir => {config.run_dir}/run" in files["asterisk.conf"]
    assert "bind = 127.0.0.1:7148" in files["pjsip.conf"]
    assert "tlsbindaddr = 127.0.0.1:8189" in files["http.conf"]
    assert f"password = {config.password('1002')}" in files["pjsip.conf"]
    assert re.search(r"\[2001\]\(lab-webrtc\)", files["pjsip.conf"])
    assert "noload => chan_sip.so" in files["modules.conf"]
    assert "exten => 1002,1,Gosub(lab-record,s,1(${EXTEN}))\n same => n,Goto(lab-dial,${EXTEN},1)" \
        in files["extensions.conf"]
    assert "Dial(PJSIP/${EXTEN}" in files["extensions.conf"]


def test_unknown_placeholder_is_an_error():
    with pytest.raises(LabError, match="nope"):
        fill("x {{nope}}", {}, source="t")


def test_port_offset_and_env_overrides():
    env = {"SIPCLIENT_LAB_SIP_PORT": "7100", "SIPCLIENT_LAB_WEBRTC_EXTENSIONS": "2001-2003",
           "SIPCLIENT_LAB_PORT_OFFSET": "5"}
    c = LabConfig.from_env(env)
    assert c.sip_port == 7105 and c.wss_port == 8094
    assert c.webrtc_extensions == ("2001", "2002", "2003")
    assert parse_extensions("1001-1002,1010") == ("1001", "1002", "1010")


def test_each_xdist_worker_gets_its_own_ports_and_run_dir():
    gw0 = test_lab_config(environ={"PYTEST_XDIST_WORKER": "gw0"})
    gw1 = test_lab_config(environ={"PYTEST_XDIST_WORKER": "gw1"})
    assert gw0.sip_port == 7048 and gw0.wss_port == 8089
    assert gw1.sip_port == 7058 and gw1.wss_port == 8099
    assert gw0.run_dir != gw1.run_dir


def test_ports_must_differ():
    with pytest.raises(ValueError):
        LabConfig(sip_port=8089)
