"""``sipclient load run FILE.sip.yaml``: any scenario as one load instance.

Each instance runs the scenario with the scenario engine (:func:`run_scenario`), against the
built-in lab (started for the run when it is not up, stopped after) or ``--target``. Its
reports (result.json, ladder.txt, capture.pcap) go to ``<--report>/instances/<i>/`` (a
temporary directory without ``--report``).

Identity per instance: with ``--users 1001-1020`` the agents that name an ``account:`` get
accounts from that range instead, taken from a pool so that no two instances in flight share
one (an instance waits for free accounts; ``--concurrency`` times the agents per instance
should not exceed the range). The instance passes when the scenario passes; otherwise it
fails with reason ``failed`` or ``error`` and the scenario's message. ``instance_ms`` is the
scenario's duration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats

__all__ = ["ScenarioDriver", "prepare", "LAB_RUN_DIR"]

#: the spec variable naming the lab's run directory (set by :func:`prepare`)
LAB_RUN_DIR = "lab_run_dir"


async def prepare(spec: LoadSpec) -> tuple[LoadSpec, Any]:
    """Check the scenario file (file:line errors raise ValueError) and, without ``--target``,
    get the lab (adopted, or started here). Returns the spec to run and the lab handle to
    close at the end (None for an external target)."""
    from sipclient.scenario.loader import load_scenario
    from sipclient.scenario.model import ScenarioErrors

    try:
        load_scenario(str(spec.scenario), instance=True)
    except ScenarioErrors as exc:
        raise ValueError(str(exc)) from None
    except OSError as exc:
        raise ValueError(f"cannot read {spec.scenario}: {exc.strerror or exc}") from None
    if spec.target:
        return spec, None
    from sipclient.scenario.labs import LabHandle

    handle = await asyncio.to_thread(LabHandle.open)
    variables = {**spec.variables, LAB_RUN_DIR: str(handle.lab.config.run_dir)}
    return dataclasses.replace(spec, variables=variables), handle


class ScenarioDriver:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.pool: asyncio.Queue[str] | None = None
        self.report_root: Path | None = None
        self._temporary = False
        #: ``on_transaction(i, "SCENARIO", ms, None, failure)`` per instance (Locust)
        self.on_transaction: Any = None

    async def open(self) -> None:
        from sipclient.scenario.loader import load_scenario
        from sipclient.scenario.target import Target

        self.scenario = load_scenario(str(self.spec.scenario), instance=True)
        run_dir = self.spec.variables.get(LAB_RUN_DIR)
        if run_dir:
            from sipclient.lab import Lab

            self.target = Target.from_lab(Lab.from_run_dir(Path(run_dir)))
        else:
            self.target = Target.from_string(self.spec.target)
        self.with_account = [name for name, a in self.scenario.agents.items()
                             if a.fields.get("account") is not None]
        if self.spec.users:
            if len(self.spec.users) < len(self.with_account):
                raise ValueError(f"--users gives {len(self.spec.users)} accounts; the "
                                 f"scenario has {len(self.with_account)} agents with one")
            self.pool = asyncio.Queue()
            for user in self.spec.users:
                self.pool.put_nowait(user)
        report = self.spec.variables.get("report_dir")
        if report:
            self.report_root = Path(report) / "instances"
        else:
            self.report_root = Path(tempfile.mkdtemp(prefix="sipclient-load-run-"))
            self._temporary = True

    async def close(self) -> None:
        if self._temporary and self.report_root is not None:
            shutil.rmtree(self.report_root, ignore_errors=True)

    async def instance(self, i: int, stats: LoadStats,
                       ending: asyncio.Event) -> tuple[str, str] | None:
        from sipclient.scenario.engine import run_scenario

        assert self.report_root is not None
        taken: list[str] = []
        scenario = self.scenario
        try:
            if self.pool is not None:
                for _ in self.with_account:
                    taken.append(await self.pool.get())
                agents = dict(scenario.agents)
                for name, user in zip(self.with_account, taken):
                    a = agents[name]
                    agents[name] = dataclasses.replace(a, fields={**a.fields, "account": user})
                scenario = dataclasses.replace(scenario, agents=agents)
            t0 = time.perf_counter()
            result = await run_scenario(scenario, self.target, self.report_root / str(i),
                                        instance=i)
            stats.latency("instance_ms", (time.perf_counter() - t0) * 1000.0, time.time())
            if self.on_transaction is not None:
                self.on_transaction(i, "SCENARIO", (time.perf_counter() - t0) * 1000.0, None,
                                    None if result.status == "passed"
                                    else (result.error or result.status))
        finally:
            for user in taken:
                assert self.pool is not None
                self.pool.put_nowait(user)
        stats.status(result.status)
        if result.status == "passed":
            return None
        return (result.status if result.status in ("failed", "error") else "error",
                result.error or result.status)
