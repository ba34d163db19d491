"""A Kamailio lab: digest registrar and record-routing proxy, started from a run directory.

    lab = KamailioLab(run_dir)    # a free port, the Asterisk lab's accounts, realm "asterisk"
    lab = KamailioLab(run_dir, sip_port, accounts, realm)   # accounts: {"1001": "password"}
    lab.up()            # renders docker/kamailio/kamailio.cfg.tmpl, starts, waits for OPTIONS
    ...                 # register to udp:127.0.0.1:<sip_port> or tcp:..., call each other
    lab.down()          # SIGTERM, then SIGKILL; logs stay in <run_dir>/kamailio.log

Kamailio (Debian ``kamailio``, 5.6) keeps registrations in memory (usrloc ``db_mode`` 0),
checks REGISTER with digest (``www_challenge``) against ``accounts`` (an htable filled at
start: no database), and, when ``auth_invite`` is set, INVITEs from the accounts too
(``proxy_challenge``). It record-routes INVITEs, looks the Request-URI's user up in the
location table and relays to the registered contact (over the connection the REGISTER came
on, for TCP). In-dialog requests go by their Route (``loose_route``); each is logged as
``kamailio-lab: routed <METHOD> <Call-ID> ...`` (:meth:`KamailioLab.routed`), and one without
Route is answered 404 and logged ``rejected in-dialog ...``. Listens on UDP and TCP at
``bind:sip_port`` (``bind`` may be ``::1``). The accounts of the Asterisk lab:
:func:`lab_accounts` (same password seed, :meth:`LabConfig.password`). Standard library only.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from string import Template
from typing import Mapping

from sipclient.lab import probe
from sipclient.lab.config import LabConfig
from sipclient.lab.errors import LabError
from sipclient.lab.follow import pidfd_of, wait_for_text

__all__ = ["KamailioLab", "find_kamailio", "lab_accounts", "TEMPLATE"]

#: the configuration template kept in the repository
TEMPLATE = Path(__file__).resolve().parents[2] / "docker" / "kamailio" / "kamailio.cfg.tmpl"
_MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules",
                "/usr/local/lib64/kamailio/modules", "/usr/local/lib/kamailio/modules")
_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


class KamailioNotInstalled(LabError):
    def __init__(self) -> None:
        super().__init__("kamailio not found: run `make lab-deps` "
                         "(scripts/install-lab-deps.sh installs it)")


def find_kamailio() -> str:
    """The kamailio binary (``/usr/sbin`` is searched even when not on PATH)."""
    path = os.environ.get("SIPCLIENT_LAB_KAMAILIO") or shutil.which("kamailio")
    if not path and os.access("/usr/sbin/kamailio", os.X_OK):
        path = "/usr/sbin/kamailio"
    if not path:
        raise KamailioNotInstalled()
    return path


def lab_accounts(config: LabConfig | None = None) -> dict[str, str]:
    """The SIP extensions of the Asterisk lab with their passwords (same seed)."""
    config = config or LabConfig()
    return {ext: config.password(ext) for ext in config.sip_extensions}


def _free_port(host: str) -> int:
    for _ in range(50):
        port = probe.free_udp_port(host)
        if not probe.port_in_use(host, port, socket.SOCK_STREAM):
            return port
    raise LabError(f"kamailio lab: no port free on both UDP and TCP on {host}")


def _module_dir() -> str:
    for d in _MODULE_DIRS:
        if os.path.isfile(os.path.join(d, "tm.so")):
            return d
    raise LabError(f"kamailio modules not found in {', '.join(_MODULE_DIRS)}")


def _quote(text: str, what: str) -> str:
    if not _NAME.fullmatch(text):
        raise LabError(f"kamailio lab: {what} {text!r} must match {_NAME.pattern}")
    return text


class KamailioLab:
    """One Kamailio from ``run_dir`` (see the module docstring)."""

    def __init__(self, run_dir: str | os.PathLike[str], sip_port: int = 0,
                 accounts: Mapping[str, str] | None = None, realm: str = "asterisk", *,
                 bind: str = "127.0.0.1", auth_invite: bool = True,
                 min_expires: int = 30, max_expires: int = 3600,
                 boot_timeout: float = 15.0) -> None:
        self.run_dir = Path(run_dir).absolute()
        self.bind = bind.strip("[]")
        #: 0: a port free now on UDP and TCP (chosen here, so ``server()`` works before up())
        self.sip_port = int(sip_port) or _free_port(self.bind)
        accounts = lab_accounts() if accounts is None else accounts
        self.accounts = {_quote(str(u), "user"): str(p) for u, p in accounts.items()}
        self.realm = _quote(realm, "realm")
        self.auth_invite = auth_invite
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.boot_timeout = boot_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    def __repr__(self) -> str:
        return f"<KamailioLab {self.hostport} {self.run_dir}>"

    # --- where it is ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The bind address as it appears in a URI (``[::1]`` for IPv6)."""
        return f"[{self.bind}]" if ":" in self.bind else self.bind

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.sip_port}"

    def server(self, transport: str = "udp") -> str:
        """A ``--server`` value: ``udp:127.0.0.1:5060``, ``tcp:[::1]:5060``."""
        return f"{transport}:{self.hostport}"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "kamailio.cfg"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "kamailio.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- config --------------------------------------------------------------------------

    def render(self) -> str:
        """The configuration text for this lab."""
        for user, password in self.accounts.items():
            if '"' in password or "\\" in password or "\n" in password:
                raise LabError(f"kamailio lab: the password of {user} has a quote, "
                               "backslash or newline")
        accounts = "\n".join(f'\t$sht(acc=>{u}) = "{p}";' for u, p in self.accounts.items())
        if self.auth_invite:
            invite_auth = (
                '\tif (!is_method("INVITE|MESSAGE|REFER|SUBSCRIBE")) return;\n'
                '\tif ($au == $null || $sht(acc=>$au) == $null\n'
                f'\t\t\t|| !pv_proxy_authenticate("{self.realm}", "$sht(acc=>$au)", "0")) {{\n'
                f'\t\tproxy_challenge("{self.realm}", "0");\n'
                '\t\texit;\n\t}\n'
                '\tconsume_credentials();')
        else:
            invite_auth = "\treturn;"
        listen = "\n".join(f"listen={proto}:{self.hostport}" for proto in ("udp", "tcp"))
        return Template(TEMPLATE.read_text()).substitute(
            listen=listen, realm=self.realm, module_dir=_module_dir(),
            accounts=accounts, invite_auth=invite_auth, run_dir=str(self.run_dir),
            min_expires=self.min_expires, max_expires=self.max_expires)

    # --- lifecycle -----------------------------------------------------------------------

    def up(self) -> "KamailioLab":
        """Render, check (``kamailio -c``), start, and wait until an OPTIONS is answered on
        UDP and TCP. Raises LabError with the log's last lines when it does not come up."""
        if self.running:
            return self
        binary = find_kamailio()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.render())
        # private memory: the accounts are statements of the config (about 4 KB each)
        pkg = str(8 + len(self.accounts) // 200)
        check = subprocess.run([binary, "-c", "-f", str(self.config_file), "-M", pkg],
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise LabError(f"kamailio rejects {self.config_file}:\n"
                           + "\n".join((check.stderr or check.stdout).splitlines()[-15:]))
        for kind in ("udp", "tcp"):
            if probe.port_in_use(self.bind, self.sip_port,
                                 socket.SOCK_DGRAM if kind == "udp"
                                 else socket.SOCK_STREAM):
                raise LabError(f"kamailio lab: {kind} port {self.hostport} is in use")
        self._log_file = open(self.log_path, "ab")
        log_start = self._log_file.tell()  # this run's lines start here
        self._proc = subprocess.Popen(
            [binary, "-f", str(self.config_file), "-DD", "-E", "-Y", str(self.run_dir),
             "-P", str(self.run_dir / "kamailio.pid"), "-m", "64", "-M", pkg],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
        # its own "ready" line (event_route core:worker-one-init) or its exit: no polling
        own = pidfd_of(self._proc.pid)
        try:
            outcome = "exited" if own is None else wait_for_text(
                self.log_path, b"kamailio lab ready", time.monotonic() + self.boot_timeout,
                exits=[own], offset=log_start)
        finally:
            if own is not None:
                os.close(own)
        if outcome == "exited":
            self._proc.wait(1.0)
            self._stopped()
            raise LabError("kamailio exited at start:\n" + self.log_tail())
        if (outcome == "found" and probe.sip_options_udp(self.bind, self.sip_port, 2.0)
                and probe.sip_options_stream(self.bind, self.sip_port, timeout=2.0)):
            return self
        self.down()
        raise LabError(f"kamailio did not answer OPTIONS on {self.hostport} within "
                       f"{self.boot_timeout} s:\n" + self.log_tail())

    def down(self, timeout: float = 10.0) -> None:
        """Stop it (SIGTERM to its process group, SIGKILL after ``timeout``)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self._stopped()

    def _stopped(self) -> None:
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "KamailioLab":
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # --- what it did ---------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def routed(self, call_id: str | None = None) -> list[str]:
        """Methods of the in-dialog requests Kamailio routed by Record-Route (in log order),
        for one Call-ID or all: ``["ACK", "BYE"]``."""
        out = []
        for m in re.finditer(r"routed (\S+) (\S+) to ", self.log_text()):
            if call_id is None or m.group(2) == call_id:
                out.append(m.group(1))
        return out

    def registrations(self, user: str | None = None) -> list[str]:
        """Log lines of the REGISTERs Kamailio saved (for ``user`` or all), oldest first:
        ``registered 1002 expires 3600 from udp:127.0.0.1:40000``."""
        pattern = re.compile(r"registered (\S+) expires .*")
        return [m.group(0) for m in pattern.finditer(self.log_text())
                if user is None or m.group(1) == user]

    def wait_registered(self, user: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``user`` has been registered ``count`` times (LabError otherwise)."""
        needle = f"registered {user} expires ".encode()  # registrations()' lines
        if wait_for_text(self.log_path, needle, time.monotonic() + timeout,
                         count=count) != "found":
            raise LabError(f"kamailio saw no REGISTER of {user} in {timeout} s:\n"
                           + self.log_tail())

    def rejected(self) -> list[str]:
        """Lines of the in-dialog requests refused because they carried no Route."""
        return [line for line in self.log_text().splitlines() if "rejected in-dialog" in line]
