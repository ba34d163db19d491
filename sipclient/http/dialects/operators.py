"""seed 001's ``statusoperacoes`` (issue 20): operators' login, logout and pauses.

The document names the action ("informações detalhadas de Login, Logout e pausas dos
operadores", from ``datainicial``) but prints no answer, so the rows are the twin's own, in
the vocabulary of its other answers: ``id``, ``ramal``, ``nomeoperador``, ``fila``, ``acao``
(LOGIN, LOGOUT, PAUSA, FIMPAUSA), ``datahora`` (``YYYY-MM-DD hh:mm:ss``), ``motivo`` (the
pause reason) and ``duracao`` (seconds logged in, for a LOGOUT; seconds paused, for a
FIMPAUSA; else "0"). They come from app_queue's AMI events (QueueMemberAdded, -Removed,
-Pause); :class:`OperatorLog` is pure (the caller gives each event's time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sipclient.http.dialects import fields as f
from sipclient.http.errors import FieldError

ACTIONS = ("LOGIN", "LOGOUT", "PAUSA", "FIMPAUSA")
ROW_FIELDS = ("id", "ramal", "nomeoperador", "fila", "acao", "datahora", "motivo", "duracao")


@dataclass
class OperatorLog:
    rows: list[dict[str, str]] = field(default_factory=list)
    _since: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def on_event(self, msg: Mapping[str, str], now: datetime) -> dict[str, str] | None:
        """The row an app_queue member event makes (None for other events)."""
        event = msg.get("Event", "")
        if event == "QueueMemberAdded":
            action = "LOGIN"
        elif event == "QueueMemberRemoved":
            action = "LOGOUT"
        elif event == "QueueMemberPause":
            action = "PAUSA" if msg.get("Paused") == "1" else "FIMPAUSA"
        else:
            return None
        interface = msg.get("Interface", "") or msg.get("StateInterface", "")
        ramal = interface.split("/", 1)[-1]
        queue = msg.get("Queue", "")
        opened = {"LOGOUT": "LOGIN", "FIMPAUSA": "PAUSA"}.get(action)
        duration = 0.0
        if opened:
            start = self._since.pop((opened, queue, ramal), None)
            duration = (now - start).total_seconds() if start else 0.0
        else:
            self._since[(action, queue, ramal)] = now
        row = {"id": str(len(self.rows) + 1), "ramal": ramal,
               "nomeoperador": msg.get("MemberName", "") or ramal, "fila": queue,
               "acao": action, "datahora": f.fmt_datetime(now),
               "motivo": (msg.get("PausedReason", "") or msg.get("Reason", ""))
               if action == "PAUSA" else "",
               "duracao": str(round(duration))}
        self.rows.append(row)
        return row

    def since(self, moment: datetime) -> list[dict[str, str]]:
        return [r for r in self.rows if f.timestamp(r, "datahora") >= moment]


def validate(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise FieldError("statusoperacoes", f"answer is not a list: {rows!r}"[:200])
    for index, row in enumerate(rows):
        where = f"statusoperacoes[{index}]"
        for name in ROW_FIELDS:
            f.require(row, name, where)
        f.one_of(row, "acao", ACTIONS, where)
        f.timestamp(row, "datahora", where)
        f.integer(row, "duracao", where)
    return rows
