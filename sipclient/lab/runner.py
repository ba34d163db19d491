"""Start, watch and stop a real Asterisk from a run directory.

``Lab(config).up()`` renders the templates into ``config.run_dir``, makes the certificate,
starts ``asterisk -C <run_dir>/etc/asterisk.conf -f -n`` in its own session (so it outlives
the process that started it, e.g. ``sipclient lab up``), and returns once Asterisk says it
has fully booted AND every transport answers: an OPTIONS over UDP, TCP and TLS, and a
WebSocket upgrade on ``/ws`` over TLS (the WSS port). ``down()`` asks Asterisk to stop
(``core stop now``), falls back to SIGTERM then SIGKILL, and checks that no Asterisk from
this run directory is left. Everything Asterisk writes stays in the run directory; its
control socket lives there too, so labs with different run directories and ports run side
by side.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sipclient.lab import probe
from sipclient.lab.ami import ami_command
from sipclient.lab.config import Account, LabConfig
from sipclient.lab.errors import AsteriskNotInstalled, LabError
from sipclient.lab.follow import pidfd_of, wait_exited, wait_for_text, wait_readable
from sipclient.lab.render import ensure_certificate, render

STATE_FILE = "lab.json"
LOG_NAMES = ("full", "messages", "console")
_SUN_PATH_MAX = 107


def find_asterisk() -> str:
    """The asterisk binary (``/usr/sbin`` is searched even when not on PATH)."""
    path = os.environ.get("SIPCLIENT_LAB_ASTERISK") or shutil.which("asterisk")
    if not path:
        for candidate in ("/usr/sbin/asterisk", "/usr/local/sbin/asterisk"):
            if os.access(candidate, os.X_OK):
                path = candidate
                break
    if not path:
        raise AsteriskNotInstalled()
    return path


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def processes_mentioning(text: str, *, asterisk_only: bool = True) -> list[int]:
    """Live (non-zombie) pids whose command line mentions ``text``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        argv = _cmdline(pid)
        if not argv or not any(text in a for a in argv):
            continue
        if asterisk_only and "asterisk" not in os.path.basename(argv[0]):
            continue
        if not _is_zombie(pid):
            out.append(pid)
    return sorted(out)


def _is_remote_console(argv: list[str]) -> bool:
    return any(re.fullmatch(r"-[a-zA-Z]*[rRx][a-zA-Z]*", a) for a in argv[1:]
               if a not in ("-f", "-n", "-C"))


@dataclass(frozen=True)
class Contact:
    """One registered contact as Asterisk shows it (``pjsip show contacts``)."""

    aor: str
    uri: str
    status: str
    rtt: str = ""


@dataclass
class LabStatus:
    running: bool
    booted: bool
    pid: int | None
    run_dir: Path
    version: str = ""
    #: name -> what answered, e.g. ``{"udp": "SIP/2.0 401 Unauthorized", "wss": "HTTP/1.1 101 ..."}``
    checks: dict[str, str | None] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    #: the container's name (a container lab), else ""
    container: str = ""

    @property
    def healthy(self) -> bool:
        return self.running and self.booted and all(self.checks.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "booted": self.booted,
            "healthy": self.healthy,
            "pid": self.pid,
            "run_dir": str(self.run_dir),
            "version": self.version,
            "checks": dict(self.checks),
            "endpoints": dict(self.endpoints),
            "container": self.container,
        }


class Lab:
    """A real Asterisk configured like the cloud PBX. Also a context manager (up/down)."""

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        self._proc: subprocess.Popen[bytes] | None = None
        self._asterisk: str | None = None
        self._container: Any = None
        self.boot_seconds: float | None = None

    @classmethod
    def from_run_dir(cls, run_dir: str | os.PathLike[str]) -> "Lab":
        """The lab whose state ``lab up`` left in ``run_dir`` (its config, ports included)."""
        state = _read_state(Path(run_dir).absolute())
        if state is None:
            return cls(LabConfig(run_dir=Path(run_dir)))
        return cls(LabConfig.from_dict({**state.get("config", {}), "run_dir": str(run_dir)}))

    # --- paths -----------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    @property
    def conf(self) -> Path:
        return self.config.asterisk_conf

    @property
    def cert_file(self) -> Path:
        """The lab's self-signed certificate: use it as the CA file to verify TLS/WSS."""
        return self.config.cert_file

    ca_file = cert_file

    @property
    def asterisk(self) -> str:
        if self._asterisk is None:
            self._asterisk = find_asterisk()
        return self._asterisk

    @property
    def pid(self) -> int | None:
        pids = self.pids()
        return pids[0] if pids else None

    @property
    def container(self) -> Any:
        """The :class:`~sipclient.lab.container.Container` of a container lab, else None."""
        if self.config.container and self._container is None:
            from sipclient.lab.container import Container

            self._container = Container(self.config)
        return self._container

    def pids(self) -> list[int]:
        """The Asterisk daemon(s) started from this run directory (remote consoles excluded);
        in a container lab, its Asterisk (the container's PID 1) while it runs."""
        if self.config.external:
            return []
        if self.container is not None:
            pid = self.container.pid()
            return [pid] if pid is not None else []
        return [p for p in processes_mentioning(str(self.conf))
                if not _is_remote_console(_cmdline(p) or [])]

    # --- lifecycle ---------------------------------------------------------------------------

    def up(self, timeout: float | None = None, *,
           say: Callable[[str], None] = lambda _text: None) -> "Lab":
        """Start Asterisk (or adopt a healthy one already running from this run directory).
        ``say`` hears about slow steps (building the container image)."""
        timeout = self.config.boot_timeout if timeout is None else timeout
        started = time.monotonic()
        if self.config.external:
            self._wait_ready(started + timeout)
            self.boot_seconds = time.monotonic() - started
            return self
        if self.pids():
            previous = _read_state(self.run_dir) or {}
            if previous.get("config") == self.config.to_dict() and self.status().healthy:
                self.boot_seconds = 0.0
                return self
            self.down()
        ctl = self.run_dir / "run" / "asterisk.ctl"
        if len(str(ctl)) > _SUN_PATH_MAX:
            raise LabError(f"run directory path too long for Asterisk's control socket: {ctl}")
        if self.container is not None:
            return self._up_container(timeout, say)
        asterisk = self.asterisk
        self._check_ports_free()
        render(self.config)
        ensure_certificate(self.config)
        for stale in ("asterisk.ctl", "asterisk.pid"):
            (self.run_dir / "run" / stale).unlink(missing_ok=True)
        self._rotate_logs()
        console = open(self.run_dir / "log" / "console.log", "ab")
        try:
            self._proc = subprocess.Popen(
                [asterisk, "-C", str(self.conf), "-f", "-n"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                cwd=self.run_dir, start_new_session=True, close_fds=True,
            )
        finally:
            console.close()
        _write_state(self.run_dir, {"config": self.config.to_dict(), "pid": self._proc.pid,
                                    "asterisk": asterisk, "started": time.time()})
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self.down()
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def _rotate_logs(self) -> None:
        for name in ("full", "messages", "console.log"):  # this run's logs only; keep one back
            log = self.run_dir / "log" / name
            if log.exists():
                log.replace(log.with_name(name + ".prev"))

    def _up_container(self, timeout: float, say: Callable[[str], None]) -> "Lab":
        """:meth:`up` in a container: a leftover container of this run directory is
        removed, the image built when stale, the container started and waited for (the
        boot timeout counts from the container's start, not the build's)."""
        started = time.monotonic()
        box = self.container
        box.remove()
        self._check_ports_free()
        self._rotate_logs()
        _write_state(self.run_dir, {"config": self.config.to_dict(), "container": box.name,
                                    "engine": box.engine, "started": time.time()})
        try:
            box.start(self.run_dir / STATE_FILE, say=say)
            watcher = box.exit_watcher()  # its output: the container has ended
            try:
                self._wait_ready(time.monotonic() + timeout, died=box.died,
                                 exits=[watcher.stdout.fileno()])
            finally:
                watcher.kill()
                watcher.wait()
                watcher.stdout.close()
        except BaseException:
            self.down()
            raise
        self.boot_seconds = time.monotonic() - started - (box.build_seconds or 0.0)
        return self

    def _busy_ports(self) -> list[str]:
        """The lab's listening ports that cannot be bound now, e.g. ``["7048/udp"]``."""
        c = self.config
        checks = [(c.bind, c.sip_port, socket.SOCK_DGRAM, "udp"),
                  (c.bind, c.sip_port, socket.SOCK_STREAM, "tcp"),
                  (c.bind, c.tls_port, socket.SOCK_STREAM, "tcp"),
                  (c.bind, c.wss_port, socket.SOCK_STREAM, "tcp"),
                  (c.bind, c.http_port, socket.SOCK_STREAM, "tcp"),
                  (c.ami_bind, c.ami_port, socket.SOCK_STREAM, "tcp")]
        return [f"{port}/{name}" for host, port, kind, name in checks
                if probe.port_in_use(host, port, kind)]

    def _check_ports_free(self) -> None:
        c = self.config
        busy = self._busy_ports()
        if busy:
            raise LabError(
                f"lab ports in use on {c.bind}: {', '.join(busy)} (another lab running? "
                "stop it with `sipclient lab down`, or choose other ports)")

    def _wait_ready(self, deadline: float, died: Callable[[], str | None] | None = None,
                    exits: list[int] = ()) -> None:
        """Wait for Asterisk's own "Asterisk Ready." line in ``log/full`` (inotify) or its
        exit (a pidfd of our child; ``exits``: descriptors readable when a container ended),
        then check that every transport answers. An external lab, whose logs are elsewhere,
        is asked ``core waitfullybooted`` (a command that returns once it is booted)."""
        if self.config.external:
            left = deadline - time.monotonic()
            if self._try_cli("core waitfullybooted", max(left, 0.1)) is None:
                raise LabError(f"the external lab at {self.config.host}:{self.config.ami_port}"
                               " did not answer `core waitfullybooted` over AMI")
        else:
            fds = list(exits)
            own = pidfd_of(self._proc.pid) if self._proc is not None else None
            if own is not None:
                fds.append(own)
            outcome = "exited" if own is None and self._proc is not None else None
            try:
                while outcome is None:
                    outcome = wait_for_text(self.run_dir / "log" / "full", b"Asterisk Ready.",
                                            deadline, exits=fds)
                    if (outcome == "exited" and own is None
                            and not (died is not None and died())):
                        fds, outcome = [], None  # the watcher ended, not the container
            finally:
                if own is not None:
                    os.close(own)
            if outcome == "exited":
                if self._proc is not None and self._proc.poll() is None:
                    self._proc.wait(1.0)  # its pidfd is readable: it has ended, reap it
                if self._proc is not None and self._proc.returncode is not None:
                    raise LabError(f"asterisk exited with status {self._proc.returncode} "
                                   f"while starting; see {self.run_dir / 'log'}:\n"
                                   f"{self._log_tail()}")
                why = (died() if died is not None else None) or "asterisk exited"
                raise LabError(f"{why} while starting; see {self.run_dir / 'log'}:\n"
                               f"{self._log_tail()}")
            if outcome == "timeout":
                raise LabError(f"asterisk did not finish booting within the boot timeout; see "
                               f"{self.run_dir / 'log'}\n{self._log_tail()}")
        # booted: its transports were bound while its modules loaded; each probe waits for
        # its answer (up to 5 s, or what is left of the boot timeout)
        wait = min(5.0, max(deadline - time.monotonic(), 1.0))
        last = self.check_ports(wait)
        if not all(last.values()):
            raise LabError("asterisk booted but ports not answering: " + ", ".join(
                k for k, v in last.items() if not v) + f"; see {self.run_dir / 'log'}\n"
                f"{self._log_tail()}")

    def check_ports(self, timeout: float | None = None) -> dict[str, str | None]:
        """Probe every transport (each waits ``timeout`` s at most for its answer, default
        the probe's own); name -> status line that answered, or None."""
        c = self.config
        h = c.probe_host
        t = {} if timeout is None else {"timeout": timeout}
        return {
            "udp": probe.sip_options_udp(h, c.sip_port, **t),
            "tcp": probe.sip_options_stream(h, c.sip_port, **t),
            "tls": probe.sip_options_stream(h, c.tls_port, tls=True, **t),
            "wss": probe.websocket_upgrade(h, c.wss_port, "/ws", tls=True, **t),
        }

    def down(self, timeout: float = 15.0) -> None:
        """Stop Asterisk and make sure nothing from this run directory is left running.

        An external lab (``config.external``) is left alone: whoever started it stops it.
        """
        if self.config.external:
            return
        if self.container is not None:
            self._down_container(timeout)
            return
        pids = self.pids()
        if self._proc is not None and self._proc.poll() is None and self._proc.pid not in pids:
            pids.append(self._proc.pid)
        if pids:
            self._try_cli("core stop now", 5.0)
            if not self._wait_gone(pids, min(timeout, 10.0)):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    for pid in pids:
                        try:
                            os.kill(pid, sig)
                        except ProcessLookupError:
                            pass
                    if self._wait_gone(pids, 5.0):
                        break
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
            self._proc = None
        left = self.pids()
        state = _read_state(self.run_dir)
        if state is not None:
            state.update(pid=None, stopped=time.time())
            _write_state(self.run_dir, state)
        if left:
            raise LabError(f"asterisk still running from {self.run_dir}: pids {left}")

    def _down_container(self, timeout: float) -> None:
        pid = self.container.pid()  # its Asterisk, seen from here: its exit closes its ports
        exited = pidfd_of(pid) if pid is not None else None
        self.container.remove(timeout=min(timeout, 10.0))
        state = _read_state(self.run_dir)
        if state is not None:
            state.update(pid=None, stopped=time.time())
            _write_state(self.run_dir, state)
        if exited is not None:
            wait_readable([exited], 5.0)  # host networking: its sockets close as it exits
        if not probe.address_is_local(self.config.bind):
            return  # a lab in another network namespace: its ports cannot be seen from here
        busy = self._busy_ports()
        if busy:
            raise LabError(f"the lab container is gone but its ports still listen: "
                           f"{', '.join(busy)}")

    def _wait_gone(self, pids: list[int], seconds: float) -> bool:
        """Wait for the exit of ``pids`` (pidfds: woken by the exits themselves)."""
        gone = wait_exited(pids, seconds)
        if self._proc is not None:
            self._proc.poll()  # reap our own child so it does not linger as a zombie
        return gone or all(_is_zombie(p) for p in pids)

    def __enter__(self) -> "Lab":
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # --- inspection --------------------------------------------------------------------------

    def is_running(self) -> bool:
        if self.config.external:
            return self._try_cli("core show version", 5.0) is not None
        return bool(self.pids())

    def gone(self) -> str | None:
        """None while the lab this object started (or adopted) runs; else what became of it,
        in words (a container's exit status). An external lab is never ``gone``."""
        if self.config.external:
            return None
        if self.container is not None:
            return self.container.died()
        if self.is_running():
            return None
        return f"the lab's Asterisk ({self.run_dir}) is no longer running"

    def status(self, probe_ports: bool = True) -> LabStatus:
        pid = self.pid
        running = pid is not None or (self.config.external and self.is_running())
        st = LabStatus(running=running, booted=False, pid=pid, run_dir=self.run_dir,
                       endpoints=self.config.endpoints(),
                       container=self.container.name if self.container is not None else "")
        if not running:
            return st
        version = self._try_cli("core show version", 5.0)
        st.booted = version is not None and \
            self._try_cli("core waitfullybooted", 5.0) is not None
        st.version = (version or "").strip()
        if probe_ports:
            st.checks = self.check_ports()
        return st

    def logs(self, name: str = "full", tail: int | None = None) -> str:
        """The text of ``log/<name>`` (full, messages or console); the last ``tail`` lines."""
        if name not in LOG_NAMES and not (self.run_dir / "log" / name).is_file():
            raise LabError(f"no such lab log: {name} (one of {', '.join(LOG_NAMES)})")
        path = self.run_dir / "log" / (name + ".log" if name == "console" else name)
        text_now = self.container.logs() if name == "console" and self.container else None
        if text_now is not None:  # a container lab's console is the container's output
            path.write_text(text_now)
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return text

    def _log_tail(self, lines: int = 20) -> str:
        return (self.logs("messages", lines) or self.logs("console", lines)).rstrip()

    def accounts(self) -> list[Account]:
        return self.config.accounts()

    def account(self, extension: str | int) -> Account:
        for acc in self.accounts():
            if acc.extension == str(extension):
                return acc
        raise LabError(f"no such lab extension: {extension}")

    def endpoints(self) -> dict[str, str]:
        return self.config.endpoints()

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one Asterisk CLI command (``asterisk -rx``) and return its output."""
        out = self._try_cli(command, timeout)
        if out is None:
            raise LabError(f"asterisk CLI command failed ({command!r}): is the lab up? "
                           f"({self.run_dir})")
        return out

    def _try_cli(self, command: str, timeout: float) -> str | None:
        if self.config.external:
            c = self.config
            try:
                return ami_command(c.host, c.ami_port, c.ami_user, c.ami_secret, command,
                                   timeout)
            except LabError:
                return None
        if self.container is not None:
            return self.container.cli(command, timeout)
        try:
            done = subprocess.run(
                [self.asterisk, "-C", str(self.conf), "-rx", command],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
            )
        except (subprocess.TimeoutExpired, OSError):
            return None
        out = done.stdout.decode(errors="replace")
        if done.returncode != 0 or out.startswith("Unable to connect to remote asterisk"):
            return None
        return out

    def contacts(self, extension: str | int | None = None) -> list[Contact]:
        """Registered contacts (all, or of one extension's AOR)."""
        out = self.cli("pjsip show contacts")
        found = []
        for line in out.splitlines():
            m = re.match(r"\s*Contact:\s+(\S+?)/(\S+)\s+(\S+)\s+(\S+)\s*(\S*)", line)
            if not m or m.group(1).startswith("<"):
                continue
            aor, uri, _hash, status, rtt = m.groups()
            if extension is None or aor == str(extension):
                found.append(Contact(aor=aor, uri=uri, status=status, rtt=rtt))
        return found

    def channels(self) -> list[str]:
        """Active channel names (``core show channels concise``)."""
        out = self.cli("core show channels concise")
        return [line.split("!", 1)[0] for line in out.splitlines() if "!" in line]


def _read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(run_dir / STATE_FILE)
