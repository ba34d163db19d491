"""The checks the JSON Schema cannot do, over the whole file, before anything runs.

* agents named by ``agent:`` / ``from:`` are declared;
* calls named by ``call:`` were named by an earlier ``as:`` (in order; a call named inside a
  ``parallel`` branch is usable later in that branch and after the ``parallel`` step; one
  named inside ``repeat`` later in the loop and after it);
* every ``${...}`` is defined at that point: vars, ``set`` values and captures of earlier
  steps, ``env.X`` (set in the environment), ``target.*``, agent and call facts, ``${i}``
  inside ``repeat``, ``new.*``;
* ``{env: NAME}`` vars without ``default`` have NAME set; secret files and WAV files exist;
* regular expressions (``expect`` headers, captures) compile;
* names do not clash (a call named like an agent, a var called ``target``);
* codec names (an agent's ``codecs:``, a ``call``'s or ``answer``'s) are in the codec registry
  (:mod:`sipclient.media.codecs.registry`) and ones that agent can send.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .model import Scenario, ScenarioError, Step
from .schema import (AGENT_FACTS, CALL_FACTS, KINDS, NEW_FACTS, RESERVED, STEP_KINDS,
                     TARGET_FACTS)
from .validate import show, suggest
from .variables import NAME, WHOLE, references, unclosed
from .yamlpos import Document, PathKey

LineOf = Callable[[PathKey], int]
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is fine in a header value


def check(scenario: Scenario, doc: Document, sources: Mapping[str, PathKey],
          env: Mapping[str, str], *, instance: bool = False) -> list[ScenarioError]:
    """The semantic errors of ``scenario`` (lines from ``doc``; ``sources`` maps a step's
    ``path`` to where its item is in the data). ``instance``: the file runs as a load
    instance (``sipclient load run``), where ``${i}`` is the instance number everywhere."""
    return _Checker(scenario, doc, sources, env, instance).run()


class _Scope:
    """What is defined at one point of the steps."""

    def __init__(self, names: set[str], calls: set[str], loop: int = 0,
                 facts: bool = True) -> None:
        self.names, self.calls, self.loop, self.facts = names, calls, loop, facts

    def copy(self, loop: int | None = None) -> "_Scope":
        return _Scope(set(self.names), set(self.calls),
                      self.loop if loop is None else loop, self.facts)


def _strings(value: Any, sub: PathKey = ()) -> Iterator[tuple[str, PathKey]]:
    if isinstance(value, str):
        yield value, sub
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, sub + (key,))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _strings(item, sub + (n,))


def _is_ref(value: Any) -> bool:
    return isinstance(value, str) and bool(WHOLE.match(value))


class _Checker:
    def __init__(self, scenario: Scenario, doc: Document, sources: Mapping[str, PathKey],
                 env: Mapping[str, str], instance: bool = False) -> None:
        self.scenario, self.doc, self.sources, self.env = scenario, doc, sources, env
        self.instance = instance
        self.base = scenario.path.parent
        self.errors: list[ScenarioError] = []
        self.agents = list(scenario.agents)
        self.var_names = list(scenario.vars)
        self.all_calls: dict[str, int] = {}  # call name -> line of its first `as:`
        self.all_names: dict[str, int] = {}  # set/capture name -> line
        self.all_steps: dict[str, int] = {}  # a step's name: -> line
        self.seen_steps: set[str] = set()  # names of the steps checked so far
        self._collect(scenario.steps)

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(ScenarioError(self.scenario.path, line, message))

    def run(self) -> list[ScenarioError]:
        scope = _Scope(set(), set(), loop=1 if self.instance else 0, facts=False)
        self.check_vars(scope)
        self.check_agents(scope)
        scope.facts = True
        self.steps(self.scenario.steps, scope)
        return self.errors

    # -- what the steps define anywhere (for "used before" messages) -----------------------

    def _collect(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            line = step.where.line
            if isinstance(step.args.get("name"), str) and step.kind != "set":
                self.all_steps.setdefault(step.args["name"], line)
            if isinstance(step.args.get("as"), str):
                self.all_calls.setdefault(step.args["as"], line)
            if step.kind == "set":
                for name in step.args:
                    self.all_names.setdefault(str(name), line)
            capture = step.args.get("capture") if step.kind == "expect" else None
            if isinstance(capture, dict):
                for name in capture:
                    self.all_names.setdefault(str(name), line)
            self._collect(step.children)
            for branch in step.branches.values():
                self._collect(branch)

    # -- vars and agents ------------------------------------------------------------------

    def check_vars(self, scope: _Scope) -> None:
        for name, var in self.scenario.vars.items():
            prefix = f"var {name}: "
            at: PathKey = ("vars", name)
            line = self.doc.line(at)
            if name in RESERVED:
                self.error(self.doc.key_line(at), f"{prefix}\"{name}\" is reserved "
                                                  f"(${{{name}...}} means something else)")
            raw = self.doc.data["vars"][name]
            if isinstance(raw, dict):
                if "env" in raw and "secret_file" in raw:
                    self.error(line, f"{prefix}takes env: or secret_file:, not both")
                elif "env" not in raw and "secret_file" not in raw:
                    self.error(line, f"{prefix}a mapping value needs env: NAME or "
                                     f"secret_file: path (quote it to mean text)")
                elif "default" in raw and "env" not in raw:
                    self.error(line, f"{prefix}default: goes with env:")
                if var.env is not None and var.env not in self.env and "default" not in raw:
                    self.error(self.doc.line(at + ("env",)),
                               f"{prefix}environment variable {var.env} is not set "
                               f"(set it, or give a default:)")
                if var.secret_file is not None and not var.secret_file.is_file():
                    self.error(self.doc.line(at + ("secret_file",)),
                               f"{prefix}secret file {show(raw['secret_file'])} not found "
                               f"(relative to the scenario file)")
                self.refs(raw.get("default"), lambda sub: self.doc.line(at + ("default",) + sub),
                          prefix, scope)
            else:
                self.refs(var.value, lambda sub: self.doc.line(at + sub), prefix, scope)
            scope.names.add(name)

    def check_agents(self, scope: _Scope) -> None:
        for name, agent in self.scenario.agents.items():
            prefix = f"agent {name}: "
            at: PathKey = ("agents", name)
            if name in RESERVED or name in self.scenario.vars:
                what = "reserved" if name in RESERVED else "already a var"
                self.error(self.doc.key_line(at), f"{prefix}the name \"{name}\" is {what}")
            self.refs(agent.fields, lambda sub: self.doc.line(at + sub), prefix, scope)
            play = agent.fields.get("play")
            self.media_file(play, self.doc.line(at + ("play",)), prefix + "\"play\": ")
            self.server(agent.fields.get("server"), self.doc.line(at + ("server",)), prefix)
            self.headers(agent.fields.get("headers"), lambda sub: self.doc.line(at + sub),
                         prefix, values=True)
            self.codecs(agent.fields.get("codecs"), lambda sub: self.doc.line(at + sub),
                        prefix, name)

    def server(self, value: Any, line: int, prefix: str) -> None:
        """A literal ``server:`` must be a target the agent can use (not at run time)."""
        if not isinstance(value, str) or "${" in value:
            return
        from sipclient.io.target import TargetError, parse_target

        try:
            parse_target(value)
        except TargetError as exc:
            self.error(line, f"{prefix}\"server\": {str(exc).split('; expected')[0]}")

    def headers(self, value: Any, line_of: LineOf, prefix: str, *, values: bool) -> None:
        """Header names are tokens (RFC 3261 25.1) and values hold no CR/LF: either would
        let a scenario inject lines into the message it sends."""
        if not isinstance(value, dict):
            return
        for name, text in value.items():
            where = line_of(("headers", name))
            if not _TOKEN.fullmatch(str(name)):
                self.error(where, f"{prefix}header name {show(str(name))} is not a token "
                                  f"(letters, digits, -.!%*_+`'~; no spaces, CR or LF)")
            elif values and isinstance(text, str) and _CONTROL.search(text):
                self.error(where, f"{prefix}header {name}: the value holds a control "
                                  f"character (CR/LF would start a new header line)")

    def codecs(self, value: Any, line_of: LineOf, prefix: str, agent: Any) -> None:
        """Every literal name of ``codecs:`` is a codec of the registry that ``agent`` can
        send (RTP: the playable ones; a WebRTC agent: aiortc's), any case."""
        from sipclient.media.codecs.registry import lookup, playable_names, webrtc_codecs

        fields = self.scenario.agents[agent].fields if agent in self.scenario.agents else {}
        webrtc = fields.get("webrtc") is True
        usable = tuple(c.name for c in webrtc_codecs()) if webrtc else playable_names()
        for n, name in enumerate(value if isinstance(value, list) else ()):  # else: the schema's
            if not isinstance(name, str) or "${" in name:
                continue
            line = line_of(("codecs", n))
            codec = lookup(name)
            if codec is None:
                upper = {u.upper(): u for u in usable}
                close = difflib.get_close_matches(name.upper(), upper, n=1, cutoff=0.6)
                hint = f" (did you mean \"{upper[close[0]]}\"?)" if close else ""
                self.error(line, f"{prefix}\"codecs\": unknown codec {show(name)}{hint} "
                                 f"(known: {', '.join(usable)})")
            elif codec.name not in usable:
                why = "not carried over WebRTC" if webrtc and codec.playable else \
                    "known to SDP only: an agent cannot send it"
                self.error(line, f"{prefix}\"codecs\": {codec.name} is {why} (known: "
                                 f"{', '.join(usable)})")

    def media_file(self, value: Any, line: int, prefix: str) -> None:
        if not isinstance(value, str) or "${" in value or value == "silence" \
                or value.startswith("tone:"):
            return
        if not (self.base / Path(value).expanduser()).is_file():
            self.error(line, f"{prefix}WAV file {show(value)} not found (relative to the "
                             f"scenario file; or tone:HZ, silence)")

    # -- references -----------------------------------------------------------------------

    def refs(self, value: Any, line_of: LineOf, prefix: str, scope: _Scope) -> None:
        for text, sub in _strings(value):
            if unclosed(text):
                self.error(line_of(sub), f"{prefix}\"${{\" without a closing \"}}\" in "
                                         f"{show(text)} (write $${{ for a literal ${{)")
            for name, _ in references(text):
                problem = self.ref_problem(name.strip(), scope)
                if problem:
                    self.error(line_of(sub), prefix + problem)

    def ref_problem(self, name: str, scope: _Scope) -> str | None:
        ref = f"\"${{{name}}}\""
        if not NAME.match(name):
            return (f"{ref} is not a valid reference (a name, or name.field as in "
                    f"${{alice.user}})")
        head, dot, field = name.partition(".")
        if not dot:
            if name == "i":
                return None if scope.loop else f"{ref} is only defined inside repeat"
            if name in scope.names:
                return None
            if name in self.agents:
                return f"{ref} names an agent: say which fact, e.g. ${{{name}.user}}"
            if name in self.all_calls:
                return f"{ref} names a call: say which fact, e.g. ${{{name}.call_id}}"
            if name in self.all_names:
                return (f"{ref} is used before the step that sets it "
                        f"(line {self.all_names[name]})")
            return f"undefined variable {ref}{suggest(name, scope.names)}"
        if head == "env":
            if field in self.env:
                return None
            return f"environment variable {field} is not set (used as {ref})"
        if head == "target":
            return None if field in TARGET_FACTS else \
                f"unknown target fact {ref} (target has: {', '.join(TARGET_FACTS)})"
        if head == "new":
            return None if field in NEW_FACTS else \
                f"unknown {ref} (new has: {', '.join(NEW_FACTS)})"
        if head in self.agents or head in self.all_calls:
            if not scope.facts:
                return (f"{ref}: agent and call facts exist only in steps "
                        f"(vars and agents are set up before)")
        if head in self.agents:
            return None if field in AGENT_FACTS else \
                f"unknown agent fact {ref} (an agent has: {', '.join(AGENT_FACTS)})"
        if head in scope.calls:
            return None if field in CALL_FACTS else \
                f"unknown call fact {ref} (a call has: {', '.join(CALL_FACTS)})"
        if head in self.all_calls:
            return (f"call \"{head}\" is used before the step that names it "
                    f"(as: {head}, line {self.all_calls[head]})")
        known = self.agents + sorted(scope.calls) + ["env", "target", "new"]
        return f"undefined variable {ref}: no agent or call named \"{head}\"{suggest(head, known)}"

    # -- steps ----------------------------------------------------------------------------

    def steps(self, steps: tuple[Step, ...], scope: _Scope) -> None:
        for step in steps:
            self.step(step, scope)

    def step(self, step: Step, scope: _Scope) -> None:
        self._step(step, scope)
        if isinstance(step.args.get("name"), str) and step.kind != "set":
            self.seen_steps.add(step.args["name"])

    def _step(self, step: Step, scope: _Scope) -> None:
        prefix = f"step {step.path} ({step.kind}): "
        at = self.sources[step.path] + (step.kind,)

        def line_of(sub: PathKey) -> int:
            return self.doc.line(at + sub)

        if step.kind not in STEP_KINDS:  # already an error; keep the names it defines
            if isinstance(step.args.get("as"), str):
                scope.calls.add(step.args["as"])
            return
        if step.kind == "parallel":
            names, calls = set(scope.names), set(scope.calls)
            for branch in step.branches.values():
                inner = scope.copy()
                self.steps(branch, inner)
                names |= inner.names
                calls |= inner.calls
            scope.names, scope.calls = names, calls
            return
        self.refs(step.args, line_of, prefix, scope)
        if step.kind == "repeat":
            inner = scope.copy(loop=scope.loop + 1)
            self.steps(step.children, inner)
            scope.names |= inner.names
            scope.calls |= inner.calls
            return
        if step.kind == "set":
            for name in step.args:
                self.new_name(str(name), line_of((name,)), prefix)
                scope.names.add(str(name))
            return
        for key in ("agent", "from"):
            agent = step.args.get(key)
            if isinstance(agent, str) and not _is_ref(agent) and agent not in self.agents:
                self.error(line_of((key,)), f"{prefix}unknown agent \"{agent}\""
                                            f"{suggest(agent, self.agents)} "
                                            f"(agents: {', '.join(self.agents) or 'none'})")
        call = step.args.get("call")
        if isinstance(call, str) and not _is_ref(call) and call not in scope.calls:
            if call in self.all_calls:
                self.error(line_of(("call",)), f"{prefix}call \"{call}\" is used before the "
                                               f"step that names it (as: {call}, line "
                                               f"{self.all_calls[call]})")
            else:
                known = ", ".join(sorted(scope.calls)) or "none yet; name one with as:"
                self.error(line_of(("call",)), f"{prefix}unknown call \"{call}\""
                                               f"{suggest(call, scope.calls)} (calls: {known})")
        self.headers(step.args.get("headers"), line_of, prefix, values=step.kind != "expect")
        kind = KINDS.get(step.kind)
        if kind is not None and kind.check is not None:
            kind.check(self, step, prefix, line_of)
        name = step.args.get("as")
        if isinstance(name, str):
            if name in self.agents or name in self.scenario.vars or name in RESERVED:
                what = "an agent" if name in self.agents else \
                    "a var" if name in self.scenario.vars else "reserved"
                self.error(line_of(("as",)), f"{prefix}a call cannot be named \"{name}\": "
                                             f"that name is {what}")
            scope.calls.add(name)
        capture = step.args.get("capture") if step.kind == "expect" else None
        if isinstance(capture, dict):
            for cname in capture:
                self.new_name(str(cname), line_of(("capture", cname)), prefix)
                scope.names.add(str(cname))

    @staticmethod
    def suggest(word: str, choices: Any) -> str:
        """`` (did you mean "x"?)`` or ``""`` (for the kinds' checks)."""
        return suggest(word, choices)

    @staticmethod
    def is_ref(value: Any) -> bool:
        """Is ``value`` one whole ``${...}`` reference (checked when the step runs)?"""
        return _is_ref(value)

    def new_name(self, name: str, line: int, prefix: str) -> None:
        if name in RESERVED or name in self.agents:
            what = "reserved" if name in RESERVED else "an agent"
            self.error(line, f"{prefix}\"{name}\" cannot be a variable: that name is {what}")

    # -- kinds ----------------------------------------------------------------------------

    def regex(self, pattern: Any, line: int, prefix: str, what: str) -> None:
        if not isinstance(pattern, (str, int, float)) or isinstance(pattern, bool):
            return
        text = re.sub(r"\$\{[^}]*\}", "x", str(pattern))
        try:
            re.compile(text)
        except re.error as exc:
            where = f" at position {exc.pos + 1}" if exc.pos is not None else ""
            self.error(line, f"{prefix}bad regular expression for {what}: {exc.msg}{where} "
                             f"in {show(pattern)}")

