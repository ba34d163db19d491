"""The dialects as pure code: builders, parsers and validators, checked against the seeds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sipclient.agent import Secret
from sipclient.http.dialects import krolik, pbx_api, pbx55, rest_c2c, minicrm
from sipclient.http.dialects.record import CallRecord
from sipclient.http.errors import FieldError, HttpError

T0 = datetime(2023, 9, 26, 14, 46, 22)


def record(**kw) -> CallRecord:
    base = CallRecord(id="1004_20230926144622_000001", uniqueid="1695750382.7",
                      extension="1004", number="16981317956", start=T0, key="crm-42",
                      recording="2023/09/26/16981317956-S-1004-1695750382.7",
                      userfield="20230926_144622_1001004_1004_16981317956_1695750382")
    answered = T0 + timedelta(seconds=4)
    return base.finish(T0 + timedelta(seconds=34), "ANSWER", answered=answered,
                       connected=answered + timedelta(seconds=1), hangup_side="interno", **kw)


# --- seed 000 -------------------------------------------------------------------------------

def test_seed000_ramal_carries_the_customer_code() -> None:
    assert krolik.make_ramal("100", "1004") == "1001004"        # the document's example
    assert krolik.split_ramal("1001004") == ("100", "1004")
    with pytest.raises(FieldError, match="'ramal' must have 7 digits, got 4"):
        krolik.split_ramal("1004")
    with pytest.raises(FieldError, match="'ramal' must be digits"):
        krolik.parse_click_to_call({"ramal": "100100x", "numero": "1", "key": "k"})
    with pytest.raises(FieldError, match="'key' is missing"):
        krolik.parse_click_to_call({"ramal": "1001004", "numero": "16981317956"})


def test_seed000_userfield_of_the_document_parses() -> None:
    parts = krolik.parse_userfield("20230926_144622_1003007_1001_16981317956_1695750375")
    assert parts == {"date": "20230926", "time": "144622", "origin": "1003007",
                     "extension": "1001", "destination": "16981317956", "id": "1695750375"}
    assert krolik.record_path("20230926_144622_1003007_1001_16981317956_1695750375") == (
        "/services/record/20230926_144622_1003007_1001_16981317956_1695750375")
    with pytest.raises(FieldError, match="impossible date"):
        krolik.parse_userfield("20231326_144622_1003007_1001_16981317956_1695750375")


def test_seed000_cdr_round_trip_and_field_errors() -> None:
    cdr = krolik.cdr_from_record(record())
    form = cdr.form()
    assert form == {"calldate": "2023-09-26 14:46:22", "src": "1004", "dst": "16981317956",
                    "duration": "34", "billsec": "29", "disposition": "ANSWER",
                    "userfield": "20230926_144622_1001004_1004_16981317956_1695750382",
                    "callid": "crm-42"}
    assert krolik.validate_cdr(form) == cdr
    cases = {
        "calldate": ("2023-09-26T14:46:22", "'calldate' must be a date YYYY-MM-DD hh:mm:ss"),
        "disposition": ("ANSWERED", "'disposition' must be one of 'ANSWER', 'NO ANSWER'"),
        "billsec": ("40", "'billsec' (40) exceeds duration (34)"),
        "duration": ("3.5", "'duration' must be an integer"),
        "src": ("ramal", "'src' must be digits"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(FieldError) as err:
            krolik.validate_cdr(form | {name: value})
        assert message in str(err.value), name
    for name in krolik.CDR_FIELDS:
        if name == "userfield":
            continue
        broken = {k: v for k, v in form.items() if k != name}
        with pytest.raises(FieldError, match=f"'{name}' is missing"):
            krolik.validate_cdr(broken)


# --- seed 001 -------------------------------------------------------------------------------

CREDS = pbx_api.Credentials("root", Secret("root1234"), Secret("XXXX"), "10.0.0.5")


def test_seed001_request_matches_the_document_and_hides_secrets() -> None:
    body = pbx_api.request("clicktocall", CREDS, origem="2002", destino="56453377")
    assert body == {"acao": "clicktocall", "login": "root", "senha": "root1234",
                    "token": "XXXX", "origem": "2002", "destino": "56453377"}
    assert "root1234" not in repr(CREDS) and "XXXX" not in repr(CREDS)
    parsed = pbx_api.parse_request(body)
    assert "root1234" not in repr(parsed)
    assert pbx_api.check_access(parsed, CREDS, "10.0.0.5") is None
    assert pbx_api.check_access(parsed, CREDS, "10.0.0.6") == "source"
    for part, value in (("login", "admin"), ("senha", "x"), ("token", "YYYY")):
        assert pbx_api.check_access(pbx_api.parse_request(body | {part: value}), CREDS,
                                    "10.0.0.5") == part
    with pytest.raises(FieldError, match="'acao' must be one of"):
        pbx_api.parse_request(body | {"acao": "apagar"})
    with pytest.raises(FieldError, match="'token' is missing"):
        pbx_api.parse_request({k: v for k, v in body.items() if k != "token"})
    with pytest.raises(FieldError) as err:
        pbx_api.parse_request(body | {"senha": 98765432})
    assert "98765432" not in str(err.value) and "'senha' must be a string" in str(err.value)


def test_seed001_answers_and_ids() -> None:
    assert pbx_api.make_call_id("2002", datetime(2021, 1, 8, 17, 57, 24), 357675) == (
        "2002_20210108175724_357675")                               # the document's ID
    answer = ["Status", "CHAMADA OK", "ID", "2002_20210108175724_357675"]
    assert pbx_api.parse_click_to_call_answer(answer) == "2002_20210108175724_357675"
    with pytest.raises(HttpError, match="refused: Login/Senha Invalido"):
        pbx_api.parse_click_to_call_answer(pbx_api.LOGIN_INVALID)
    assert pbx_api.make_gravacao(datetime(2021, 1, 10), "972064460", "2001",
                                 "1610289043.371") == "2021/01/10/972064460-S-2001-1610289043.371"
    assert pbx_api.record_path("2021/01/10/972064460-S-2001-1610289043.371") == (
        "/gravador28/2021/01/10/972064460-S-2001-1610289043.371.gsm")


def test_seed001_statusramais_rows_of_the_document_validate() -> None:
    rows = [pbx_api.statusramais_row(Ramal=2001, Status="In use", Direcao="ENTRADA",
                                     Duracao=109, StatusCanal="Up", Callerid=2002,
                                     Extension=2001, JSON1=12345678,
                                     GRAVACAO="2021/01/10/972064460-S-2001-1610289043.371",
                                     IDCHAMADA="1610289043.371"),
            pbx_api.statusramais_row(Ramal=2002, Status="In use", Direcao="SAIDA",
                                     Duracao=109, StatusCanal="Up", Callerid=2001,
                                     Extension=2001, IDCHAMADA="1610289043.371")]
    assert list(rows[0]) == list(pbx_api.STATUSRAMAIS_FIELDS)
    assert pbx_api.validate_statusramais(rows) == rows
    with pytest.raises(FieldError, match=r"statusramais\[1\]: field 'Direcao' must be one of"):
        pbx_api.validate_statusramais([rows[0], rows[1] | {"Direcao": "OUT"}])
    with pytest.raises(FieldError, match=r"statusramais\[0\]: field 'JSON1' is missing"):
        pbx_api.validate_statusramais([{k: v for k, v in rows[0].items() if k != "JSON1"}])
    with pytest.raises(HttpError, match="not a seed 001 status answer|not a list"):
        pbx_api.validate_statusramais({"Ramal": "1"})
    with pytest.raises(HttpError, match="statusramais refused: Login/Senha Invalido"):
        pbx_api.validate_statusramais(pbx_api.LOGIN_INVALID)


def test_seed001_statusreport_from_datainicial_at_most_500() -> None:
    today = datetime(2020, 1, 2, 15, 0)
    assert pbx_api.parse_datainicial({"datainicial": ""}, today) == datetime(2020, 1, 2)
    assert pbx_api.parse_datainicial({"inicio": "2020-02-01 00:00:00"}, today) == (
        datetime(2020, 2, 1))
    with pytest.raises(FieldError, match="'datainicial' must be a date"):
        pbx_api.parse_datainicial({"datainicial": "02/01/2020"}, today)
    calls = []
    for n in range(700):
        start = T0 + timedelta(minutes=n)
        rec = CallRecord(id=f"c{n}", uniqueid=f"{n}.1", extension="1004", number="600",
                         start=start)
        calls.append(rec.finish(start + timedelta(seconds=5), "NO ANSWER") if n != 699 else rec)
    rows = pbx_api.report(calls, T0 + timedelta(minutes=100))
    assert len(rows) == 500 and rows[0]["id"] == "c100" and rows[-1]["id"] == "c599"
    assert pbx_api.validate_report(rows) == rows
    assert len(pbx_api.report(calls, T0 + timedelta(minutes=690))) == 9   # c699 still up


# --- seed 002 -------------------------------------------------------------------------------

def test_seed002_push_start_end_transfer() -> None:
    rec = record()
    start = pbx55.payload(rec, "start", central_id="1000")
    end = pbx55.payload(rec, "end", central_id="1000", base_url="https://twin")
    transfer = pbx55.payload(rec, "transfer", central_id="1000", transfer_id="1479477009.5198")
    assert set(start) == set(end) == set(pbx55.FIELDS)
    assert pbx55.validate_push(start, phase="start")["call_status"] == ""
    pbx55.validate_push(end, phase="end")
    pbx55.validate_push(transfer, phase="transfer")
    assert (end["call_time"], end["call_duration"], end["call_time_waiting"]) == (29, 34, 5)
    assert end["call_url_audio"] == ("https://twin/webphone-1000/2023/09/26/"
                                     "audio-2023-09-26_14-46-22-10001004-1695750382.7.wav")
    with pytest.raises(FieldError, match="'call_transfer_id' is empty"):
        pbx55.validate_push(end, phase="transfer")
    with pytest.raises(FieldError, match="'branch_mask' must be a JSON number, got '1004'"):
        pbx55.validate_push(end | {"branch_mask": "1004"})
    with pytest.raises(FieldError, match="'call_date' must be a date"):
        pbx55.validate_push(end | {"call_date": "ISODate(2012-05-01)"})
    with pytest.raises(FieldError, match="headers: field 'token' header does not match"):
        pbx55.check_token({"token": "nope"}, "LKAGSDK")
    pbx55.check_token({"token": "LKAGSDK"}, "LKAGSDK")


# --- seed 003 -------------------------------------------------------------------------------

def test_seed003_urls_answers_and_events() -> None:
    assert rest_c2c.call_path("6001", "32999999999") == "/api/call/6001/032999999999"
    assert rest_c2c.route("/api/call/6001/6005") == ("call", {"ramal": "6001", "number": "6005"})
    assert rest_c2c.route("/api/call/6001/0600") == ("call", {"ramal": "6001", "number": "600"})
    assert rest_c2c.route("/api/status/6e1af400b3b7fef7") == ("status",
                                                              {"call_id": "6e1af400b3b7fef7"})
    assert rest_c2c.route("/api/active/6001") == ("active", {"ramal": "6001"})
    assert rest_c2c.route("/api/other") is None
    doc = {"apiStatus": "CONECTION_OK", "created": "2021-01-06T18:07:10.888+0000",
           "data": {"key": "9cb60bfe8dfb200f", "status": "IN_PROGRESS",
                    "created": "2021-01-06T18:07:10.915+0000", "from": "6001",
                    "to": "032999999999", "error": None, "callId": "9cb60bfe8dfb200f",
                    "serverMessage": None}}
    assert rest_c2c.parse_call_answer(doc) == "9cb60bfe8dfb200f"
    assert rest_c2c.iso(datetime(2021, 1, 6, 18, 7, 10, 888000)) == "2021-01-06T18:07:10.888+0000"
    rec = record()
    dialing = rest_c2c.event("call.dialing", rec, "e57575aa", 1613584017387)
    hangup = rest_c2c.event("call.hangup", rec, "e57575aa", 1613583875286)
    assert rest_c2c.validate_event(dialing)["data"]["disposition"] is None
    assert rest_c2c.validate_event(hangup)["data"]["disposition"] == "ANSWERED"
    assert hangup["data"]["to"] == "h"   # as the document's example shows
    with pytest.raises(FieldError, match="data: field 'created' must be an integer"):
        rest_c2c.validate_event(hangup | {"data": hangup["data"] | {"created": "1613"}})
    with pytest.raises(FieldError, match="'event' must be one of"):
        rest_c2c.validate_event(hangup | {"event": "call.answer"})


# --- seed 004 -------------------------------------------------------------------------------

def test_seed004_book_counts_and_errors() -> None:
    book = minicrm.CallLogBook(api_key="k")
    good = {"Date": "2016-03-02 16:00:12", "Number": "0620123456", "CallType": 2,
            "Duration": 132, "ReferenceId": "r1"}
    out = book.handle(b'{"ApiKey":"k","UserExtension":"001","Data":[]}')
    assert (out.status, out.body) == (
        200, b'{"Skipped":0, "Processed":0, "Exists":0, "Missing":0, "NotFound":0}')
    import json

    def send(data, **top):
        return book.handle(json.dumps({"ApiKey": "k", "UserExtension": "001", "Data": data}
                                      | top).encode())
    zero = {"Missing": 0, "NotFound": 0}
    assert send(good).summary == {"Skipped": 0, "Processed": 1, "Exists": 0} | zero
    assert send([good, good | {"ReferenceId": "r2"}]).summary == {
        "Skipped": 0, "Processed": 1, "Exists": 1} | zero
    bad = send([good | {"CallType": 5}, good | {"Date": "yesterday"}])
    assert bad.summary == {"Skipped": 2, "Processed": 0, "Exists": 0} | zero
    assert "'CallType' must be 0, 1 or 2" in bad.problems[0]
    assert "Data[1]: field 'Date'" in bad.problems[1]
    assert book.handle(b"{nope").status == 400
    assert send(good, ApiKey="wrong").status == 401
    assert b"Invalid ApiKey" in send(good, ApiKey="wrong").body
    assert send(good, UserExtension="").body == b'{"Error": "UserExtension is missing"}'
    # Missing (a record without a field) and NotFound (a number that is not a contact)
    book.contacts = {"0620123456"}
    counted = send([{k: v for k, v in good.items() if k != "Number"},
                    good | {"Number": "0799", "ReferenceId": "r9"},
                    good | {"ReferenceId": "r10"}])
    assert counted.summary == {"Skipped": 2, "Processed": 1, "Exists": 0, "Missing": 1,
                               "NotFound": 1}
    assert "Data[1]: Number 0799 not found" in counted.problems
    missing_data = book.handle(b'{"ApiKey":"k","UserExtension":"001"}')
    assert (missing_data.status, missing_data.body) == (400, b'{"Error": "Data is missing"}')
