"""Render ``docker/asterisk/*.tmpl`` into a run directory and make the lab's certificate.

Templates use ``{{name}}`` placeholders (Asterisk's own ``${VAR}`` syntax passes through
untouched). ``NAME.conf.tmpl`` renders to ``<run_dir>/etc/NAME.conf``; ``partial-*.tmpl``
are rendered once per extension and spliced into ``pjsip.conf``. An unknown placeholder is
an error, so a template and :class:`~sipclient.lab.config.LabConfig` cannot drift apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from sipclient.lab.config import LabConfig, templates_dir
from sipclient.lab.errors import LabError

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

#: read-only system directories of the Debian asterisk package
MOD_DIR = "/usr/lib/asterisk/modules"
DATA_DIR = "/usr/share/asterisk"

#: run-directory sub-directories Asterisk writes to
RUN_SUBDIRS = ("etc", "lib", "keys", "tls", "spool", "run", "log", "log/cdr-csv", "log/cdr-custom",
               "cache")


def fill(text: str, values: Mapping[str, object], *, source: str = "template") -> str:
    """Replace every ``{{name}}`` in ``text``; unknown names raise :class:`LabError`."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise LabError(f"{source}: unknown placeholder {{{{{name}}}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(sub, text)


def template_values(config: LabConfig, mod_dir: str = MOD_DIR, data_dir: str = DATA_DIR) -> dict[str, object]:
    return {
        "run_dir": config.run_dir,
        "mod_dir": mod_dir,
        "data_dir": data_dir,
        "system_name": config.system_name,
        "bind": config.bind,
        # an address with its port in pjsip.conf/http.conf: IPv6 in brackets ([::1]:7048)
        "bind_host": f"[{config.bind}]" if ":" in config.bind else config.bind,
        "rtp_ipv6": "yes" if ":" in config.bind else "no",
        "host": config.host,
        "sip_port": config.sip_port,
        "tls_port": config.tls_port,
        "wss_port": config.wss_port,
        "http_port": config.http_port,
        "ami_port": config.ami_port,
        "ami_bind": config.ami_bind,
        "ami_user": config.ami_user,
        "ami_permit": config.ami_permit,
        "ami_secret": config.ami_secret,
        "rtp_start": config.rtp_start,
        "rtp_end": config.rtp_end,
        "realm": config.realm,
        "sip_debug": "yes" if config.sip_debug else "no",
        "min_expires": config.min_expires,
        "dial_timeout": config.dial_timeout,
        "cert_file": config.cert_file,
        "key_file": config.key_file,
    }


def render(config: LabConfig, templates: Path | None = None) -> list[Path]:
    """Write ``<run_dir>/etc/*.conf`` from the templates; returns the files written."""
    templates = templates or templates_dir()
    if not templates.is_dir():
        raise LabError(f"lab templates not found in {templates} (set SIPCLIENT_LAB_TEMPLATES)")
    run_dir = config.run_dir
    for sub in RUN_SUBDIRS:
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    values = template_values(config)

    def partial(name: str, ext: str) -> str:
        path = templates / name
        return fill(path.read_text(), {"ext": ext, "password": config.password(ext), **values},
                    source=name)

    values["endpoints"] = "".join(
        [partial("partial-pjsip-endpoint.tmpl", e) for e in config.sip_extensions]
        + [partial("partial-pjsip-webrtc.tmpl", e) for e in config.webrtc_extensions]
    ).rstrip("\n")
    values["local_extensions"] = "\n".join(
        f"exten => {e},1,Goto(lab-dial,${{EXTEN}},1)"
        for e in config.sip_extensions + config.webrtc_extensions
    )
    etc = run_dir / "etc"
    for old in etc.glob("*.conf"):
        old.unlink()
    written = []
    for tmpl in sorted(templates.glob("*.conf.tmpl")):
        target = etc / tmpl.name[: -len(".tmpl")]
        target.write_text(fill(tmpl.read_text(), values, source=tmpl.name))
        written.append(target)
    (etc / "pjsip.conf").chmod(0o600)
    (etc / "manager.conf").chmod(0o600)
    return written


def ensure_certificate(config: LabConfig, openssl: str | None = None) -> Path:
    """A self-signed certificate for TLS, WSS and DTLS; CN = ``config.host``.

    Re-used while it exists for the same host; ``<run_dir>/keys/lab.crt`` doubles as the CA
    file clients verify against (it is its own issuer, with CA:TRUE).
    """
    cert, key = config.cert_file, config.key_file
    stamp = cert.with_suffix(".host")
    if cert.exists() and key.exists() and stamp.exists() and stamp.read_text() == config.host:
        return cert
    openssl = openssl or shutil.which("openssl")
    if not openssl:
        raise LabError("openssl not found: run `make lab-deps`")
    cert.parent.mkdir(parents=True, exist_ok=True)
    sans = ["DNS:localhost", "IP:127.0.0.1"]
    host = config.host
    if re.fullmatch(r"[0-9.]+", host) or ":" in host:
        entry = f"IP:{host}"
    else:
        entry = f"DNS:{host}"
    if entry not in sans:
        sans.insert(0, entry)
    cmd = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-days", "825", "-subj", f"/CN={host}/O=sipclient lab",
        "-addext", "subjectAltName=" + ",".join(sans),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-keyout", str(key), "-out", str(cert),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise LabError(f"openssl failed to make the lab certificate: {done.stderr.strip()}")
    key.chmod(0o600)
    stamp.write_text(host)
    return cert
