import os
import sys

_HERE = os.path.dirname(__file__)
if not os.path.exists(os.path.join(_HERE, "..", "..", "sipclient", "proto", "framer.py")):
    sys.path.insert(0, _HERE)
    import _stub_proto

    _stub_proto.install()

import subprocess  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402


@dataclass(frozen=True)
class Cert:
    cert: str
    key: str


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory) -> Cert:
    """A self-signed certificate for localhost and 127.0.0.1, like the lab's."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return Cert(str(cert), str(key))
