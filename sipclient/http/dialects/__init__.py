"""The documented dialects, as pure code: request builders, answer parsers, payload validators.

One module per vendor document (``/work/shared/seeds/00N_*.txt``):

- :mod:`.seed000` click-to-call (``ramal``/``numero``/``key``) and the CDR POST it pushes;
- :mod:`.seed001` the JSON API (``acao`` with login/senha/token: clicktocall, statusramais,
  statusreport, statusoperacoes), its ``["Status", ...]`` answers and recording paths;
- :mod:`.seed002` the JSON push (start, end, transfer) with its ``token`` header;
- :mod:`.seed003` the REST click-to-call, call status, active call and its webhook events;
- :mod:`.seed004` the MiniCRM CallLog API and its ``{"Skipped", "Processed", "Exists"}`` answer.

Nothing here does I/O or reads a clock: times are parameters.
"""

DIALECTS = ("seed000", "seed001", "seed002", "seed003", "seed004")
