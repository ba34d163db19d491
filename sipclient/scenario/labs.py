"""Where a run's scenarios run: the target (:class:`TargetSpec`) and the labs it needs.

Targets: the built-in lab by default - used when it is already up (``--lab-run-dir``,
``SIPCLIENT_LAB_RUN_DIR``, else ``./run/lab`` of the current directory), started for the run
(on other ports, said, when its own are taken) and stopped afterwards when it is not
(:class:`LabHandle`) - or ``--target``/``--profile``. A worker process (``-n``) runs its own
lab (its own run directory, ports shifted by 10 per worker); an external target is shared by
the workers.

WebRTC scenarios cannot run on a lab on 127.0.0.1 (ICE never uses loopback): on the
built-in lab they get a lab in test network namespaces instead (:func:`make_netlab`, see
:mod:`sipclient.scenario.netlab`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["LabHandle", "TargetSpec", "make_netlab"]


@dataclass(frozen=True)
class TargetSpec:
    """Where the scenarios run: the built-in lab (no target, no profile), or a target
    string and/or a profile (the profile's accounts; ``target`` then replaces its main
    server). Plain data, so a worker process can build the same target."""

    target: str | None = None
    profile: str | None = None
    insecure: bool = False
    #: ``SIPCLIENT_LAB_*`` variables (and the profile's ``password_env``); None: os.environ
    environ: dict[str, str] | None = None
    #: ``--hep``: ``{target, capture_id, auth_key_env, auth_key_file}`` (a profile's ``hep:``
    #: form), the key read where the target is built (each worker reads its own)
    hep: dict[str, Any] | None = None

    @property
    def is_lab(self) -> bool:
        return not self.target and not self.profile

    def describe(self, lab: Any = None) -> str:
        if self.is_lab:
            if lab is None:
                return "the built-in lab"
            c = lab.config
            return f"lab udp:{c.probe_host}:{c.sip_port} ({c.run_dir})"
        if self.profile and self.target:
            return f"{self.target} (profile {self.profile})"
        return str(self.profile or self.target)

    def build(self, lab: Any = None) -> Any:
        """The :class:`~sipclient.scenario.target.Target`; ``ProfileError`` when unusable."""
        import dataclasses
        import os

        from .target import hep_settings

        target = self._build(lab)
        if self.hep:
            environ = os.environ if self.environ is None else self.environ
            target = dataclasses.replace(target, hep=hep_settings(self.hep, "--hep", environ))
        return target

    def _build(self, lab: Any = None) -> Any:
        import dataclasses

        from .target import Target

        if self.is_lab:
            if lab is None:
                raise ValueError("the lab target needs a running lab")
            return Target.from_lab(lab)
        if not self.profile:
            return Target.from_string(str(self.target), insecure=self.insecure)
        profile = Target.from_profile(self.profile, insecure=True if self.insecure else None,
                                      environ=self.environ)
        if not self.target:
            return profile
        bare = Target.from_string(str(self.target), insecure=profile.insecure,
                                  domain=profile.domain)
        return dataclasses.replace(profile, host=bare.host, port=bare.port,
                                   servers={**profile.servers, **bare.servers},
                                   name=f"{self.target} (profile {self.profile})")


class LabHandle:
    """A lab for a run: adopted when already up (left running), else started here and
    stopped by :meth:`close`."""

    def __init__(self, lab: Any, started: bool, claim: Any = None) -> None:
        self.lab, self.started, self._claim = lab, started, claim

    @staticmethod
    def base_config(environ: Mapping[str, str] | None = None) -> Any:
        """The lab config of ``SIPCLIENT_LAB_*`` (that of the lab running from its run
        directory, when there is one): what :meth:`open` starts from."""
        from sipclient.lab import Lab, LabConfig
        from sipclient.lab.runner import STATE_FILE

        base = LabConfig.from_env(environ)
        if (base.run_dir / STATE_FILE).exists():
            base = Lab.from_run_dir(base.run_dir).config
        return base

    @classmethod
    def open(cls, environ: Mapping[str, str] | None = None, worker: int = 0,
             say: Callable[[str], None] = lambda _text: None) -> "LabHandle":
        """Worker 0 (and a run without workers): the lab of ``SIPCLIENT_LAB_RUN_DIR`` (else
        ``run/lab``) when it is up; else one started in that run directory (``-2``, ``-3``...
        when another live run holds it) on its ports, shifted by 1000 when they are taken.
        Worker N: a lab of its own in ``<run dir>-wN``, ports shifted by 10 * N (or further
        when taken). ``LabError`` when it does not come up."""
        from sipclient.lab import Lab
        from sipclient.lab.testing import (WORKER_PORT_STEP, RunDirClaim, moved_ports_note,
                                           with_free_ports)

        base = cls.base_config(environ)
        if base.external:
            return cls(Lab(base), started=False)
        if not worker:
            running = Lab(base)
            if running.is_running() and running.status().healthy:
                return cls(running, started=False)
        # ours to start (and stop): a run directory no other live process holds, free ports
        name = base.run_dir.name + (f"-w{worker}" if worker else "")
        claim = RunDirClaim(base.run_dir.with_name(name))
        config = base.replace(run_dir=claim.path).with_port_offset(WORKER_PORT_STEP * worker)
        lab = Lab(with_free_ports(config))
        c = lab.config
        note = moved_ports_note(config, c)
        if note:
            say(note)
        say(f"starting the Asterisk lab in {c.run_dir} (SIP {c.probe_host}:{c.sip_port}) ...")
        began = time.monotonic()
        try:
            lab.up()
        except BaseException:
            if claim is not None:
                claim.release()
            raise
        say(f"lab up in {time.monotonic() - began:.1f} s")
        return cls(lab, started=True, claim=claim)

    def close(self) -> None:
        try:
            if self.started:
                self.lab.down()
        finally:
            if self._claim is not None:
                self._claim.release()
                self._claim = None


def make_netlab(spec: TargetSpec, worker: int = 0,
                say: Callable[[str], None] = lambda _text: None) -> Any:
    """The :class:`~sipclient.scenario.netlab.NetLab` WebRTC scenarios get when the target is
    the built-in lab on a loopback address (nothing is made until one needs it); else None:
    an external target, or a lab already on a routable address, runs them as it is."""
    from .netlab import NetLab, lab_is_loopback

    if not spec.is_lab:
        return None
    base = LabHandle.base_config(spec.environ)
    if not lab_is_loopback(base):
        return None
    return NetLab(spec.environ, worker=f"w{worker}" if worker else "", say=say, base=base)
