"""The PBX HTTP integration surface (issue 9): dialect clients, webhook receivers, the lab twin.

See docs/http.md. The package logs (refusals, failed webhook pushes) to the
``sipclient.http`` logger; like any library it leaves the handlers to the application
(``sipclient http twin up`` prints them on stderr).
"""

import logging

logging.getLogger("sipclient.http").addHandler(logging.NullHandler())
