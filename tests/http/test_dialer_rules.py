"""The dialer's pure rules (seed 001, issue 20): insert's fields, STATUS over attempts with an
injected clock, statusdiscador's rows shaped like the seed's example."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sipclient.http.dialects import dialer as d
from sipclient.http.errors import FieldError

T0 = datetime(2026, 1, 2, 9, 0, 0)


def rules(**kw) -> d.CampaignRules:
    kw.setdefault("operators", ("1001",))
    return d.CampaignRules("583", **kw)


def test_insert_takes_the_seed_example_and_names_bad_fields() -> None:
    example = {"acao": "insert", "idcampanha": "235", "idcrm": "1234", "cliente": "Leandro",
               "cpf": "346150521852", "ddd1": "11", "tel1": "41187777", "ddd2": "21",
               "tel2": "12345678", "gen15": "gen15"}
    contact = d.parse_insert(example)
    assert contact["phones"] == [("11", "41187777"), ("21", "12345678")]
    assert contact["gen15"] == "gen15" and contact["gen1"] == ""
    with pytest.raises(FieldError, match="ddd1.*always apart"):
        d.parse_insert({"idcampanha": "1", "tel1": "41187777"})
    with pytest.raises(FieldError, match="'ddd1' must have 2 digits"):
        d.parse_insert({"idcampanha": "1", "ddd1": "011", "tel1": "41187777"})
    with pytest.raises(FieldError, match="'gen22' has 255 characters, at most 254"):
        d.parse_insert({"idcampanha": "1", "ddd1": "11", "tel1": "4", "gen22": "x" * 255})
    with pytest.raises(FieldError, match="'tel1' is missing"):
        d.parse_insert({"idcampanha": "1", "cliente": "x"})
    with pytest.raises(FieldError, match="'idcampanha'"):
        d.parse_insert({"ddd1": "11", "tel1": "4"})


def test_client_side_helpers() -> None:
    from sipclient.http.errors import HttpError

    params = d.insert_params("235", [("11", "41187777"), ("21", "12345678")],
                             idcrm="1234", cliente="Leandro", gen15="gen15")
    assert params == {"idcampanha": "235", "idcrm": "1234", "cliente": "Leandro",
                      "gen15": "gen15", "ddd1": "11", "tel1": "41187777", "ddd2": "21",
                      "tel2": "12345678"}
    with pytest.raises(FieldError, match="'gen23' is not one of insert's fields"):
        d.insert_params("235", [("11", "1")], gen23="x")
    with pytest.raises(FieldError, match="at most 5 numbers"):
        d.insert_params("235", [("11", "1")] * 6)
    d.check_ok(["Status", "OK"])
    with pytest.raises(HttpError, match="insert refused: ID CAMPANHA NAO CADASTRADO"):
        d.check_ok(d.CAMPAIGN_UNKNOWN)
    assert d.parse_deleted(["Total Deletados", "1528"]) == 1528
    with pytest.raises(HttpError, match="deletediscador refused: Login/Senha Invalido"):
        d.parse_deleted(["Status", "Login/Senha Invalido"])


def test_status_follows_the_seed() -> None:
    camp = d.Campaign(rules(concurrency=2, retry_after={d.NOANSWER: 60, d.BUSY: None}))
    a = camp.insert("1", d.parse_insert({"idcampanha": "583", "ddd1": "11", "tel1": "1",
                                         "ddd2": "11", "tel2": "2"}), T0)
    b = camp.insert("2", d.parse_insert({"idcampanha": "583", "ddd1": "11", "tel1": "3"}), T0)
    c = camp.insert("3", d.parse_insert({"idcampanha": "583", "ddd1": "11", "tel1": "4"}), T0)
    assert [x.status for x in (a, b, c)] == [d.AGUARDANDO] * 3
    assert camp.due(T0) == [a, b]                      # two lines
    att = camp.start(a, T0)
    assert (att.number, a.status) == ("111", d.DIALING)
    assert camp.due(T0) == [b]
    # talked exactly 10 s: not more than 10, not CONCLUIDO
    assert camp.finish(a, att, d.ANSWER, T0, talk=10.0) == d.DESCARTADO
    assert camp.next_due() is None                      # ANSWER: no rule -> no retry
    busy = camp.start(b, T0)
    assert camp.finish(b, busy, d.BUSY, T0) == d.DESCARTADO and b.stopped
    assert b not in camp.due(T0 + timedelta(hours=1))
    # never answered: a retry every 60 s until 5 tries
    now = T0
    for n in range(5):
        assert camp.due(now) == [c], n
        att = camp.start(c, now)
        status = camp.finish(c, att, d.NOANSWER, now)
        assert camp.due(now + timedelta(seconds=59)) == []
        now += timedelta(seconds=60)
    assert (status, c.total_tries) == (d.EXCEDIDO, 5)
    # paused: nothing is due
    new = camp.insert("4", d.parse_insert({"idcampanha": "583", "ddd1": "11", "tel1": "5"}),
                      now)
    camp.rules.paused = True
    assert camp.due(now) == []
    camp.rules.paused = False
    att = camp.start(new, now)
    assert camp.finish(new, att, d.ANSWER, now, talk=10.5) == d.CONCLUIDO
    assert d.statusdetalhado(new, camp.rules)["duracao"] == "10"   # round(10.5) -> 10
    assert d.statusdetalhado(c, camp.rules) == []
    assert d.deleted(camp.delete()) == ["Total Deletados", "4"]


def test_statusdiscador_row_has_the_examples_columns_by_position_and_name() -> None:
    camp = d.Campaign(rules(name="EP_TRAD_30.12"))
    c = camp.insert("1435743", d.parse_insert({"idcampanha": "583", "cliente": "NOME",
                                               "ddd1": "11", "tel1": "1", "conta": "CONTA",
                                               "gen1": "CPF"}), T0)
    row = d.statusdiscador_row(c, camp.rules)
    assert list(row)[:6] == ["0", "id", "1", "cliente", "2", "ddd"]
    assert list(row)[-2:] == ["52", "data_insert"]
    assert (row["10"], row["status"], row["18"], row["19"], row["24"], row["gen1"]) == (
        "AGUARDANDO", "AGUARDANDO", "EP_TRAD_30.12", "0", "CPF", "CPF")
    assert row["agendamento"] == "0000-00-00 00:00:00" and row["id_registro"] == "1435743"
    assert d.validate_statusdiscador([row]) == [row]
    with pytest.raises(FieldError, match="must equal 'status'"):
        d.validate_statusdiscador([row | {"10": "x"}])


def test_campaign_needs_operators_or_a_queue() -> None:
    with pytest.raises(ValueError, match="operators"):
        d.CampaignRules("1")
    assert d.CampaignRules("1", queue="operadores").name == "1"


def test_recordings_stay_inside_the_monitor_directory(tmp_path) -> None:
    from sipclient.http.twin.recordings import serve_recording
    from sipclient.http.wire import HttpRequest

    monitor = tmp_path / "monitor"
    (monitor / "2026/01/02").mkdir(parents=True)
    (monitor / "2026/01/02/600-S-1001-1.2.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.wav").write_bytes(b"RIFF-secret")

    def get(path: str) -> int:
        return serve_recording(HttpRequest("GET", path), [], monitor, "1000").status
    assert get("/gravador28/2026/01/02/600-S-1001-1.2.wav") == 200
    assert get("/gravador28/../secret.wav") == 404
    assert get("/gravador28/2026/../../secret.wav") == 404
    assert get(f"/gravador28/{tmp_path}/secret.wav") == 404
