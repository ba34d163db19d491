"""The Asterisk lab: render templates, start, stop and inspect a real Asterisk.

    from sipclient.lab import Lab, LabConfig
    with Lab(LabConfig(run_dir="run/mylab", sip_port=7148)) as lab:
        lab.account(1001).password
        lab.cli("pjsip show endpoints")
        lab.contacts("1001")

See docs/lab.md. Standard library only (the container runs it with a bare python3).
"""

from sipclient.lab.config import Account, LabConfig, default_run_dir, parse_extensions
from sipclient.lab.errors import AsteriskNotInstalled, LabError
from sipclient.lab.runner import Contact, Lab, LabStatus, find_asterisk

__all__ = [
    "Account",
    "AsteriskNotInstalled",
    "Contact",
    "Lab",
    "LabConfig",
    "LabError",
    "LabStatus",
    "default_run_dir",
    "find_asterisk",
    "parse_extensions",
]
