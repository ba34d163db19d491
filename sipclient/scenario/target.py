"""The PBX under test: where agents connect per transport, and its accounts.

Three ways to get one:

* :meth:`Target.from_lab` - the built-in Asterisk lab (its self-signed certificate makes it
  the only target that is ``insecure`` by default);
* :meth:`Target.from_profile` - a YAML profile (docs/scenarios.md, "Targets and profiles"):
  ``target``, ``domain``, ``transports``, ``insecure``, ``ca_file``, ``accounts`` with
  ``password_file`` (first line; ``~`` expanded, relative to the profile) or
  ``password_env``;
* :meth:`Target.from_string` - a bare target (``udp:pbx.example.net:7048``), no accounts.

Passwords are :class:`~sipclient.agent.Secret` values from the moment they are read.
Errors are :class:`ProfileError` (a ``ValueError``) naming the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sipclient.agent import Secret
from sipclient.io.target import TargetError, parse_target

__all__ = ["Account", "ProfileError", "Target", "TRANSPORTS"]

TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")
_PROFILE_KEYS = {"target", "domain", "transports", "insecure", "ca_file", "accounts", "hep"}
_HEP_KEYS = {"target", "capture_id", "auth_key_env", "auth_key_file"}
_ACCOUNT_KEYS = {"password", "password_file", "password_env", "user", "auth_user", "domain"}


class ProfileError(ValueError):
    """A target or profile that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Account:
    """One extension of the target: user, password, digest user, domain."""

    extension: str
    user: str
    password: Secret | None
    auth_user: str | None = None
    domain: str | None = None
    webrtc: bool = False


@dataclass(frozen=True)
class Target:
    """The PBX: ``servers`` maps a transport to a target string the agent accepts."""

    host: str
    domain: str
    port: int
    servers: dict[str, str]
    insecure: bool = False
    ca_file: str | None = None
    accounts: dict[str, Account] = field(default_factory=dict)
    name: str = "target"
    #: HEP3 to Homer for every agent (:class:`sipclient.pcap.hep.HepSettings`), or None
    hep: Any = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_lab(cls, lab: Any) -> Target:
        """The lab (``sipclient.lab.Lab``): every transport, every extension; insecure
        (its certificate is self-signed), with the lab's certificate as CA file."""
        c = lab.config
        h = c.probe_host
        servers = {"udp": f"udp:{h}:{c.sip_port}", "tcp": f"tcp:{h}:{c.sip_port}",
                   "tls": f"tls:{h}:{c.tls_port}", "ws": f"ws://{h}:{c.http_port}/ws",
                   "wss": f"wss://{h}:{c.wss_port}/ws"}
        accounts = {a.extension: Account(a.extension, a.extension, Secret(a.password),
                                         None, a.domain, bool(a.webrtc))
                    for a in lab.accounts()}
        cert = getattr(c, "cert_file", None)
        return cls(host=h, domain=c.host, port=c.sip_port, servers=servers, insecure=True,
                   ca_file=str(cert) if cert else None, accounts=accounts, name="lab")

    @classmethod
    def from_string(cls, text: str, insecure: bool = False, *, domain: str | None = None
                    ) -> Target:
        """A bare target (any form :func:`sipclient.io.target.parse_target` accepts); UDP
        and TCP share its port when only one of them is given."""
        try:
            t = parse_target(text)
        except TargetError as exc:
            raise ProfileError(str(exc)) from None
        servers = {t.transport: text}
        _derive(servers, t)
        return cls(host=t.host, domain=domain or t.host, port=t.port, servers=servers,
                   insecure=insecure, name=text)

    @classmethod
    def from_profile(cls, path: str | os.PathLike[str], *, insecure: bool | None = None,
                     environ: dict[str, str] | None = None) -> Target:
        """Read a YAML profile (see the module docstring)."""
        path = Path(path).expanduser()
        env = os.environ if environ is None else environ
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ProfileError(f"profile {where}: cannot read it: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ProfileError(f"profile {where}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ProfileError(f"profile {where}: expected a mapping with target: and "
                               "accounts:")
        _known_keys_only(data, _PROFILE_KEYS, f"profile {where}")
        if not data.get("target"):
            raise ProfileError(f"profile {where}: target: is missing (e.g. "
                               "udp:pbx.example.net:7048)")
        try:
            main = parse_target(str(data["target"]))
        except TargetError as exc:
            raise ProfileError(f"profile {where}: target: {exc}") from None
        servers = {main.transport: str(data["target"])}
        transports = data.get("transports") or {}
        if not isinstance(transports, dict):
            raise ProfileError(f"profile {where}: transports: expected a mapping "
                               "{tcp: ..., wss: ...}")
        for name, server in transports.items():
            key = str(name).lower()
            if key not in TRANSPORTS:
                raise ProfileError(f"profile {where}: transports.{name}: not a transport "
                                   f"({', '.join(TRANSPORTS)})")
            try:
                t = parse_target(str(server))
            except TargetError as exc:
                raise ProfileError(f"profile {where}: transports.{name}: {exc}") from None
            if t.transport != key:
                raise ProfileError(f"profile {where}: transports.{name}: {server!r} is a "
                                   f"{t.transport} target, not {key}")
            servers[key] = str(server)
        _derive(servers, main)
        domain = str(data.get("domain") or main.host)
        ca_file = data.get("ca_file")
        if ca_file is not None:
            ca = _relative(path, str(ca_file))
            if not ca.is_file():
                raise ProfileError(f"profile {where}: ca_file: {ca} does not exist")
            ca_file = str(ca)
        accounts_data = data.get("accounts") or {}
        if not isinstance(accounts_data, dict):
            raise ProfileError(f"profile {where}: accounts: expected a mapping "
                               "extension -> {password_file: ...}")
        accounts = {}
        for ext, spec in accounts_data.items():
            ext = str(ext)
            accounts[ext] = _account(where, path, ext, spec or {}, env, domain)
        hep = None
        if data.get("hep") is not None:
            hep = hep_settings(data["hep"], f"profile {where}: hep", env, path)
        return cls(host=main.host, domain=domain, port=main.port, servers=servers,
                   insecure=bool(data.get("insecure", False)) if insecure is None else insecure,
                   ca_file=ca_file, accounts=accounts, name=str(path), hep=hep)

    # ------------------------------------------------------------------ use

    def server(self, transport: str) -> str:
        """The target string for ``transport``; ProfileError when the target has none."""
        transport = transport.lower()
        if transport not in TRANSPORTS:
            raise ProfileError(f"transport {transport!r}: one of {', '.join(TRANSPORTS)}")
        try:
            return self.servers[transport]
        except KeyError:
            raise ProfileError(
                f"the target {self.name} has no {transport} server (known: "
                f"{', '.join(sorted(self.servers))}; a profile adds one with "
                f"transports: {{{transport}: ...}})") from None

    def account(self, extension: str | int) -> Account:
        try:
            return self.accounts[str(extension)]
        except KeyError:
            known = ", ".join(sorted(self.accounts)[:12]) or "none"
            raise ProfileError(f"the target {self.name} has no account {extension} "
                               f"(accounts: {known})") from None

    def facts(self) -> dict[str, Any]:
        """``${target.*}``: host, domain, port, tls_port, ws_port, wss_port and the server
        of each transport it has (``${target.udp}``...)."""
        out: dict[str, Any] = {"host": self.host, "domain": self.domain, "port": self.port}
        for name in ("tls", "ws", "wss"):
            if name in self.servers:
                out[f"{name}_port"] = parse_target(self.servers[name]).port
        out.update(self.servers)
        return out


def hep_settings(value: Any, where: str, environ: Any, base: Path | None = None) -> Any:
    """``udp:HOST:PORT`` or ``{target, capture_id, auth_key_env, auth_key_file}`` (a
    profile's ``hep:``, ``sipclient run --hep``) -> :class:`~sipclient.pcap.hep.HepSettings`;
    the key from the environment or a file (relative to the profile ``base``), never in the
    profile itself. :class:`ProfileError` naming ``where``."""
    from sipclient.pcap.hep import DEFAULT_CAPTURE_ID, HepError, HepSettings

    spec = {"target": value} if isinstance(value, str) else value
    if not isinstance(spec, dict) or not spec.get("target"):
        raise ProfileError(f"{where}: expected udp:HOST:PORT or a mapping with target: "
                           "(and capture_id, auth_key_env or auth_key_file)")
    _known_keys_only(spec, _HEP_KEYS, where)
    key = None
    if spec.get("auth_key_file"):
        key_path = _relative(base, str(spec["auth_key_file"])) if base else \
            Path(str(spec["auth_key_file"])).expanduser()
        try:
            key = key_path.read_text(encoding="utf-8").splitlines()[0].strip() or None
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            raise ProfileError(f"{where}.auth_key_file: cannot read {key_path}: "
                               f"{getattr(exc, 'strerror', None) or 'empty'}") from None
    elif spec.get("auth_key_env"):
        key = environ.get(str(spec["auth_key_env"]))
        if key is None:
            raise ProfileError(f"{where}.auth_key_env: {spec['auth_key_env']} is not set")
    else:
        key = environ.get("SIPCLIENT_HEP_KEY")
    capture_id = spec.get("capture_id")
    try:
        return HepSettings(str(spec["target"]),
                           DEFAULT_CAPTURE_ID if capture_id is None else int(capture_id), key)
    except (HepError, ValueError) as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _derive(servers: dict[str, str], t: Any) -> None:
    """UDP and TCP on the same host and port unless given (the usual PBX setup)."""
    host = f"[{t.host}]" if ":" in t.host else t.host
    if t.transport == "udp":
        servers.setdefault("tcp", f"tcp:{host}:{t.port}")
    elif t.transport == "tcp":
        servers.setdefault("udp", f"udp:{host}:{t.port}")


def _known_keys_only(mapping: dict[Any, Any], known: set[str], place: str) -> None:
    """Raise ProfileError ``PLACE: unknown key ...`` for the first key not in ``known``."""
    unknown = sorted(set(map(str, mapping)) - known)
    if unknown:
        raise ProfileError(f"{place}: unknown key {unknown[0]!r} (known: "
                           f"{', '.join(sorted(known))})")


def _relative(profile: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else profile.parent / p


def _account(where: str, path: Path, ext: str, spec: Any, env: Any, domain: str) -> Account:
    key = f"accounts.{ext}"
    if not isinstance(spec, dict):
        raise ProfileError(f"profile {where}: {key}: expected a mapping "
                           "{password_file: ...} or {password_env: ...}")
    _known_keys_only(spec, _ACCOUNT_KEYS, f"profile {where}: {key}")
    given = [k for k in ("password", "password_file", "password_env") if spec.get(k)]
    if len(given) > 1:
        raise ProfileError(f"profile {where}: {key}: give one of password_file, "
                           f"password_env (not {' and '.join(given)})")
    password: Secret | None = None
    if spec.get("password_file"):
        file = _relative(path, str(spec["password_file"]))
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"profile {where}: {key}.password_file: cannot read {file}: "
                               f"{exc.strerror}") from None
        first = text.splitlines()[0].strip() if text.strip() else ""
        if not first:
            raise ProfileError(f"profile {where}: {key}.password_file: {file} is empty")
        password = Secret(first)
    elif spec.get("password_env"):
        name = str(spec["password_env"])
        if not env.get(name):
            raise ProfileError(f"profile {where}: {key}.password_env: the environment "
                               f"variable {name} is not set")
        password = Secret(env[name])
    elif spec.get("password"):
        password = Secret(str(spec["password"]))
    return Account(ext, str(spec.get("user") or ext), password,
                   str(spec["auth_user"]) if spec.get("auth_user") else None,
                   str(spec.get("domain") or domain))
