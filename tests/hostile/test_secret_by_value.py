"""Secrets are hidden by value, not by name (issue 18: ``vars: {senha: {env: SENHA}}``, the
seed's own word for password, printed the value in stdout, JUnit, --json, run.json and
result.json). A distinctive secret under a variable called ``senha``, copied into other
variables and put into a header: it is in no output, report or file except the capture of
what was sent."""

from __future__ import annotations

import io
import json

import pytest

from sipclient.cli import Env, main

pytestmark = pytest.mark.lab

SENHA = "Zq7-senha-4c1d-9f2e"          # distinctive: found only where it really is
TICKET = "tkt-88a1-b2c3-d4e5"          # marked secret: true, under an innocent name

SCENARIO = """\
name: a senha goes nowhere but the wire
vars:
  senha: {env: HOSTILE_SENHA}
  ticket: {env: HOSTILE_TICKET, secret: true}
  copia: "copy-of-${senha}"
agents:
  alice: {account: 1003, headers: {X-Senha: "${senha}", X-Ticket: "${ticket}"}}
steps:
  - register: alice
  - set: {outra: "${copia}", mais: "${ticket}"}
  - expect: {agent: alice, status: 200, timeout: 1,
             headers: {X-Never: "${outra}/${mais}"}}
"""


def test_a_secret_under_any_name_is_in_no_output_but_the_capture(lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOSTILE_SENHA", SENHA)
    monkeypatch.setenv("HOSTILE_TICKET", TICKET)
    (tmp_path / "senha.sip.yaml").write_text(SCENARIO)
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "senha.sip.yaml", "--junit", "out/junit.xml", "--json", "out/run.json",
                 "--report-dir", "rep"],
                Env(stdout=out, stderr=err, environ={
                    "SIPCLIENT_LAB_RUN_DIR": str(lab.run_dir)}))
    text = out.getvalue() + err.getvalue()
    assert code == 1, text                      # the expect fails and shows what it wanted
    assert "X-Never" in text and "***" in text
    files = [p for d in ("rep", "out") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"junit.xml", "run.json", "result.json", "capture.pcap"}
    for secret in (SENHA, TICKET):
        assert secret not in text
        for path in files:
            if path.name == "capture.pcap":
                assert secret.encode() in path.read_bytes()  # the header really went out
            else:
                assert secret.encode() not in path.read_bytes(), path
    doc = json.loads((tmp_path / "out" / "run.json").read_text())
    assert doc["counts"]["failed"] == 1
