"""``sipclient http ...`` driven in-process (injected streams and environment)."""

from __future__ import annotations

import io
import json
from pathlib import Path
import threading
import time

import pytest

from sipclient.cli import Env, main
from sipclient.http.client import HttpClient
from sipclient.http.dialects import krolik

from .test_dialects import record
from .util import SECRETS, SENHA, TOKEN, run

ENVIRON = {"S": SENHA, "T": TOKEN}


def _wait_line(stream: io.StringIO, seconds: float = 20.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = stream.getvalue()
        if "\n" in text:
            return json.loads(text.splitlines()[0])
        time.sleep(0.05)
    raise AssertionError("the command printed nothing")


EXAMPLES = Path(__file__).parent / "seed_examples"


def test_secrets_only_from_env_or_file() -> None:
    err = io.StringIO()
    rc = main(["http", "status", "--url", "https://127.0.0.1:9", "--senha", SENHA,
               "--token", "env:T"], Env(stdout=io.StringIO(), stderr=err, environ=ENVIRON))
    assert rc == 2
    assert "--senha: give env:NAME or file:PATH" in err.getvalue()
    assert SENHA not in err.getvalue()


def test_receive_prints_each_webhook() -> None:
    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(
        ["http", "receive", "--count", "1", "--timeout", "20", "--strict"], Env(out, err, {}))))
    thread.start()
    urls = _wait_line(out)["urls"]
    form = krolik.cdr_from_record(record()).form()
    bad = run(HttpClient().post_form(urls["seed000"], form | {"billsec": "x"}))
    ok = run(HttpClient().post_form(urls["seed000"], form))
    thread.join(25)
    assert (bad.status, ok.status, result) == (400, 200, [0])
    line = json.loads(out.getvalue().splitlines()[1])
    assert line["dialect"] == "seed000" and line["fields"]["callid"] == "crm-42"
    assert line["warnings"] == [] and "callid=crm-42" in line["body"]
    assert line["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert "rejected seed000 (strict): field 'billsec' must be an integer" in err.getvalue()


def test_receive_shows_warnings_headers_and_body_with_secrets_redacted() -> None:
    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(
        ["http", "receive", "--count", "1", "--timeout", "20", "--push-token", "env:P"],
        Env(out, err, {"P": "push-secret-9"}))))
    thread.start()
    urls = _wait_line(out)["urls"]
    body = (EXAMPLES / "seed002_body.txt").read_bytes()
    ok = run(HttpClient().request("PUT", urls["seed002"], body,
                                  {"Content-Type": "application/json",
                                   "token": "push-secret-9"}))
    thread.join(25)
    assert (ok.status, result) == (200, [0])
    line = json.loads(out.getvalue().splitlines()[1])
    assert line["headers"]["token"] == "***"
    assert line["body"] == body.decode()
    assert "ISODate(...) is MongoDB notation, not JSON (1x)" in line["warnings"]
    assert "warning seed002 end: field 'call_time' (11) exceeds call_duration (3)" \
        in err.getvalue()
    assert "warning seed002 end: ISODate(...)" in err.getvalue()
    assert "push-secret-9" not in out.getvalue() + err.getvalue()


@pytest.mark.lab
def test_twin_up_then_status_and_refusal(lab) -> None:
    out, err = io.StringIO(), io.StringIO()
    thread = threading.Thread(target=lambda: main(
        ["http", "twin", "up", "--run-dir", str(lab.run_dir), "--port", "0", "--senha", "env:S",
         "--token", "env:T", "--for", "8", "--seed003-port", "0"], Env(out, err, ENVIRON)))
    thread.start()
    info = _wait_line(out)
    common = ["--url", info["url"], "--ca-file", info["ca_file"], "--senha", "env:S"]
    status_out, status_err = io.StringIO(), io.StringIO()
    rc_ok = main(["http", "status", *common, "--token", "env:T"],
                 Env(status_out, status_err, ENVIRON))
    bad_out, bad_err = io.StringIO(), io.StringIO()
    rc_bad = main(["http", "report", *common, "--token", "env:S"],
                  Env(bad_out, bad_err, ENVIRON))
    thread.join(15)
    assert rc_ok == 0 and isinstance(json.loads(status_out.getvalue()), list)
    assert rc_bad == 1
    assert "Login/Senha Invalido" in bad_err.getvalue()
    everything = "".join(s.getvalue() for s in (out, err, status_out, status_err, bad_out,
                                                 bad_err))
    for secret in SECRETS:
        assert secret not in everything


@pytest.mark.lab
def test_dialer_commands_against_the_twin(lab) -> None:
    """insert / statusdiscador / statusdetalhado / deletediscador / statusoperacoes /
    bloqueioclasse5 from the command line, on a paused campaign (nothing is dialled)."""
    out, err = io.StringIO(), io.StringIO()
    thread = threading.Thread(target=lambda: main(
        ["http", "twin", "up", "--run-dir", str(lab.run_dir), "--port", "0", "--senha", "env:S",
         "--token", "env:T", "--for", "8", "--campaign", "235,operators=1001,paused",
         "--seed003-port", "-1"],
        Env(out, err, ENVIRON)))
    thread.start()
    info = _wait_line(out)
    common = ["--url", info["url"], "--ca-file", info["ca_file"], "--senha", "env:S",
              "--token", "env:T"]

    def cli(*args: str) -> tuple[int, str, str]:
        o, e = io.StringIO(), io.StringIO()
        rc = main(["http", *args, *common], Env(o, e, ENVIRON))
        return rc, o.getvalue(), e.getvalue()
    inserted = cli("insert", "--campaign", "235", "--phone", "11:90000600", "--field",
                   "cliente=Leandro", "--field", "gen15=gen15")
    unknown = cli("insert", "--campaign", "999", "--phone", "11:90000600")
    bad = cli("insert", "--campaign", "235", "--phone", "011:90000600")
    rows = cli("statusdiscador", "--campaign", "235")
    detail = cli("statusdetalhado", "--campaign", "235", "--idmailing",
                 json.loads(rows[1])[0]["id"] if rows[0] == 0 else "1")
    ops = cli("statusoperacoes")
    tenant = cli("bloqueioclasse5", "--cliente", "teste", "--acao", "BLOQUEAR")
    deleted = cli("deletediscador", "--campaign", "235")
    thread.join(15)
    assert inserted[:2] == (0, '["Status", "OK"]\n')
    assert unknown[:2] == (1, '["Status", "ID CAMPANHA NAO CADASTRADO"]\n')
    assert bad[0] == 1 and "field 'ddd1' must have 2 digits" in bad[2]
    [row] = json.loads(rows[1])
    assert (row["cliente"], row["status"], row["gen15"], row["ddd"], row["numero"]) == (
        "Leandro", "AGUARDANDO", "gen15", "11", "90000600")
    assert detail[:2] == (0, "[]\n")
    assert ops[0] == 0 and json.loads(ops[1]) == []
    assert tenant[:2] == (1, '["Status", "Login Cliente Invalido"]\n')
    assert deleted[:2] == (0, '["Total Deletados", "1"]\n')


@pytest.mark.lab
def test_twin_up_says_which_port_is_taken(lab) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        rc = main(["http", "twin", "up", "--run-dir", str(lab.run_dir), "--port", "0",
                   "--senha", "env:S", "--token", "env:T", "--for", "1", "--seed003-port",
                   str(port)], Env(out, err, ENVIRON))
    assert rc == 1 and out.getvalue() == ""
    assert f"cannot listen on 127.0.0.1:{port}" in err.getvalue()
    assert "--seed003-port" in err.getvalue()


def test_dialects_answer_to_their_seed_id_and_their_module_name() -> None:
    """The vendor modules are named for what they are (krolik, pbx_api, pbx55, rest_c2c,
    minicrm); what users type (seed000 ...) keeps working, and both forms are accepted."""
    from sipclient.cli.http import _c2c_dialect, _webhook
    from sipclient.http import dialects

    assert [_c2c_dialect(n) for n in ("krolik", "SEED001", "rest_c2c")] == [
        "seed000", "seed001", "seed003"]
    assert _webhook("minicrm=http://127.0.0.1:9/Api/CallLog", Env(environ={})).dialect == "seed004"
    assert _webhook("seed002=http://127.0.0.1:9/p", Env(environ={})).dialect == "seed002"
    err = io.StringIO()
    rc = main(["http", "c2c", "--url", "https://127.0.0.1:9", "--dialect", "minicrm",
               "--ramal", "1001", "--number", "600"], Env(io.StringIO(), err, {}))
    assert rc == 2 and "has no click-to-call" in err.getvalue()
    for ident, module in dialects.DIALECTS.items():
        assert hasattr(__import__(f"sipclient.http.dialects.{module}").http.dialects, module)
        assert dialects.dialect_id(module) == ident
