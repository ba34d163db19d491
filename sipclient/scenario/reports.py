"""The run's reports: a JSON results document and JUnit XML, both from result dicts.

A scenario's result reaches the runner as a plain dict (``ScenarioResult.to_dict()``, the
same shape whether it ran in this process or in a worker, or was read back from the
``result.json`` the engine wrote when it was interrupted). Everything here is pure: dicts in,
text out. The engine already printed secrets as ``***``; nothing here adds any.

* :func:`run_document` - the run's JSON (``run.json``, ``--json FILE``): metadata, counts
  and every scenario's whole result (steps, timings, message trace, media statistics);
* :func:`junit_xml` - one ``<testsuite>`` for the run, one ``<testcase>`` per scenario
  (classname from its folder), ``<failure>``/``<error>`` with the failing step, what was
  expected, what arrived and the ladder, ``<system-out>`` with each agent's flow;
* :func:`failing_step`, :func:`flows_text`, :func:`failure_text` - shared with the
  terminal output and the pytest plugin.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sipclient.io.atomic import write_atomic

__all__ = ["STATUSES", "counts", "failing_step", "failure_text", "flows_text", "junit_xml",
           "run_document", "write_json", "xml_safe"]

#: a scenario's outcome, as ``ScenarioResult.status``
STATUSES = ("passed", "failed", "error", "interrupted", "skipped")
_BAD = ("failed", "error", "interrupted")


# ----------------------------------------------------------------------------- shared views

def counts(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{"total": n, "passed": .., "failed": .., "error": .., "interrupted": ..}``."""
    out = {"total": 0, **{s: 0 for s in STATUSES}}
    for r in results:
        out["total"] += 1
        status = str(r.get("status") or "error")
        out[status if status in STATUSES else "error"] += 1
    return out


def _path_parts(path: str) -> list[str]:
    return [p for p in str(path).split(".") if p]


def failing_step(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The step that made ``result`` fail: the first bad step, or the deepest bad step below
    it (a ``parallel`` or ``repeat`` fails because one of its children did)."""
    steps = [s for s in result.get("steps") or () if isinstance(s, Mapping)]
    named = result.get("failing_step")
    if named:
        for s in steps:
            if s.get("path") == named:
                return dict(s)
    bad = [s for s in steps if s.get("status") in _BAD]
    if not bad:
        return None
    first = bad[0]
    prefix = _path_parts(first.get("path", ""))
    deeper = [s for s in bad
              if _path_parts(s.get("path", ""))[:len(prefix)] == prefix
              and len(_path_parts(s.get("path", ""))) > len(prefix)]
    if deeper:
        return dict(max(deeper, key=lambda s: len(_path_parts(s.get("path", "")))))
    return dict(first)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def flows_text(result: Mapping[str, Any]) -> str:
    """Each agent's flow on one line (``alice: REGISTER 401 REGISTER 200``); a flow per
    call gets a line of its own."""
    flows = result.get("flows") or {}
    lines: list[str] = []
    if isinstance(flows, Mapping):
        for agent, flow in flows.items():
            if isinstance(flow, Mapping):
                for call, sub in flow.items():
                    lines.append(f"{agent} {call}: {_flow_words(sub)}")
            else:
                lines.append(f"{agent}: {_flow_words(flow)}")
    elif isinstance(flows, Sequence) and not isinstance(flows, str):
        lines.append(_flow_words(flows))
    return "\n".join(lines)


def _flow_words(flow: Any) -> str:
    if isinstance(flow, str):
        return flow
    if isinstance(flow, Iterable):
        return " ".join(str(x) for x in flow)
    return str(flow)


def step_where(step: Mapping[str, Any]) -> str:
    """``file:line`` of a step dict (``where`` or ``file`` + ``line``), or ``""``."""
    if step.get("where"):
        return str(step["where"])
    if step.get("file"):
        return f"{step['file']}:{step['line']}" if step.get("line") else str(step["file"])
    return ""


def step_label(step: Mapping[str, Any]) -> str:
    kind = step.get("kind") or "step"
    title = step.get("title")
    name = f"step {step.get('path', '?')} ({kind})"
    if title and title != kind:
        name += f" {title!r}"
    return name


def failure_message(result: Mapping[str, Any]) -> str:
    """One line: which step failed and why (the JUnit ``message`` attribute)."""
    step = failing_step(result)
    status = result.get("status")
    if step is None:
        reason = result.get("error") or result.get("message") or status or "failed"
        return str(reason).strip().split("\n")[0]
    message = _text(step.get("message")).strip().splitlines()
    head = message[0] if message else str(step.get("status"))
    where = f" at {step_where(step)}" if step_where(step) else ""
    return f"{step_label(step)}{where}: {head}"


def failure_text(result: Mapping[str, Any], *, ladder: bool = True) -> str:
    """The failing step (its YAML when the runner added it as ``source``), what was expected,
    what arrived instead and the ladder so far: what a person needs to see first."""
    out: list[str] = []
    step = failing_step(result)
    status = result.get("status")
    if status == "interrupted":
        out.append("interrupted (the agents hung up and unregistered)")
    error = str(result.get("error") or "")
    if error and error != "interrupted" and (
            step is None or not step.get("message") or str(step["message"]) not in error):
        out.append(error)
    if step is not None:
        where = f" at {step_where(step)}" if step_where(step) else ""
        out.append(f"{step_label(step)}{where}: {step.get('status')}")
        if step.get("source"):
            out.append(_indent(str(step["source"])))
        if step.get("message"):
            out.append(_indent(_text(step["message"]), "  "))
        if step.get("expected") not in (None, ""):
            out.append("expected:")
            out.append(_indent(_text(step["expected"])))
        if step.get("received") not in (None, ""):
            out.append("received:")
            out.append(_indent(_text(step["received"])))
    if ladder and result.get("ladder"):
        out.append("ladder so far:")
        out.append(_indent(_text(result["ladder"]).rstrip()))
    return "\n".join(out)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


# ----------------------------------------------------------------------------- JSON

def run_document(results: Sequence[Mapping[str, Any]], *, started: float, duration: float,
                 target: str, report_dir: str | Path | None = None,
                 paths: Sequence[str] = (), keyword: str | None = None,
                 deselected: int = 0, workers: int = 1, exit_code: int | None = None,
                 interrupted: str | None = None) -> dict[str, Any]:
    """The run's results document: metadata, counts and each scenario's whole result."""
    from sipclient import __version__ as version  # noqa: PLC0415 - keep module import light

    return {
        "tool": "sipclient",
        "version": version,
        "started": _iso(started),
        "duration": round(float(duration), 3),
        "target": target,
        "paths": list(paths),
        "keyword": keyword,
        "workers": workers,
        "report_dir": str(report_dir) if report_dir is not None else None,
        "counts": {**counts(results), "deselected": deselected},
        "exit_code": exit_code,
        "interrupted": interrupted,
        "scenarios": [dict(r) for r in results],
    }


def write_json(path: str | Path, document: Mapping[str, Any]) -> Path:
    return write_atomic(path, json.dumps(document, indent=2, default=str) + "\n",
                        make_parents=True)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + \
        f".{int((epoch % 1) * 1000):03d}Z"


# ----------------------------------------------------------------------------- JUnit

# XML 1.0 allows tab, LF, CR and these ranges only (2.2 Characters)
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: Any) -> str:
    """``text`` with every character XML 1.0 cannot carry written as ``\\xNN`` / ``\\uNNNN``
    (a raw SIP message may hold a NUL or an escape byte on purpose)."""
    def repl(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _XML_BAD.sub(repl, str(text))


def classname(path: str | Path, root: str | Path | None = None) -> str:
    """The scenario's folder, dotted: ``scenarios/calls/x.sip.yaml`` -> ``scenarios.calls``."""
    p = Path(path)
    if root is not None:
        try:
            p = p.resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
    parts = [x for x in p.parent.parts if x not in ("/", ".", "")]
    return ".".join(parts) or "scenarios"


def junit_xml(document: Mapping[str, Any], *, root: str | Path | None = None,
              suite_name: str = "sipclient run") -> str:
    """JUnit XML of a :func:`run_document` (Jenkins/GitLab flavour)."""
    results = list(document.get("scenarios") or ())
    c = counts(results)
    suite = ET.Element("testsuite", {
        "name": suite_name,
        "tests": str(c["total"]),
        "failures": str(c["failed"]),
        "errors": str(c["error"] + c["interrupted"]),
        "skipped": str(c["skipped"]),
        "time": f"{float(document.get('duration') or 0):.3f}",
        "timestamp": str(document.get("started") or ""),
    })
    props = ET.SubElement(suite, "properties")
    for key in ("target", "report_dir", "keyword", "interrupted"):
        if document.get(key):
            ET.SubElement(props, "property", {"name": key, "value": xml_safe(document[key])})
    for r in results:
        case = ET.SubElement(suite, "testcase", {
            "classname": xml_safe(classname(r.get("path") or "", root)),
            "name": xml_safe(r.get("name") or Path(str(r.get("path"))).name),
            "file": xml_safe(r.get("path") or ""),
            "time": f"{float(r.get('duration') or 0):.3f}",
        })
        status = r.get("status")
        if status in _BAD:
            tag = "failure" if status == "failed" else "error"
            bad = ET.SubElement(case, tag, {"message": xml_safe(failure_message(r)),
                                            "type": str(status)})
            bad.text = xml_safe(failure_text(r))
        elif status == "skipped":
            ET.SubElement(case, "skipped", {"message": xml_safe(r.get("error") or "skipped")})
        out = flows_text(r)
        if r.get("report_dir"):
            out += ("\n" if out else "") + f"report: {r['report_dir']}"
        if out:
            ET.SubElement(case, "system-out").text = xml_safe(out)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + \
        ET.tostring(suite, encoding="unicode") + "\n"
