"""The documented dialects, as pure code: request builders, answer parsers, payload validators.

One module per vendor document (``/work/shared/seeds/00N_*.txt``), named for what it is:

- :mod:`.krolik` (seed 000): Krolik KIP's click-to-call (``ramal``/``numero``/``key``) and
  the CDR POST it pushes;
- :mod:`.pbx_api` (seed 001): the PBX's JSON API (``acao`` with login/senha/token:
  clicktocall, statusramais, statusreport, statusoperacoes, the dialer), its
  ``["Status", ...]`` answers and recording paths;
- :mod:`.pbx55` (seed 002): 55pbx's JSON push to the CRM (start, end, transfer) with its
  ``token`` header;
- :mod:`.rest_c2c` (seed 003): the REST click-to-call, call status, active call and its
  ``call.dialing``/``call.hangup`` webhook events;
- :mod:`.minicrm` (seed 004): MiniCRM's CallLog API and its ``{"Skipped", "Processed",
  "Exists"}`` answer.

Scenarios, the CLI and the receivers' URLs name a dialect by its seed (``seed000`` ...,
what users type); the CLI also takes the module's name (``--dialect krolik``).
Nothing here does I/O or reads a clock: times are parameters.
"""

#: dialect id (what scenarios and the CLI say) -> the module that implements it
DIALECTS: dict[str, str] = {"seed000": "krolik", "seed001": "pbx_api", "seed002": "pbx55",
                            "seed003": "rest_c2c", "seed004": "minicrm"}


def dialect_id(name: str) -> str:
    """``seed000`` or ``krolik`` (any case) -> ``seed000``; ValueError naming both forms."""
    key = name.strip().lower()
    if key in DIALECTS:
        return key
    for ident, module in DIALECTS.items():
        if key == module:
            return ident
    known = ", ".join(f"{i} ({m})" for i, m in DIALECTS.items())
    raise ValueError(f"unknown dialect {name!r} (known: {known})")
