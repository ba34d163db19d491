"""Seed 001: the JSON API (``POST /api.php``) with its four-part check.

Every request is a JSON object ``{"acao": ..., "login": ..., "senha": ..., "token": ...}``
plus the action's fields, over HTTPS only, from the single source address registered for
the token. Answers are JSON arrays like ``["Status","CHAMADA OK","ID","2002_20210108175724_
357675"]``; plain HTTP gets ``["Status","Erro de Protocolo"]`` and a failed check
``["Status","Login/Senha Invalido"]`` (the document's only refusal; the twin logs which of
the four parts failed, never the values).

Actions implemented: ``clicktocall`` (origem, destino), ``statusramais`` (rows with the twelve
documented fields), ``statusreport`` (finished calls from ``datainicial``, at most 500),
``statusoperacoes`` (operators' login/logout/pause rows, :mod:`.operators`), the dialer's
``insert``, ``statusdiscador``, ``statusdetalhado``, ``deletediscador`` (:mod:`.dialer`) and
``bloqueioclasse5`` (``logincliente``, ``classe5acao`` BLOQUEAR/DESBLOQUEAR).
Recordings: ``GET /gravador28/<GRAVACAO>.gsm`` (the twin also serves ``.wav``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sipclient.http.dialects import fields as f
from sipclient.http.dialects.record import CallRecord
from sipclient.http.errors import FieldError, HttpError

API_PATH = "/api.php"
DIALER_PATH = "/discador.php"     # the click-to-call example's path (with a Bearer header)
API_PATHS = (API_PATH, DIALER_PATH)
RECORD_PREFIX = "/gravador28/"
ACTIONS = ("clicktocall", "statusramais", "statusreport", "statusoperacoes", "insert",
           "statusdiscador", "statusdetalhado", "deletediscador", "bloqueioclasse5")
PROTOCOL_ERROR = ["Status", "Erro de Protocolo"]
LOGIN_INVALID = ["Status", "Login/Senha Invalido"]
STATUSRAMAIS_FIELDS = ("Ramal", "Status", "Direcao", "Duracao", "StatusCanal", "Callerid",
                       "Extension", "JSON1", "JSON2", "JSON3", "GRAVACAO", "IDCHAMADA")
DIRECTIONS = ("ENTRADA", "SAIDA")
REPORT_FIELDS = ("id", "ramal", "datahora", "duracao", "billsec", "numero", "statuschamada",
                 "uniqueid", "gravacao", "sidehangup")
REPORT_MAX = 500


@dataclass(frozen=True)
class Credentials:
    """login, senha, token and the single source address allowed to use them."""

    login: str
    senha: Any          # sipclient.agent.Secret (or str)
    token: Any          # sipclient.agent.Secret (or str)
    source: str = "127.0.0.1"

    def __repr__(self) -> str:
        return (f"Credentials(login={self.login!r}, senha='***', token='***', "
                f"source={self.source!r})")


def _reveal(value: Any) -> str:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else str(value)


def request(action: str, creds: Credentials, **params: str) -> dict[str, str]:
    """The JSON object to POST; ``params`` are the action's fields (origem, destino...)."""
    if action not in ACTIONS:
        raise FieldError("acao", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    body = {"acao": action, "login": creds.login, "senha": _reveal(creds.senha),
            "token": _reveal(creds.token)}
    body.update({k: str(v) for k, v in params.items()})
    return body


@dataclass(frozen=True)
class ApiRequest:
    acao: str
    login: str
    senha: str = field(repr=False)
    token: str = field(repr=False)
    params: dict[str, Any]


def parse_request(obj: Any) -> ApiRequest:
    if not isinstance(obj, dict):
        raise FieldError("acao", "cannot be read: the body is not a JSON object")
    acao = f.text(obj, "acao", empty=False).lower()
    if acao not in ACTIONS:
        raise FieldError("acao", f"must be one of {', '.join(ACTIONS)}, got {acao!r}")
    login = f.text(obj, "login")
    senha, token = (_secret_field(obj, name) for name in ("senha", "token"))
    params = {k: v for k, v in obj.items() if k not in ("acao", "login", "senha", "token")}
    return ApiRequest(acao, login, senha, token, params)


def with_bearer(obj: Any, authorization: str | None) -> Any:
    """The click-to-call example sends ``Authorization: Bearer {"acao":..,"token":..}`` and a
    body without the token: fill the body's missing login/senha/token from the Bearer value
    (a JSON object like the body, or the token itself)."""
    if not isinstance(obj, dict) or not authorization:
        return obj
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return obj
    try:
        import json

        bearer = json.loads(value)
    except ValueError:
        bearer = {"token": value.strip()}
    if not isinstance(bearer, dict):
        bearer = {"token": value.strip()}
    merged = dict(obj)
    for name in ("login", "senha", "token"):
        if name not in merged and isinstance(bearer.get(name), str):
            merged[name] = bearer[name]
    return merged


def _secret_field(obj: dict[str, Any], name: str) -> str:
    """Like ``fields.text`` but an error never repeats the value (it may be a password)."""
    if name not in obj:
        raise FieldError(name, "is missing")
    value = obj[name]
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got a {type(value).__name__}")
    return value


def check_access(req: ApiRequest, creds: Credentials, peer_ip: str) -> str | None:
    """The first of the four parts that fails ("login", "senha", "token", "source"), or None."""
    if not hmac.compare_digest(req.login.encode(), creds.login.encode()):
        return "login"
    if not hmac.compare_digest(req.senha.encode(), _reveal(creds.senha).encode()):
        return "senha"
    if not hmac.compare_digest(req.token.encode(), _reveal(creds.token).encode()):
        return "token"
    if peer_ip != creds.source:
        return "source"
    return None


def click_to_call_params(obj: Mapping[str, Any]) -> tuple[str, str]:
    return f.digits(obj, "origem"), f.digits(obj, "destino")


def make_call_id(origem: str, moment: datetime, serial: int) -> str:
    """The document's shape: ``2002_20210108175724_357675``."""
    return f"{origem}_{moment:%Y%m%d%H%M%S}_{serial % 1000000:06d}"


def make_gravacao(start: datetime, number: str, extension: str, uniqueid: str) -> str:
    """The document's shape: ``2021/01/10/972064460-S-2001-1610289043.371``."""
    return f"{start:%Y/%m/%d}/{number}-S-{extension}-{uniqueid}"


def record_path(gravacao: str, ext: str = "gsm") -> str:
    return f"{RECORD_PREFIX}{gravacao}.{ext}"


def parse_datainicial(params: Mapping[str, Any], today: datetime) -> datetime:
    """``datainicial`` (the Python example says ``inicio``); empty: today at 00:00."""
    key = "datainicial" if "datainicial" in params else "inicio"
    value = params.get(key, "")
    if value in ("", None):
        return today.replace(hour=0, minute=0, second=0, microsecond=0)
    return f.timestamp(params, key)


def parse_status(answer: Any) -> list[str]:
    """``["Status", "CHAMADA OK", ...]`` -> the list; :class:`HttpError` for anything else."""
    if (not isinstance(answer, list) or len(answer) < 2 or answer[0] != "Status"
            or not all(isinstance(x, str) for x in answer)):
        raise HttpError(f"not a seed 001 status answer: {answer!r}")
    return answer


def parse_click_to_call_answer(answer: Any) -> str:
    """The call ID of ``["Status","CHAMADA OK","ID",id]``; :class:`HttpError` otherwise."""
    status = parse_status(answer)
    if status[1] != "CHAMADA OK" or len(status) < 4 or status[2] != "ID":
        raise HttpError(f"click-to-call refused: {' '.join(status[1:])}")
    return status[3]


def report_row(rec: CallRecord) -> dict[str, str]:
    return {"id": rec.id, "ramal": rec.extension, "datahora": f.fmt_datetime(rec.start),
            "duracao": str(rec.duration), "billsec": str(rec.billsec), "numero": rec.number,
            "statuschamada": rec.disposition or "", "uniqueid": rec.uniqueid,
            "gravacao": rec.recording,
            "sidehangup": {"interno": "OPERADOR", "externo": "CLIENTE"}.get(rec.hangup_side, "")}


def report(records: Iterable[CallRecord], since: datetime) -> list[dict[str, str]]:
    """Finished calls started at or after ``since``, oldest first, at most 500."""
    done = sorted((r for r in records if r.ended is not None and r.start >= since),
                  key=lambda r: r.start)
    return [report_row(r) for r in done[:REPORT_MAX]]


def _refusal(answer: Any, action: str) -> None:
    """``["Status", "Login/Senha Invalido"]`` is a list too: raise it as a refusal."""
    if (isinstance(answer, list) and answer and answer[0] == "Status"
            and all(isinstance(x, str) for x in answer)):
        raise HttpError(f"{action} refused: {' '.join(answer[1:])}")


def _list_answer(answer: Any, action: str) -> list[Any]:
    """``answer`` when it is a list of rows; a refusal, or anything else, raises HttpError."""
    _refusal(answer, action)
    if not isinstance(answer, list):
        parse_status(answer)  # a refusal such as Login/Senha Invalido
        raise HttpError(f"{action} answer is not a list: {answer!r}")
    return answer


def _rows(rows: list[Any], action: str, fields: Sequence[str]) -> Iterator[tuple[Any, str]]:
    """Each row with its place (``action[index]``), once it has been checked to hold every
    one of ``fields``."""
    for index, row in enumerate(rows):
        where = f"{action}[{index}]"
        for name in fields:
            f.require(row, name, where)
        yield row, where


def validate_statusramais(rows: Any) -> list[dict[str, Any]]:
    """Check a statusramais answer: a list of objects with the twelve documented fields."""
    rows = _list_answer(rows, "statusramais")
    for row, where in _rows(rows, "statusramais", STATUSRAMAIS_FIELDS):
        f.digits(row, "Ramal", where)
        f.one_of(row, "Direcao", DIRECTIONS, where)
        f.integer(row, "Duracao", where)
        for name in ("Status", "StatusCanal", "Callerid", "Extension", "JSON1", "JSON2",
                     "JSON3", "GRAVACAO", "IDCHAMADA"):
            f.text(row, name, where)
    return rows


def validate_report(rows: Any) -> list[dict[str, Any]]:
    rows = _list_answer(rows, "statusreport")
    if len(rows) > REPORT_MAX:
        raise HttpError(f"statusreport gave {len(rows)} rows, the maximum is {REPORT_MAX}")
    for row, where in _rows(rows, "statusreport", REPORT_FIELDS):
        f.timestamp(row, "datahora", where)
        f.integer(row, "duracao", where)
        f.integer(row, "billsec", where)
    return rows


def statusramais_row(**values: Any) -> dict[str, str]:
    """A row with every documented field, in the document's order (missing ones empty)."""
    unknown = set(values) - set(STATUSRAMAIS_FIELDS)
    if unknown:
        raise ValueError(f"not statusramais fields: {sorted(unknown)}")
    return {name: "" if values.get(name) is None else str(values.get(name))
            for name in STATUSRAMAIS_FIELDS}


def find_rows(rows: Sequence[Mapping[str, Any]], ramal: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if str(r.get("Ramal")) == str(ramal)]
