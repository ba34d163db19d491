"""Seed 001's dialer (issue 20): ``insert``, ``statusdiscador``, ``statusdetalhado``,
``deletediscador``, and the campaign's pure state machine (``now`` is always given).

- ``insert``: ``idcampanha`` and the contact: ``idcrm``, ``cliente``, ``cpf``, up to five
  phones as ``ddd1``/``tel1`` .. ``ddd5``/``tel5`` (the DDD always apart, two digits), and
  open fields of at most 254 characters (``endereco`` .. ``conta``, ``gen1`` .. ``gen22``).
  Answers ``["Status","OK"]``, or ``["Status","ID CAMPANHA NAO CADASTRADO"]``.
- ``statusdiscador``: one row per contact shaped like the seed's example: every column twice,
  by position (``"0"``) and by name (``"id"``), in the example's order.
- ``statusdetalhado`` (``idmailing`` = the contact's ``id``): the seed's fields of the call
  that made the contact CONCLUIDO; ``[]`` for a contact that is not CONCLUIDO (the document
  only describes CONCLUIDO ones).
- ``deletediscador``: ``["Total Deletados", "N"]``.

STATUS follows the seed: AGUARDANDO (not dialled yet), Dialing (being dialled), CONCLUIDO
(answered and talked with an operator more than ``concluded_after`` seconds, 10 by default),
Descartado (tried, not concluded), EXCEDIDO (``max_tries`` tries, 5 by default, on each of its
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from sipclient.http.dialects import fields as f
from sipclient.http.errors import FieldError

AGUARDANDO, DIALING, CONCLUIDO, DESCARTADO, EXCEDIDO = (
    "AGUARDANDO", "Dialing", "CONCLUIDO", "Descartado", "EXCEDIDO")
STATUSES = (AGUARDANDO, DIALING, CONCLUIDO, DESCARTADO, EXCEDIDO)
OK = ["Status", "OK"]
CAMPAIGN_UNKNOWN = ["Status", "ID CAMPANHA NAO CADASTRADO"]
PHONES = 5
OPEN_FIELDS = ("endereco", "bairro", "cidade", "estado", "cep", "contato", "agente", "dpto",
               "conta") + tuple(f"gen{i}" for i in range(1, 23))
OPEN_MAX = 254
INSERT_FIELDS = ("idcampanha", "idcrm", "cliente", "cpf") + tuple(
    n for i in range(1, PHONES + 1) for n in (f"ddd{i}", f"tel{i}")) + OPEN_FIELDS
#: statusdiscador's columns, in the seed example's order (position = index)
ROW_COLUMNS = ("id", "cliente", "ddd", "numero", "endereco", "bairro", "cidade", "estado",
               "cep", "contato", "status", "agendamento", "inicialing", "ocorrencia",
               "datendimento", "obs", "agente", "dpto", "campanha", "tentativas", "conta",
               "cuje", "bina", "status_ligacao") + tuple(f"gen{i}" for i in range(1, 23)) + (
               "tab1", "tab2", "tab3", "cob", "id_registro", "tipo_de_chamada", "data_insert")
#: statusdetalhado's fields, in the seed example's order
DETAIL_FIELDS = ("id", "conta", "nomeoperador", "ramal", "tipo", "chamada", "datahora",
                 "duracao", "numero", "tempofila", "abandonoramal", "abandonofila",
                 "naoatendidas", "statuschamada", "grupo", "aguardouatendimento", "uniqueid",
                 "gravacao", "ip", "backup", "caminho", "time", "dac_aut", "nota_atendimento",
                 "t_chamando", "dialed_time", "tempo_pausa", "tempo_logado", "setor_nome",
                 "sidehangup", "cliente", "campanha", "id_mailing", "tronco", "codigo_conta",
                 "tipo_chamada", "operadora", "call_entrada", "ip_origem", "operadora_cadup",
                 "log", "tarifa", "modulacao", "nota_atendimento2", "valor_custo",
                 "valor_cobrado", "protocolo", "tag", "tamanho_gravacao", "v5", "ura", "ftp",
                 "enlace")
NEVER = "0000-00-00 00:00:00"
#: outcomes of one attempt (Asterisk's DIALSTATUS words)
ANSWER, NOANSWER, BUSY, CONGESTION = "ANSWER", "NOANSWER", "BUSY", "CONGESTION"


# --- requests --------------------------------------------------------------------------------

def campaign_id(params: Mapping[str, Any]) -> str:
    return f.digits(params, "idcampanha")


def parse_insert(params: Mapping[str, Any]) -> dict[str, Any]:
    """The contact of an ``insert``: its fields (strings) and ``phones`` [(ddd, tel)]."""
    campaign_id(params)
    contact: dict[str, Any] = {}
    for name in ("idcrm", "cliente", "cpf") + OPEN_FIELDS:
        value = params.get(name, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise FieldError(name, f"must be a string, got {type(value).__name__}")
        if len(value) > OPEN_MAX:
            raise FieldError(name, f"has {len(value)} characters, at most {OPEN_MAX}")
        contact[name] = value
    phones = []
    for i in range(1, PHONES + 1):
        ddd, tel = params.get(f"ddd{i}", ""), params.get(f"tel{i}", "")
        if ddd in ("", None) and tel in ("", None):
            continue
        if tel in ("", None):
            raise FieldError(f"tel{i}", f"is missing (ddd{i} is given)")
        if ddd in ("", None):
            raise FieldError(f"ddd{i}", f"is missing: the DDD is always apart from tel{i}")
        ddd = f.digits(params, f"ddd{i}", length=2)
        phones.append((ddd, f.digits(params, f"tel{i}")))
    if not phones:
        raise FieldError("tel1", "is missing: a contact needs at least ddd1 and tel1")
    contact["phones"] = phones
    return contact


def insert_params(idcampanha: str, phones: list[tuple[str, str]], **values: str
                  ) -> dict[str, str]:
    """``insert``'s fields (for ``pbx_api.request("insert", creds, **params)``): the phones
    as ``ddd1``/``tel1``... , checked like the PBX checks them."""
    params = {"idcampanha": str(idcampanha), **{k: str(v) for k, v in values.items()}}
    if len(phones) > PHONES:
        raise FieldError(f"tel{PHONES + 1}", f"a contact has at most {PHONES} numbers")
    for i, (ddd, tel) in enumerate(phones, 1):
        params[f"ddd{i}"], params[f"tel{i}"] = str(ddd), str(tel)
    unknown = set(params) - set(INSERT_FIELDS)
    if unknown:
        raise FieldError(sorted(unknown)[0], "is not one of insert's fields")
    parse_insert(params)
    return params


def check_ok(answer: Any, action: str = "insert") -> None:
    """``["Status","OK"]``, else :class:`HttpError` with the PBX's words."""
    from sipclient.http.errors import HttpError

    if answer != OK:
        shown = " ".join(answer[1:]) if isinstance(answer, list) else repr(answer)
        raise HttpError(f"{action} refused: {shown}")


def parse_deleted(answer: Any) -> int:
    """The count of ``["Total Deletados", "N"]``; :class:`HttpError` otherwise."""
    from sipclient.http.errors import HttpError

    if (not isinstance(answer, list) or len(answer) != 2 or answer[0] != "Total Deletados"
            or not str(answer[1]).isdigit()):
        shown = " ".join(map(str, answer[1:])) if isinstance(answer, list) else repr(answer)
        raise HttpError(f"deletediscador refused: {shown}")
    return int(answer[1])


def idmailing(params: Mapping[str, Any]) -> str:
    return f.digits(params, "idmailing")


def deleted(count: int) -> list[str]:
    return ["Total Deletados", str(count)]


# --- the campaign ------------------------------------------------------------------------------

@dataclass
class CampaignRules:
    """A campaign configured in the PBX (the twin). Defaults follow the seed where it says
    something (5 tries, CONCLUIDO after 10 s of talk); retries wait ``retry_after`` seconds
    per outcome (None: no retry after that outcome)."""

    id: str
    name: str = ""                     # ``campanha`` in statusdiscador (default: the id)
    operators: tuple[str, ...] = ()    # extensions that take answered calls
    queue: str = ""                    # or an app_queue queue
    max_tries: int = 5
    concluded_after: float = 10.0
    ring_timeout: float = 30.0
    concurrency: int = 1
    retry_after: dict[str, float | None] = field(default_factory=lambda: {
        NOANSWER: 300.0, BUSY: 300.0, CONGESTION: 300.0, ANSWER: 300.0})
    paused: bool = False

    def __post_init__(self) -> None:
        f.digits({"idcampanha": self.id}, "idcampanha")
        if not self.operators and not self.queue:
            raise ValueError(f"campaign {self.id}: give operators (extensions) or a queue")
        if self.max_tries < 1 or self.concurrency < 1:
            raise ValueError(f"campaign {self.id}: max_tries and concurrency must be >= 1")
        self.name = self.name or self.id


@dataclass
class Attempt:
    """One call to one of a contact's numbers."""

    contact_id: str
    number: str                        # ddd + tel
    ddd: str
    tel: str
    started: datetime
    uniqueid: str = ""
    gravacao: str = ""
    answered: datetime | None = None   # the contact answered
    ended: datetime | None = None
    outcome: str = ""                  # ANSWER (the operator too), NOANSWER, BUSY, CONGESTION
    talk: float = 0.0                  # seconds with the operator
    waited: float = 0.0                # seconds the answered contact waited for an operator
    operator: str = ""                 # the extension that answered
    side: str = ""                     # CLIENTE or OPERADOR (who hung up)
    recording_size: int = 0


@dataclass
class Contact:
    id: str
    campaign: str
    values: dict[str, str]
    phones: list[tuple[str, str]]
    inserted: datetime
    tries: list[int] = field(default_factory=list)
    status: str = AGUARDANDO
    due: datetime | None = None        # not before (a retry)
    attempts: list[Attempt] = field(default_factory=list)
    concluded: Attempt | None = None
    stopped: bool = False              # Descartado for good (no retry after that outcome)

    def __post_init__(self) -> None:
        self.tries = self.tries or [0] * len(self.phones)

    @property
    def total_tries(self) -> int:
        return sum(self.tries)

    def next_phone(self, max_tries: int) -> int | None:
        """The index of the number to dial next: the one tried least, below ``max_tries``."""
        open_ = [i for i, n in enumerate(self.tries) if n < max_tries]
        return min(open_, key=lambda i: (self.tries[i], i)) if open_ else None


class Campaign:
    """Contacts of one campaign and what the dialer does with them (pure)."""

    def __init__(self, rules: CampaignRules) -> None:
        self.rules = rules
        self.contacts: dict[str, Contact] = {}

    def insert(self, contact_id: str, contact: Mapping[str, Any], now: datetime) -> Contact:
        values = {k: v for k, v in contact.items() if k != "phones"}
        c = Contact(contact_id, self.rules.id, values, list(contact["phones"]), now)
        self.contacts[contact_id] = c
        return c

    def dialing(self) -> int:
        return sum(1 for c in self.contacts.values() if c.status == DIALING)

    def due(self, now: datetime) -> list[Contact]:
        """Contacts to dial now (oldest first), within the free lines; none when paused."""
        if self.rules.paused:
            return []
        free = self.rules.concurrency - self.dialing()
        ready = [c for c in self.contacts.values()
                 if c.status in (AGUARDANDO, DESCARTADO) and not c.stopped
                 and (c.due is None or c.due <= now)
                 and c.next_phone(self.rules.max_tries) is not None]
        return sorted(ready, key=lambda c: (c.due or c.inserted, c.id))[:max(free, 0)]

    def next_due(self) -> datetime | None:
        """When the next retry falls due (None: nothing waits on a time)."""
        times = [c.due for c in self.contacts.values()
                 if c.status == DESCARTADO and c.due and not c.stopped]
        return min(times) if times else None

    def start(self, contact: Contact, now: datetime) -> Attempt:
        index = contact.next_phone(self.rules.max_tries)
        if index is None:
            raise ValueError(f"contact {contact.id} has no number left to try")
        contact.tries[index] += 1
        ddd, tel = contact.phones[index]
        attempt = Attempt(contact.id, ddd + tel, ddd, tel, now)
        contact.attempts.append(attempt)
        contact.status = DIALING
        contact.due = None
        return attempt

    def finish(self, contact: Contact, attempt: Attempt, outcome: str, now: datetime,
               talk: float = 0.0) -> str:
        """Record how the attempt ended; returns the contact's new status."""
        attempt.ended, attempt.outcome, attempt.talk = now, outcome, talk
        if outcome == ANSWER and talk > self.rules.concluded_after:
            contact.status, contact.concluded = CONCLUIDO, attempt
            return contact.status
        if contact.next_phone(self.rules.max_tries) is None:
            contact.status = EXCEDIDO
            return contact.status
        contact.status = DESCARTADO
        wait = self.rules.retry_after.get(outcome)
        contact.stopped = wait is None     # no retry after that outcome
        contact.due = None if wait is None else now + timedelta(seconds=wait)
        return contact.status

    def delete(self) -> int:
        count = len(self.contacts)
        self.contacts.clear()
        return count


# --- answers -----------------------------------------------------------------------------------

def _fmt(moment: datetime | None) -> str:
    return f.fmt_datetime(moment) if moment else NEVER


def statusdiscador_row(contact: Contact, rules: CampaignRules) -> dict[str, str]:
    """One contact as the seed's example shows it: each column by position and by name."""
    last = contact.attempts[-1] if contact.attempts else None
    ddd, tel = (last.ddd, last.tel) if last else contact.phones[0]
    v = contact.values
    named: dict[str, str] = {name: "" for name in ROW_COLUMNS}
    named.update({k: v.get(k, "") for k in OPEN_FIELDS if k in named})
    answered = contact.concluded.answered if contact.concluded else None
    named.update({
        "id": contact.id, "cliente": v.get("cliente", ""), "ddd": ddd, "numero": tel,
        "status": contact.status, "agendamento": NEVER,
        "inicialing": f"{last.started:%H:%M:%S}" if last else "",
        "datendimento": _fmt(answered), "campanha": rules.name,
        "tentativas": str(contact.total_tries), "cuje": v.get("idcrm", ""),
        "status_ligacao": last.outcome if last and last.ended else "",
        "id_registro": contact.id, "tipo_de_chamada": "LOCAL",
        "data_insert": f.fmt_datetime(contact.inserted)})
    row: dict[str, str] = {}
    for index, name in enumerate(ROW_COLUMNS):
        row[str(index)] = named[name]
        row[name] = named[name]
    return row


def statusdetalhado(contact: Contact, rules: CampaignRules, operator_name: str = ""
                    ) -> dict[str, Any] | list[Any]:
    """The seed's fields for the call that concluded ``contact``; ``[]`` when none did."""
    a = contact.concluded
    if a is None:
        return []
    v = contact.values
    out: dict[str, Any] = {name: "" for name in DETAIL_FIELDS}
    out.update({
        "id": a.uniqueid.replace(".", ""), "conta": v.get("conta", ""),
        "nomeoperador": operator_name or a.operator, "ramal": a.operator, "tipo": "DISCADOR",
        "chamada": "S", "datahora": f.fmt_datetime(a.started), "duracao": str(round(a.talk)),
        "numero": a.number, "tempofila": None, "abandonoramal": None, "abandonofila": None,
        "naoatendidas": str(contact.total_tries - 1), "statuschamada": ANSWER,
        "grupo": rules.queue or ",".join(rules.operators),
        "aguardouatendimento": str(round(a.waited)), "uniqueid": a.uniqueid,
        "gravacao": a.gravacao,
        "dialed_time": str(round((a.answered - a.started).total_seconds()))
        if a.answered else "0",
        "tempo_pausa": "0", "tempo_logado": "0", "sidehangup": a.side,
        "cliente": v.get("cliente", ""), "campanha": rules.id, "id_mailing": contact.id,
        "codigo_conta": "--SEM CONTA", "tipo_chamada": "LOCAL", "call_entrada": a.number,
        "log": "1", "tamanho_gravacao": str(a.recording_size), "v5": "1",
        "enlace": "EXTERNA"})
    return out


def validate_statusdiscador(rows: Any) -> list[dict[str, Any]]:
    """A statusdiscador answer: a list of rows with every column by position and by name,
    each pair equal, and a known STATUS."""
    if not isinstance(rows, list):
        raise FieldError("statusdiscador", f"answer is not a list: {rows!r}"[:200])
    for index, row in enumerate(rows):
        where = f"statusdiscador[{index}]"
        for pos, name in enumerate(ROW_COLUMNS):
            f.require(row, name, where)
            if row.get(str(pos)) != row[name]:
                raise FieldError(str(pos), f"must equal {name!r} ({row[name]!r}), got "
                                 f"{row.get(str(pos))!r}", where=where)
        f.one_of(row, "status", STATUSES, where)
        f.integer(row, "tentativas", where)
        f.timestamp(row, "data_insert", where)
    return rows


def validate_statusdetalhado(obj: Any) -> dict[str, Any] | list[Any]:
    if obj == []:
        return []
    if not isinstance(obj, dict):
        raise FieldError("statusdetalhado", f"answer is not an object: {obj!r}"[:200])
    for name in DETAIL_FIELDS:
        f.require(obj, name, "statusdetalhado")
    f.timestamp(obj, "datahora", "statusdetalhado")
    f.integer(obj, "duracao", "statusdetalhado")
    return obj
