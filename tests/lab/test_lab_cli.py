"""``sipclient lab ...`` driven through sipclient.cli.main, as a user would type it."""

from __future__ import annotations

import io
import json
import os

import pytest

from sipclient.cli import EXIT_FAILURE, EXIT_OK, Env, main


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if environ is None:  # the lab's own variables (an external lab) but nothing else
        environ = {k: v for k, v in os.environ.items() if k.startswith("SIPCLIENT_LAB_")}
    code = main(list(argv), Env(stdout=out, stderr=err, environ=environ))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.lab
def test_accounts_json_lists_extensions_passwords_transports(lab):
    code, out, err = _run("lab", "accounts", "--json", "--run-dir", str(lab.run_dir))
    assert code == EXIT_OK, err
    accounts = {a["extension"]: a for a in json.loads(out)}
    assert set(accounts) >= {"1001", "1020", "2001", "2010"}
    assert accounts["1001"]["password"] == lab.account(1001).password
    assert accounts["1001"]["webrtc"] is False
    assert set(accounts["1001"]["transports"]) == {"udp", "tcp", "tls"}
    assert accounts["1001"]["transports"]["udp"].endswith(f":{lab.config.sip_port};transport=udp")
    assert accounts["2001"]["webrtc"] is True
    assert accounts["2001"]["transports"]["wss"] == f"wss://{lab.config.host}:{lab.config.wss_port}/ws"
    assert len({a["password"] for a in accounts.values()}) == len(accounts)


@pytest.mark.lab
def test_status_json_of_the_running_lab(lab):
    code, out, err = _run("lab", "status", "--json", "--run-dir", str(lab.run_dir))
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert data["healthy"] is True
    assert data["checks"]["wss"].startswith("HTTP/1.1 101")


@pytest.mark.lab
def test_logs_shows_the_sip_trace(lab):
    code, out, _ = _run("lab", "logs", "--run-dir", str(lab.run_dir), "--tail", "100000")
    assert code == EXIT_OK
    assert "Asterisk Ready" in out or "fully booted" in out


def test_status_of_a_lab_that_is_not_running(tmp_path):
    code, out, _ = _run("lab", "status", "--run-dir", str(tmp_path / "nolab"), environ={})
    assert code == EXIT_FAILURE
    assert "lab down" in out


def test_missing_asterisk_is_a_clear_error_without_traceback(tmp_path, monkeypatch):
    import sipclient.lab.runner as runner

    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    monkeypatch.setattr(runner.os, "access", lambda *a, **k: False)
    code, out, err = _run("lab", "up", "--run-dir", str(tmp_path / "lab"), environ={})
    assert code == EXIT_FAILURE
    assert "asterisk not found: run `make lab-deps`" in err
    assert "Traceback" not in err + out
