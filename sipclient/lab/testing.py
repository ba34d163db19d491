"""Lab configurations for test runs, one per pytest-xdist worker.

The session lab of ``tests/conftest.py`` listens on the cloud's ports (SIP 7048, WSS 8089)
unless ``SIPCLIENT_LAB_*`` variables say otherwise. Under pytest-xdist each worker gets its
own run directory and its ports shifted by ``WORKER_PORT_STEP * worker index`` (gw0 keeps the
defaults, gw1 gets 7058/8099/..., and so on), so ``pytest -n 2`` runs two labs side by side.
Tests that start an extra lab pass ``extra_offset`` (a multiple of 100 keeps clear of the
workers' own labs).
"""

from __future__ import annotations

import os
import re
from typing import Mapping

from sipclient.lab.config import LabConfig, default_run_dir

WORKER_PORT_STEP = 10


def worker_index(environ: Mapping[str, str] | None = None) -> int:
    """0 outside xdist, else N for worker ``gwN``."""
    environ = os.environ if environ is None else environ
    match = re.fullmatch(r"gw(\d+)", environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0


def worker_name(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("PYTEST_XDIST_WORKER") or "main"


def test_lab_config(name: str = "pytest", *, extra_offset: int = 0,
                    environ: Mapping[str, str] | None = None) -> LabConfig:
    """The config of a test lab: env overrides, then this worker's run dir and port offset."""
    environ = os.environ if environ is None else environ
    config = LabConfig.from_env(environ)
    if config.external:  # one lab outside this run (a CI service): no per-worker copies
        return config
    if not environ.get("SIPCLIENT_LAB_RUN_DIR") or name != "pytest":
        config = config.replace(run_dir=default_run_dir(f"lab-{name}-{worker_name(environ)}"))
    offset = extra_offset + WORKER_PORT_STEP * worker_index(environ)
    return config.with_port_offset(offset)


test_lab_config.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


#: shift tried when a test lab's ports are taken (another pytest session on this machine)
BUSY_PORT_STEP = 1000


def ports_free(config: LabConfig) -> bool:
    """Can every listening port of ``config`` be bound right now?"""
    import socket

    from sipclient.lab import probe

    c = config
    checks = [(c.bind, c.sip_port, socket.SOCK_DGRAM), (c.bind, c.sip_port, socket.SOCK_STREAM),
              (c.bind, c.tls_port, socket.SOCK_STREAM), (c.bind, c.wss_port, socket.SOCK_STREAM),
              (c.bind, c.http_port, socket.SOCK_STREAM),
              (c.ami_bind, c.ami_port, socket.SOCK_STREAM)]
    return not any(probe.port_in_use(h, p, k) for h, p, k in checks)


def with_free_ports(config: LabConfig, tries: int = 8) -> LabConfig:
    """``config``, or the first shift by ``BUSY_PORT_STEP`` whose ports are all free.

    Several pytest sessions may share a machine (and a work tree); the first gets the
    cloud's ports, the next ones get shifted copies instead of failing or, worse, sharing
    one Asterisk. ``config`` itself is returned when nothing is free (``up()`` then says
    which port is taken).
    """
    if config.external:
        return config
    for k in range(tries):
        candidate = config.with_port_offset(k * BUSY_PORT_STEP)
        if ports_free(candidate):
            return candidate
    return config


def taken_ports(config: LabConfig) -> list[str]:
    """The listening ports of ``config`` that cannot be bound now, in words (``SIP 7048``)."""
    import socket

    from sipclient.lab import probe

    c = config
    checks = [("SIP", c.bind, c.sip_port, socket.SOCK_DGRAM),
              ("SIP", c.bind, c.sip_port, socket.SOCK_STREAM),
              ("TLS", c.bind, c.tls_port, socket.SOCK_STREAM),
              ("WSS", c.bind, c.wss_port, socket.SOCK_STREAM),
              ("HTTP", c.bind, c.http_port, socket.SOCK_STREAM),
              ("AMI", c.ami_bind, c.ami_port, socket.SOCK_STREAM)]
    out: list[str] = []
    for name, host, port, kind in checks:
        text = f"{name} {port}"
        if text not in out and probe.port_in_use(host, port, kind):
            out.append(text)
    return out


def moved_ports_note(wanted: LabConfig, got: LabConfig) -> str | None:
    """What to tell the user when :func:`with_free_ports` moved the lab (None: it did not):
    which ports were taken and which ones the lab uses instead."""
    if got.sip_port == wanted.sip_port:
        return None
    taken = ", ".join(taken_ports(wanted)) or "some"
    return (f"the lab's ports ({taken}) are taken by another program (no lab of ours runs "
            f"in {wanted.run_dir}): using SIP {got.sip_port}, TLS {got.tls_port}, WSS {got.wss_port}, "
            f"HTTP {got.http_port}, AMI {got.ami_port} instead")


class RunDirClaim:
    """An exclusive claim (flock) on a lab run directory for as long as this object lives.

    The run directory is ``base``, or ``base-2``, ``base-3``... when another live process
    holds ``base``. A lab found running in a claimed directory is a leftover of a session
    that died, never someone else's lab.
    """

    def __init__(self, base: "os.PathLike[str] | str") -> None:
        import fcntl
        from pathlib import Path

        base = Path(base)
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 100):
            path = base if n == 1 else base.with_name(f"{base.name}-{n}")
            path.mkdir(parents=True, exist_ok=True)
            handle = open(path / ".lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.path, self._handle = path, handle
            return
        raise RuntimeError(f"no free lab run directory next to {base}")

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_test_lab(name: str = "pytest", *, extra_offset: int = 0,
                   environ: Mapping[str, str] | None = None) -> tuple[LabConfig, RunDirClaim | None]:
    """A test lab config with a run directory claimed for this process and free ports."""
    config = test_lab_config(name, extra_offset=extra_offset, environ=environ)
    if config.external:
        return config, None
    claim = RunDirClaim(config.run_dir)
    return with_free_ports(config.replace(run_dir=claim.path)), claim
