"""Lab configuration: ports, bind address, extensions and their credentials.

One :class:`LabConfig` drives everything the lab renders from ``docker/asterisk/*.tmpl``
(the native lab and the container use the same templates). Defaults mirror the cloud PBX:
SIP over UDP and TCP on 7048 with digest auth, WSS on 8089 path ``/ws``, RTP 10000-20000.
Standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

#: the repository root when running from a checkout (docker/asterisk lives there)
_REPO_ROOT = Path(__file__).resolve().parents[2]

#: variables read by :meth:`LabConfig.from_env` (``SIPCLIENT_LAB_<NAME>``)
ENV_PREFIX = "SIPCLIENT_LAB_"

#: container engines the lab can run in ("" picks the first that works, in this order)
ENGINES = ("", "podman", "docker")

_PORT_FIELDS = ("sip_port", "tls_port", "wss_port", "http_port", "ami_port")


def templates_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the Asterisk templates live: ``$SIPCLIENT_LAB_TEMPLATES`` or ``docker/asterisk``."""
    environ = os.environ if environ is None else environ
    override = environ.get(ENV_PREFIX + "TEMPLATES")
    if override:
        return Path(override)
    return _REPO_ROOT / "docker" / "asterisk"


def default_run_dir(name: str = "lab", cwd: Path | None = None,
                    environ: Mapping[str, str] | None = None,
                    writable: Callable[[Path], bool] | None = None) -> Path:
    """``./run/<name>`` of the current directory, never the package's own tree; when that is
    not writable (or too deep for Asterisk's control socket path), the per-user cache
    (``$XDG_CACHE_HOME/sipclient/<name>``, else ``~/.cache/sipclient/<name>``, else
    ``$TMPDIR/sipclient-<uid>/<name>``)."""
    environ = os.environ if environ is None else environ
    writable = writable or _writable_dir
    run = (Path.cwd() if cwd is None else Path(cwd)) / "run"
    if writable(run) and _socket_fits(run / name):
        return run / name
    for base in (environ.get("XDG_CACHE_HOME"),
                 str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else None):
        if base and writable(Path(base)) and _socket_fits(Path(base) / "sipclient" / name):
            return Path(base) / "sipclient" / name
    return Path(tempfile.gettempdir()) / f"sipclient-{os.getuid()}" / name


#: room kept for a run directory's suffixes (``-w3``, ``-2``) and ``/run/asterisk.ctl``
_CTL_ROOM = len("-gw10-99/run/asterisk.ctl")
#: a Unix socket path's limit (sun_path, with its NUL) on Linux
SOCKET_PATH_MAX = 107


def _socket_fits(run_dir: Path) -> bool:
    """Can Asterisk's control socket live under ``run_dir`` (its suffixes included)?"""
    return len(str(run_dir.absolute())) + _CTL_ROOM <= SOCKET_PATH_MAX


def _writable_dir(path: Path) -> bool:
    """``path`` exists and is writable, or can be made under a writable parent."""
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _range(first: int, last: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(first, last + 1))


@dataclass(frozen=True)
class Account:
    """One lab extension as a client sees it."""

    extension: str
    password: str
    realm: str
    webrtc: bool
    #: transport name -> where to register, e.g. ``{"udp": "sip:127.0.0.1:7048;transport=udp"}``
    transports: dict[str, str]
    domain: str

    @property
    def username(self) -> str:
        return self.extension

    @property
    def aor(self) -> str:
        return f"sip:{self.extension}@{self.domain}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "extension": self.extension,
            "username": self.username,
            "password": self.password,
            "realm": self.realm,
            "domain": self.domain,
            "aor": self.aor,
            "webrtc": self.webrtc,
            "transports": dict(self.transports),
        }


@dataclass(frozen=True)
class LabConfig:
    """Everything that differs between two labs running side by side."""

    run_dir: Path = field(default_factory=default_run_dir)
    #: address Asterisk binds (SIP, TLS, HTTP/WSS); AMI always binds ``ami_bind``
    bind: str = "127.0.0.1"
    #: the name clients use for the lab (certificate CN, URIs); a loopback address by default
    host: str = "127.0.0.1"
    sip_port: int = 7048
    tls_port: int = 5061
    wss_port: int = 8089
    http_port: int = 8088
    ami_port: int = 5038
    ami_bind: str = "127.0.0.1"
    #: who may log in to AMI (address/netmask)
    ami_permit: str = "127.0.0.0/255.0.0.0"
    rtp_start: int = 10000
    rtp_end: int = 20000
    realm: str = "asterisk"
    sip_extensions: tuple[str, ...] = _range(1001, 1020)
    webrtc_extensions: tuple[str, ...] = _range(2001, 2010)
    #: passwords are derived from this seed (stable across runs, differ per extension)
    password_seed: str = "sipclient-lab"
    ami_user: str = "lab"
    #: log every SIP message to the ``full`` log (``pjsip.conf`` ``debug=yes``)
    sip_debug: bool = True
    #: smallest REGISTER expiry accepted (the cloud's WebRTC client asks for 50 s)
    min_expires: int = 30
    #: seconds a digest nonce stays valid (pjsip auth ``nonce_lifetime``; Asterisk's 32)
    nonce_lifetime: int = 32
    dial_timeout: int = 60
    system_name: str = "sipclient-lab"
    #: seconds to wait for Asterisk to boot and its ports to answer
    boot_timeout: float = 60.0
    #: the lab runs elsewhere (the container as a CI service): never start or stop it here,
    #: reach it at ``host`` and run CLI commands through AMI
    external: bool = False
    #: run Asterisk in a container built from docker/Dockerfile (sipclient.lab.container),
    #: with host networking and this run directory mounted at the same path
    container: bool = False
    #: the container engine: "podman", "docker" or "" (the first of them that works)
    engine: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_dir", Path(self.run_dir).expanduser().absolute())
        for name in _PORT_FIELDS + ("rtp_start", "rtp_end", "nonce_lifetime"):
            value = int(getattr(self, name))
            if not 0 < value < 65536:
                raise ValueError(f"{name} out of range: {value}")
            object.__setattr__(self, name, value)
        if self.rtp_start > self.rtp_end:
            raise ValueError("rtp_start must not exceed rtp_end")
        ports = [getattr(self, n) for n in _PORT_FIELDS]
        if len(set(ports)) != len(ports):
            raise ValueError(f"lab ports must differ: {dict(zip(_PORT_FIELDS, ports))}")
        object.__setattr__(self, "sip_extensions", tuple(str(e) for e in self.sip_extensions))
        object.__setattr__(
            self, "webrtc_extensions", tuple(str(e) for e in self.webrtc_extensions)
        )
        if set(self.sip_extensions) & set(self.webrtc_extensions):
            raise ValueError("an extension cannot be both SIP and WebRTC")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown container engine {self.engine!r} (podman or docker)")

    # --- derived values ---------------------------------------------------------------------

    def password(self, extension: str) -> str:
        """The lab password of ``extension`` (stable, derived from ``password_seed``)."""
        digest = hashlib.sha256(f"{self.password_seed}:{extension}".encode()).hexdigest()
        return "lab" + digest[:13]

    @property
    def ami_secret(self) -> str:
        return self.password("ami:" + self.ami_user)

    @property
    def probe_host(self) -> str:
        """Where to connect to reach the lab from this machine."""
        if self.external:
            return self.host
        return "127.0.0.1" if self.bind in ("0.0.0.0", "", "*") else self.bind

    @property
    def uri_host(self) -> str:
        """``host`` as written in a URI: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def asterisk_conf(self) -> Path:
        return self.run_dir / "etc" / "asterisk.conf"

    @property
    def cert_file(self) -> Path:
        return self.run_dir / "tls" / "lab.crt"

    @property
    def key_file(self) -> Path:
        return self.run_dir / "tls" / "lab.key"

    def endpoints(self) -> dict[str, str]:
        """Transport name -> address clients use (an IPv6 host in brackets)."""
        h = f"[{self.host}]" if ":" in self.host else self.host
        return {
            "udp": f"sip:{h}:{self.sip_port};transport=udp",
            "tcp": f"sip:{h}:{self.sip_port};transport=tcp",
            "tls": f"sip:{h}:{self.tls_port};transport=tls",
            "ws": f"ws://{h}:{self.http_port}/ws",
            "wss": f"wss://{h}:{self.wss_port}/ws",
            "ami": f"{self.ami_bind}:{self.ami_port}",
            "rtp": f"{self.rtp_start}-{self.rtp_end}",
        }

    def accounts(self) -> list[Account]:
        ends = self.endpoints()
        out = []
        for ext in self.sip_extensions:
            transports = {k: ends[k] for k in ("udp", "tcp", "tls")}
            out.append(Account(ext, self.password(ext), self.realm, False, transports,
                               self.uri_host))
        for ext in self.webrtc_extensions:
            transports = {k: ends[k] for k in ("wss", "ws")}
            out.append(Account(ext, self.password(ext), self.realm, True, transports,
                               self.uri_host))
        return out

    # --- variants ------------------------------------------------------------------------------

    def replace(self, **changes: Any) -> "LabConfig":
        return dataclasses.replace(self, **changes)

    def with_port_offset(self, offset: int) -> "LabConfig":
        """The same lab with every listening port (not the RTP range) shifted by ``offset``."""
        if not offset:
            return self
        return self.replace(**{n: getattr(self, n) + offset for n in _PORT_FIELDS})

    # --- (de)serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["sip_extensions"] = list(self.sip_extensions)
        data["webrtc_extensions"] = list(self.webrtc_extensions)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LabConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("sip_extensions", "webrtc_extensions"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> "LabConfig":
        """Defaults, then ``SIPCLIENT_LAB_*`` variables, then ``overrides`` (None ignored).

        Variables: RUN_DIR, BIND, HOST, AMI_BIND, AMI_PERMIT, EXTERNAL (1: the lab runs
        elsewhere, e.g. the container as a CI service, reached at HOST), CONTAINER (1: start
        the lab in a container), ENGINE (podman or docker), SIP_PORT, TLS_PORT, WSS_PORT, HTTP_PORT, AMI_PORT,
        RTP_START, RTP_END, NONCE_LIFETIME, REALM, SIP_EXTENSIONS / WEBRTC_EXTENSIONS (``1001-1020`` or a
        comma list), PORT_OFFSET (added to every listening port).
        """
        environ = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for name in ("run_dir", "bind", "host", "realm", "password_seed", "ami_bind",
                     "ami_permit"):
            value = environ.get(ENV_PREFIX + name.upper())
            if value:
                kwargs[name] = value
        for name in _PORT_FIELDS + ("rtp_start", "rtp_end", "nonce_lifetime"):
            value = environ.get(ENV_PREFIX + name.upper())
            if value:
                kwargs[name] = int(value)
        for name in ("sip_extensions", "webrtc_extensions"):
            value = environ.get(ENV_PREFIX + name.upper())
            if value is not None:
                kwargs[name] = parse_extensions(value)
        for name in ("external", "container"):
            if environ.get(ENV_PREFIX + name.upper(), "") not in ("", "0", "no", "false"):
                kwargs[name] = True
        if environ.get(ENV_PREFIX + "ENGINE"):
            kwargs["engine"] = environ[ENV_PREFIX + "ENGINE"]
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        if "host" not in kwargs and kwargs.get("bind") not in (None, "0.0.0.0", "", "*"):
            kwargs["host"] = kwargs["bind"]
        config = cls(**kwargs)
        offset = int(environ.get(ENV_PREFIX + "PORT_OFFSET") or 0)
        return config.with_port_offset(offset)


def parse_extensions(text: str) -> tuple[str, ...]:
    """``"1001-1003,1010"`` -> ``("1001", "1002", "1003", "1010")``; empty -> ``()``."""
    out: list[str] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            first, last = part.split("-", 1)
            out.extend(_range(int(first), int(last)))
        else:
            out.append(part)
    return tuple(out)
