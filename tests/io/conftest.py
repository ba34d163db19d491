"""Fixtures for the transport tests: a self-signed certificate made with the openssl CLI."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest


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
