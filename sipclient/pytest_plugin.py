"""The ``sipclient`` pytest plugin (entry point ``pytest11``): scenario files as tests, and
fixtures for Python tests against the lab or a PBX.

    pytest scenarios/                       # every *.sip.yaml: one test item per scenario
    pytest scenarios/ -n 2                  # pytest-xdist: each worker starts its own lab
    pytest scenarios/ -k "echo and not tls"
    pytest scenarios/ --sip-profile cloud.yaml      # a real PBX instead of the lab

Items are named after the scenario and carry its tags as keywords (``-k``). A file that does
not load is a collection error listing ``file:line: message`` (no traceback); a failing
scenario shows the failing step's YAML lines, what was expected, what arrived and the ladder
so far. Every scenario writes its report folder (capture, ladder, result.json) under
``--sip-report-dir`` (default ``reports/pytest-<time>/``).

The lab is session-scoped and started on first use
(``sipclient.lab.testing.claim_test_lab``: its own run directory and ports per xdist
worker), stopped at the end of the session; ``--lab-run-dir DIR`` (``--sip-lab-run-dir``,
ini ``sip_lab_run_dir``) uses the lab running from DIR instead (left running; xdist workers
then share it), or starts one there. A scenario with a ``webrtc: true`` agent runs in a lab
of its own inside test network namespaces instead (root needed; made on first use per
session or xdist worker, removed at the end; see sipclient/scenario/netlab.py), recorded in
the item's ``lab`` property; without root it fails saying why. Fixtures, prefixed ``sip_``
so they never clash with a project's own:

* ``sip_lab`` - the :class:`sipclient.lab.Lab` (accounts, contacts, CLI);
* ``sip_target`` - the :class:`sipclient.scenario.target.Target` the scenarios run against;
* ``sip_agent`` - a factory: ``alice = sip_agent("1001", transport="udp")`` gives an opened
  :class:`sipclient.agent.Agent` (closed - hung up, unregistered - at teardown); run its
  coroutines with ``sip_agent.run(alice.register())`` (the agents live on one event loop
  per test). In an ``async def`` test run by pytest-asyncio (``@pytest.mark.asyncio``) the
  same fixture is awaited on the test's own loop: ``alice = await sip_agent("1001")``,
  then ``await alice.register()`` (docs/scenarios.md has the example).

Nothing of pytest's internals is patched: ``pytest_collect_file`` returns ``pytest.File``
nodes whose ``collect()`` yields ``pytest.Item`` nodes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

SUFFIX = ".sip.yaml"


# ----------------------------------------------------------------------------- options

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sipclient", "sipclient scenarios (*.sip.yaml)")
    group.addoption("--sip-target", metavar="TARGET", default=None,
                    help="run scenarios against this PBX (udp:host:port, wss://...) instead "
                         "of the built-in lab")
    group.addoption("--sip-profile", metavar="FILE", default=None,
                    help="a target profile (target, transports, accounts)")
    group.addoption("--sip-insecure", action="store_true", default=False,
                    help="TLS/WSS to --sip-target/--sip-profile: accept a certificate that "
                         "does not verify")
    group.addoption("--sip-report-dir", metavar="DIR", default=None,
                    help="where each scenario's report folder goes "
                         "(default reports/pytest-<time>/)")
    group.addoption("--sip-lab-run-dir", "--lab-run-dir", dest="sip_lab_run_dir",
                    metavar="DIR", default=None,
                    help="the lab's run directory: the lab running there is used (not "
                         "stopped here; xdist workers share it), else one is started there "
                         "(ini: sip_lab_run_dir)")
    parser.addini("sip_lab_run_dir", "the lab's run directory (see --lab-run-dir), relative "
                  "to the ini file", default=None)


def pytest_configure(config: pytest.Config) -> None:
    session = SipSession(config)
    config.stash[_SESSION] = session
    config.add_cleanup(session.close)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # here, not only at unconfigure: an xdist worker may be ended as soon as it reported
    # its session finished, and its lab must be stopped by then
    sip = _session(session.config)
    sip.close()
    # the controller or a plain session writes the page; asked of the config, not of the
    # environment, which a pytest run in a subprocess of an xdist worker inherits
    if not hasattr(session.config, "workerinput"):
        sip.write_html()


# ----------------------------------------------------------------------------- the session

class SipSession:
    """The session's lab and target, made on first use and closed at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._lab: Any = None
        self._claim: Any = None
        self._started = False
        self._target: Any = None
        self._failed: str | None = None
        self._report_root: Path | None = None
        self._netlab: Any = None

    def option(self, name: str) -> Any:
        return self.config.getoption(name, default=None)

    @property
    def external(self) -> bool:
        return bool(self.option("sip_target") or self.option("sip_profile"))

    def lab(self) -> Any:
        if self._lab is not None:
            return self._lab
        if self._failed:
            pytest.fail(self._failed, pytrace=False)
        from sipclient.lab import Lab, LabError

        run_dir = self.run_dir()
        try:
            lab = Lab.from_run_dir(run_dir) if run_dir else None
            if lab is None or not (lab.is_running() and lab.status().healthy):
                from sipclient.lab.testing import RunDirClaim, claim_test_lab, with_free_ports

                if run_dir:  # none up there: ours to start there (another worker: -2...)
                    self._claim = RunDirClaim(run_dir)
                    config = with_free_ports(lab.config.replace(run_dir=self._claim.path))
                else:
                    config, self._claim = claim_test_lab("sip")
                lab = Lab(config)
                self._started = True
                lab.up()
        except (LabError, OSError, RuntimeError) as exc:
            self._failed = f"the Asterisk lab did not start: {exc}"
            pytest.fail(self._failed, pytrace=False)
        self._lab = lab
        return lab

    def netlab(self, scenario: Any) -> Any:
        """The namespace lab when ``scenario`` has a WebRTC agent and the lab is the
        built-in one on a loopback address (sipclient.scenario.netlab); else None."""
        if self.external or not _needs_netns(scenario):
            return None
        if self._netlab is None:
            from sipclient.scenario.netlab import NetLab, lab_is_loopback

            base = self._lab.config if self._lab is not None else self._lab_config()
            if not lab_is_loopback(base):
                return None
            # base's run directory already names the xdist worker: ours is "<it>-ns"
            self._netlab = NetLab(base=base)
        return self._netlab

    def run_dir(self) -> Path | None:
        """``--lab-run-dir``, else the ini's ``sip_lab_run_dir`` (relative to the ini file)."""
        value = self.option("sip_lab_run_dir")
        if value:
            return Path(value).absolute()
        ini = self.config.getini("sip_lab_run_dir")
        if ini:
            base = Path(self.config.inipath).parent if self.config.inipath else Path.cwd()
            return (base / str(ini)).absolute()
        return None

    def _lab_config(self) -> Any:
        """The config of the lab :meth:`lab` would use, without starting it."""
        from sipclient.lab import Lab

        run_dir = self.run_dir()
        if run_dir:
            return Lab.from_run_dir(run_dir).config
        from sipclient.lab.testing import test_lab_config

        return test_lab_config("sip")

    def target(self) -> Any:
        if self._target is not None:
            return self._target
        from sipclient.scenario.labs import TargetSpec
        from sipclient.scenario.target import ProfileError

        spec = TargetSpec(target=self.option("sip_target"), profile=self.option("sip_profile"),
                          insecure=bool(self.option("sip_insecure")))
        try:
            self._target = spec.build(None if self.external else self.lab())
        except ProfileError as exc:
            pytest.fail(f"sipclient target: {exc}", pytrace=False)
        return self._target

    def report_dir(self, scenario: Any) -> Path:
        from sipclient.scenario.selection import slug

        if self._report_root is None:
            given = self.option("sip_report_dir")
            root = Path(given) if given else \
                self.config.rootpath / "reports" / f"pytest-{time.strftime('%Y%m%d-%H%M%S')}"
            self._report_root = root.absolute()
        return self._report_root / slug(scenario.path, self.config.rootpath)

    def write_html(self) -> None:
        """report.html of every scenario in the report folder (their result.json, so
        scenarios run by xdist workers are in it too, with ``--sip-report-dir``)."""
        given = self.option("sip_report_dir")
        root = self._report_root or (Path(given).absolute() if given else None)
        if root is None or not root.is_dir():
            return
        from sipclient.scenario.html_report import write_report
        from sipclient.scenario.reports import run_document

        results = []
        for path in sorted(root.glob("*/result.json")):
            try:
                results.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        if not results:
            return
        started = min((r.get("started") or time.time()) for r in results)
        ended = max((r.get("started") or started) + (r.get("duration") or 0) for r in results)
        target = "the built-in lab" if not self.external else str(
            self.option("sip_target") or self.option("sip_profile"))
        doc = run_document(results, started=started, duration=ended - started, target=target,
                           report_dir=root)
        try:
            page = write_report(root, doc, title="sipclient scenarios (pytest)")
        except Exception as exc:  # noqa: BLE001 - the verdicts stand without the page
            print(f"sipclient: report.html not written: {type(exc).__name__}: {exc}")
            return
        print(f"\nsipclient report: {page}")

    def close(self) -> None:
        try:
            if self._netlab is not None:
                self._netlab.close()
                self._netlab = None
            if self._lab is not None and self._started:
                self._lab.down()
        finally:
            self._lab = None
            if self._claim is not None:
                self._claim.release()
                self._claim = None


_SESSION = pytest.StashKey[SipSession]()


def _needs_netns(scenario: Any) -> bool:
    from sipclient.scenario.netlab import needs_netns

    return needs_netns(scenario)


def _session(config: pytest.Config) -> SipSession:
    return config.stash[_SESSION]


# ----------------------------------------------------------------------------- collection

def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioLoadError(Exception):
    """A scenario file that does not load: every ``file:line: message``."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from sipclient.scenario.loader import load_scenario
        from sipclient.scenario.model import ScenarioError, ScenarioErrors

        try:
            scenario = load_scenario(self.path)
        except ScenarioErrors as exc:
            raise ScenarioLoadError([str(e) for e in exc.errors]) from None
        except ScenarioError as exc:
            raise ScenarioLoadError([str(exc)]) from None
        yield ScenarioItem.from_parent(self, name=scenario.name.replace("::", ": :"),
                                       scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioLoadError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


class ScenarioFailed(Exception):
    """A scenario that did not pass; ``result`` is its result dict."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("status"))
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: dict[str, Any] | None = None
        for tag in scenario.tags:
            self.keywords[str(tag)] = True
        self.extra_keyword_matches.update(str(t) for t in scenario.tags)

    def runtest(self) -> None:
        from sipclient.scenario.engine import run_scenario
        from sipclient.scenario.runner import annotate

        session = _session(self.config)
        report_dir = session.report_dir(self.scenario)
        netlab = session.netlab(self.scenario)
        if netlab is not None:  # a WebRTC agent: in the namespace lab's agents' namespace
            from sipclient.scenario.netlab import NetLabUnavailable

            try:
                result = netlab.run_blocking(
                    lambda target: run_scenario(self.scenario, target, report_dir))
            except NetLabUnavailable as exc:
                pytest.fail(str(exc), pytrace=False)
            self.user_properties.append(("lab", netlab.description))
        else:
            target = session.target()
            result = asyncio.run(run_scenario(self.scenario, target, report_dir))
        self.result = annotate(result.to_dict(), self.scenario)
        self.user_properties.append(("report_dir", str(report_dir)))
        if self.result.get("status") != "passed":
            raise ScenarioFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            from sipclient.scenario.reports import failure_text

            r = excinfo.value.result
            text = f"scenario {r.get('name')!r} {r.get('status')} ({self.path})\n"
            text += failure_text(r)
            if r.get("report_dir"):
                text += f"\nreport: {r['report_dir']}"
            return text
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"scenario: {self.scenario.name}"


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def sip_lab(request: pytest.FixtureRequest) -> Any:
    """The session's Asterisk lab (started on first use, stopped at the end)."""
    return _session(request.config).lab()


@pytest.fixture(scope="session")
def sip_target(request: pytest.FixtureRequest) -> Any:
    """Where scenarios run: the lab's target, or --sip-target/--sip-profile."""
    return _session(request.config).target()


def _new_agent(target: Any, account: str | int, transport: str,
               fields: dict[str, Any]) -> Any:
    """An Agent (not opened yet) for ``account`` of ``target`` over ``transport``."""
    from sipclient.agent import Agent, AgentConfig

    acc = target.account(account)
    config = dict(user=acc.user, password=acc.password, auth_user=acc.auth_user,
                  domain=acc.domain, server=target.server(transport),
                  insecure=target.insecure, ca_file=target.ca_file)
    config.update(fields)
    return Agent(AgentConfig(**config))


class AgentFactory:
    """``sip_agent("1001", transport="udp", **AgentConfig fields)`` -> an opened Agent on
    this factory's event loop; ``sip_agent.run(coro)`` runs a coroutine there."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.agents: list[Any] = []

    def run(self, awaitable: Any, timeout: float | None = None) -> Any:
        if timeout is not None:
            awaitable = asyncio.wait_for(awaitable, timeout)
        return self.loop.run_until_complete(awaitable)

    def __call__(self, account: str | int, transport: str = "udp", **fields: Any) -> Any:
        agent = _new_agent(self.target, account, transport, fields)
        self.run(agent.open())
        self.agents.append(agent)
        return agent

    def close(self) -> None:
        try:
            for agent in reversed(self.agents):
                self.run(agent.close())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


class AsyncAgentFactory:
    """In an async test (pytest-asyncio): ``alice = await sip_agent("1001", transport=...)``
    is an opened Agent on the test's own event loop, closed (hung up, unregistered) at
    teardown on that loop."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.agents: list[Any] = []

    async def __call__(self, account: str | int, transport: str = "udp",
                       **fields: Any) -> Any:
        agent = _new_agent(self.target, account, transport, fields)
        await agent.open()
        self.agents.append(agent)
        return agent

    async def close(self) -> None:
        for agent in reversed(self.agents):
            await agent.close()


@pytest.fixture
def sip_agent(request: pytest.FixtureRequest, sip_target: Any) -> Iterator[Any]:
    """A factory of opened agents, closed at teardown: :class:`AgentFactory` in a plain
    test, :class:`AsyncAgentFactory` (``await sip_agent("1001")``, on the test's loop) in
    an ``async def`` test run by pytest-asyncio."""
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        yield request.getfixturevalue("_sip_agent_async")
        return
    factory = AgentFactory(sip_target)
    try:
        yield factory
    finally:
        factory.close()


try:  # the async factory needs pytest-asyncio (an async fixture runs on the test's loop)
    import pytest_asyncio
except ImportError:  # pragma: no cover - without it, async tests do not run at all
    pass
else:
    @pytest_asyncio.fixture
    async def _sip_agent_async(sip_target: Any) -> Any:
        factory = AsyncAgentFactory(sip_target)
        try:
            yield factory
        finally:
            await factory.close()
