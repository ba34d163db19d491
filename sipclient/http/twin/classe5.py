"""seed 001's ``bloqueioclasse5`` in the twin (issue 20): block or unblock the lab's one
Classe5 tenant (``logincliente``, ``"lab"`` unless configured otherwise).

BLOQUEAR writes ``<lab>/etc/lab-classe5.conf`` with ``deny`` rules for every address; the
endpoint templates of pjsip.conf include that file, and ``module reload res_pjsip.so``
applies it: from then on Asterisk 16 answers the tenant's REGISTER and INVITE that carry
credentials with a new ``401 Unauthorized`` challenge (the endpoint ACL check fails after the
digest succeeded; its log says "ACL"), so a phone sees its credentials refused.
DESBLOQUEAR empties the file and reloads. The answer is ``["Status","OK"]``; an unknown ``logincliente`` gets ``["Status","Login Cliente
Invalido"]`` and a ``classe5acao`` other than BLOQUEAR/DESBLOQUEAR a FieldError (the
document shows neither answer: these are the twin's).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Mapping

from sipclient.http.dialects import fields as f
from sipclient.http.twin.ami import AmiClient, AmiError

ACTIONS = ("BLOQUEAR", "DESBLOQUEAR")
OK = ["Status", "OK"]
UNKNOWN_TENANT = ["Status", "Login Cliente Invalido"]
FILE = "lab-classe5.conf"
DENY = ("; written by the HTTP twin: bloqueioclasse5 BLOQUEAR\n"
        "deny = 0.0.0.0/0.0.0.0\ndeny = ::/0\n")


def parse(params: Mapping[str, Any]) -> tuple[str, str]:
    login = f.text(params, "logincliente", empty=False)
    action = f.one_of({"classe5acao": str(params.get("classe5acao", "")).upper()},
                      "classe5acao", ACTIONS)
    return login, action


async def apply(ami: AmiClient, etc: Path, blocked: bool) -> None:
    """Write (or empty) the deny rules and have Asterisk reload its PJSIP configuration."""
    path = etc / FILE
    await asyncio.to_thread(path.write_text, DENY if blocked else "; not blocked\n")
    reply = await ami.action("Command", Command="module reload res_pjsip.so")
    if reply.get("Response") not in ("Success", "Follows"):
        raise AmiError(f"reloading res_pjsip failed: {reply.get('Message', '')}")
