"""``report.html``: one self-contained page per run (``sipclient run``, the pytest plugin,
and load runs through :func:`render_report`'s ``sections``).

The page loads nothing (inline CSS, SVG charts, a few lines of JavaScript; no fonts, no
scripts, no network): it opens from a CI artifact or a mail. It shows

- the run's settings and timings (target, paths, ``-k``, workers, version, start, duration,
  counts) and the results table: one row per scenario (status, name, duration, steps,
  file), filtered by status (buttons) and by a search in the names;
- per scenario (``<details>``, failures open): its steps with start offset, time and
  outcome; the failure with the step's YAML, expected and received side by side; each
  agent's flow; the clickable ladder (today's HTML ladder page, embedded in an ``<iframe
  srcdoc>``); each RTP stream's figures with its jitter and loss over time as SVG charts;
  the audio received (``<audio>`` linked to the ``received-N.wav`` files beside the
  capture, see :mod:`sipclient.scenario.report_media`); the DTMF received; links to
  ``capture.pcap``, ``result.json``, ``ladder.txt`` and every other file of its folder.

Every text goes through :func:`html.escape`; message texts reach the page only inside the
ladder's own JSON block (escaped there). Results come redacted from the engine, so no secret
reaches the page. :func:`render_report` is pure (dicts and views in, text out); :func:`write_report`
reads the scenario folders and writes the file. Load runs (or any caller) add their own
sections: ``Section(title, html)``, with :func:`line_chart` for series over time.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sipclient.io.atomic import write_atomic

from .reports import counts, failing_step

__all__ = ["REPORT_NAME", "Section", "esc", "line_chart", "render_report", "write_report"]

REPORT_NAME = "report.html"
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")
_STATUS_ORDER = ("failed", "error", "interrupted", "passed", "skipped")


@dataclass(frozen=True)
class Section:
    """A section a caller adds (a load run's charts...): ``html`` is trusted markup (build
    it with :func:`line_chart` and :func:`esc`), shown after the results table."""

    title: str
    html: str
    id: str = ""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# ----------------------------------------------------------------------------- charts

def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *,
               title: str, x_label: str = "s", y_label: str = "", width: int = 520,
               height: int = 150, bars: bool = False) -> str:
    """An inline SVG chart: one polyline (or bars) per ``(name, xs, ys)``, axes with their
    ranges, a legend; ``class="chart"``. Empty series give a chart saying "no data"."""
    pad_l, pad_r, pad_t, pad_b = 48, 10, 20, 26
    pts = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys)]
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{esc(title)}"><title>{esc(title)}</title>'
           f'<text x="{pad_l}" y="13" class="ct">{esc(title)}</text>']
    if not pts:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                   f'class="cn">no data</text></svg>')
        return "".join(out)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y1 = max(p[1] for p in pts)
    y1 = y1 if y1 > 0 else 1.0
    x1 = x1 if x1 > x0 else x0 + 1
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return pad_t + h - y / y1 * h

    out.append(f'<path class="axis" d="M{pad_l},{pad_t} V{pad_t + h} H{pad_l + w}"/>'
               f'<text x="{pad_l - 4}" y="{pad_t + 4}" class="ay">{_num(y1)}</text>'
               f'<text x="{pad_l - 4}" y="{pad_t + h}" class="ay">0</text>'
               f'<text x="{pad_l}" y="{height - 8}" class="ax">{_num(x0, 1)}</text>'
               f'<text x="{pad_l + w}" y="{height - 8}" class="ax" text-anchor="end">'
               f'{_num(x1, 1)} {esc(x_label)}</text>'
               f'<text x="{pad_l - 4}" y="{pad_t + h / 2}" class="ay">{esc(y_label)}</text>')
    for i, (name, xs, ys) in enumerate(series):
        color = _COLORS[i % len(_COLORS)]
        if bars:
            bw = max(1.0, w / max(len(xs), 1) * 0.8 / max(len(series), 1))
            out.append("".join(
                f'<rect x="{sx(x) + i * bw:.1f}" y="{sy(y):.1f}" width="{bw:.1f}" '
                f'height="{pad_t + h - sy(y):.1f}" fill="{color}"/>' for x, y in zip(xs, ys)))
        else:
            points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys))
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.4" '
                       f'points="{points}"/>')
        out.append(f'<text x="{pad_l + w - 4}" y="{pad_t + 12 + 12 * i}" text-anchor="end" '
                   f'fill="{color}" class="lg">{esc(name)}</text>')
    out.append("</svg>")
    return "".join(out)


# ----------------------------------------------------------------------------- the page

_CSS = """
body{margin:0;font:13px/1.4 system-ui,sans-serif;color:#222;background:#fafafa}
header,section.block{padding:10px 16px}header h1{font-size:18px;margin:0 0 4px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f0f0f0}
.passed{color:#17692e}.failed,.error,.interrupted{color:#b3261e;font-weight:600}
.skipped{color:#777}.counts span{margin-right:14px}
#filters button{margin:0 4px 6px 0;padding:3px 9px;border:1px solid #bbb;background:#fff;
border-radius:3px;cursor:pointer}#filters button.on{background:#1f5fa8;color:#fff}
#search{padding:3px 6px;width:260px}details.scenario{background:#fff;margin:8px 16px;
border:1px solid #ddd;border-radius:4px;padding:6px 10px}details.scenario>summary{
cursor:pointer;font-weight:600}pre{background:#f6f6f6;padding:6px;overflow:auto;
max-height:320px;margin:4px 0;white-space:pre-wrap;word-break:break-word}
.cmp{display:flex;gap:10px}.cmp>div{flex:1 1 50%;min-width:0}
iframe.ladder{width:100%;height:480px;border:1px solid #ccc;background:#fff}
svg.chart{background:#fff;border:1px solid #e3e3e3;margin:4px 8px 4px 0}
svg.chart .axis{stroke:#999;fill:none}svg.chart text{font-size:10px;fill:#555}
svg.chart .ay{text-anchor:end}svg.chart .ct{font-weight:600;fill:#222;font-size:11px}
.stream{border-top:1px dashed #ddd;padding-top:6px;margin-top:6px}.files a{margin-right:10px}
.muted{color:#777}
"""

_JS = """
(function(){
  var rows=[].slice.call(document.querySelectorAll('#results tbody tr'));
  var state={status:'all',text:''};
  function apply(){
    var shown=0;
    rows.forEach(function(r){
      var ok=(state.status==='all'||r.dataset.status===state.status)&&
             r.dataset.name.indexOf(state.text)>=0;
      r.hidden=!ok; if(ok){shown++;}
      var d=document.getElementById(r.dataset.target); if(d){d.hidden=!ok;}
    });
    document.getElementById('shown').textContent=shown+' of '+rows.length+' shown';
  }
  document.querySelectorAll('#filters button').forEach(function(b){
    b.addEventListener('click',function(){
      document.querySelectorAll('#filters button').forEach(function(o){o.classList.remove('on');});
      b.classList.add('on'); state.status=b.dataset.status; apply();
    });
  });
  document.getElementById('search').addEventListener('input',function(e){
    state.text=e.target.value.toLowerCase(); apply();
  });
  apply();
})();
"""


def _rel(target: Any, base: Path | None) -> str | None:
    if not target:
        return None
    try:
        return Path(os.path.relpath(Path(str(target)), base)).as_posix() if base else str(target)
    except ValueError:
        return str(target)


def _settings(doc: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    c = doc.get("counts") or counts(doc.get("scenarios") or ())
    items = [("target", doc.get("target")), ("paths", " ".join(doc.get("paths") or ())),
             ("-k", doc.get("keyword")), ("workers", doc.get("workers")),
             ("started", doc.get("started")),
             ("duration", f"{float(doc.get('duration') or 0):.1f} s"),
             ("sipclient", doc.get("version")), ("exit code", doc.get("exit_code")),
             ("interrupted", doc.get("interrupted")), *extra.items()]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items
                   if v not in (None, "", ()))
    spans = "".join(f'<span class="{s}">{esc(s)}: {c.get(s, 0)}</span>'
                    for s in ("passed", "failed", "error", "interrupted", "skipped")
                    if c.get(s) or s in ("passed", "failed"))
    if c.get("deselected"):
        spans += f"<span>deselected: {c['deselected']}</span>"
    return (f'<table class="settings">{rows}</table>'
            f'<p class="counts"><b>{c.get("total", 0)} scenarios</b> {spans}</p>')


def _results_table(results: Sequence[Mapping[str, Any]]) -> str:
    statuses = [s for s in _STATUS_ORDER if any(r.get("status") == s for r in results)]
    buttons = ['<button type="button" data-status="all" class="on">all</button>'] + [
        f'<button type="button" data-status="{s}">{s} '
        f'({sum(1 for r in results if r.get("status") == s)})</button>' for s in statuses]
    rows = []
    for i, r in enumerate(results, 1):
        steps = [s for s in r.get("steps") or () if isinstance(s, Mapping)]
        passed = sum(1 for s in steps if s.get("status") == "passed")
        status = str(r.get("status") or "error")
        name = str(r.get("name") or r.get("path") or f"scenario {i}")
        rows.append(
            f'<tr data-status="{esc(status)}" data-name="{esc(name.lower())}" '
            f'data-target="sc-{i}"><td>{i}</td><td class="{esc(status)}">{esc(status)}</td>'
            f'<td><a href="#sc-{i}">{esc(name)}</a></td>'
            f'<td>{float(r.get("duration") or 0):.2f} s</td><td>{passed}/{len(steps)}</td>'
            f'<td class="muted">{esc(r.get("path"))}</td></tr>')
    return (f'<div id="filters">{"".join(buttons)} <input id="search" type="search" '
            f'placeholder="search by name" aria-label="search by name"> '
            f'<span id="shown" class="muted"></span></div>'
            f'<table id="results"><thead><tr><th>#</th><th>status</th><th>scenario</th>'
            f'<th>time</th><th>steps passed</th><th>file</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _steps(r: Mapping[str, Any]) -> str:
    steps = [s for s in r.get("steps") or () if isinstance(s, Mapping)]
    if not steps:
        return ""
    t0 = r.get("started")
    rows = []
    for s in steps:
        at = s.get("started")
        offset = f"+{at - t0:.3f} s" if isinstance(at, (int, float)) and isinstance(
            t0, (int, float)) else ""
        where = f"{Path(str(s.get('file'))).name}:{s.get('line')}" if s.get("file") else ""
        rows.append(f'<tr><td>{esc(s.get("path"))}</td><td>{esc(s.get("kind"))}</td>'
                    f'<td>{esc(s.get("title"))}</td><td class="{esc(s.get("status"))}">'
                    f'{esc(s.get("status"))}</td><td>{esc(offset)}</td>'
                    f'<td>{float(s.get("duration") or 0):.3f} s</td>'
                    f'<td class="muted">{esc(where)}</td></tr>')
    return ('<h4>Steps</h4><table class="steps"><thead><tr><th>step</th><th>kind</th>'
            '<th>title</th><th>outcome</th><th>at</th><th>time</th><th>where</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def _failure(r: Mapping[str, Any]) -> str:
    if r.get("status") not in ("failed", "error", "interrupted"):
        return ""
    step = failing_step(r)
    out = ['<h4 class="failed">Failure</h4>']
    if r.get("error"):
        out.append(f"<p>{esc(r['error'])}</p>")
    if step is not None:
        if step.get("source"):
            out.append(f'<pre class="source">{esc(step["source"])}</pre>')
        if step.get("message") and step.get("message") != r.get("error"):
            out.append(f"<pre>{esc(step['message'])}</pre>")
        exp, got = step.get("expected"), step.get("received")
        if exp not in (None, "") or got not in (None, ""):
            out.append(f'<div class="cmp"><div><b>expected</b><pre class="expected">'
                       f'{esc(_text(exp))}</pre></div><div><b>received</b>'
                       f'<pre class="received">{esc(_text(got))}</pre></div></div>')
    return "".join(out)


def _text(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _flow_words(flow: Any) -> str:
    if isinstance(flow, Mapping):  # a flow per call
        return "; ".join(f"{call}: {_flow_words(sub)}" for call, sub in flow.items())
    return " ".join(map(str, flow)) if isinstance(flow, list) else str(flow)


def _flows(r: Mapping[str, Any]) -> str:
    flows = r.get("flows") or {}
    if not isinstance(flows, Mapping) or not flows:
        return ""
    rows = "".join(f"<tr><th>{esc(a)}</th><td>{esc(_flow_words(f))}</td></tr>"
                   for a, f in flows.items())
    return f'<h4>Flows</h4><table class="flows">{rows}</table>'


_FIGURES = (("codec", "codec"), ("packets", "packets"), ("lost", "lost"),
            ("lost_percent", "loss %"), ("mean_jitter_ms", "mean jitter ms"),
            ("max_jitter_ms", "max jitter ms"), ("max_delta_ms", "max delta ms"),
            ("mos", "MOS"), ("duration_s", "duration s"), ("ssrc", "SSRC"))


def _media(view: Any, folder_rel: str | None) -> str:
    out = []
    for s in view.streams:
        f = s["figures"]
        head = (f'{"received" if s["received"] else "sent"}: {f.get("src")} \u2192 '
                f'{f.get("dst")}')
        cells = "".join(f"<th>{esc(label)}</th>" for _, label in _FIGURES)
        vals = "".join(f"<td>{esc(_num(f.get(key)))}</td>" for key, _ in _FIGURES)
        series = s["series"]
        charts = (line_chart([("jitter", series["t"], series["jitter_ms"])],
                             title=f"stream {s['index']}: jitter over time", y_label="ms")
                  + line_chart([("lost", series["loss_t"], series["lost"])],
                               title=f"stream {s['index']}: packets lost per second",
                               y_label="pkts", bars=True))
        audio = ""
        if s.get("audio"):
            src = f"{folder_rel}/{s['audio']}" if folder_rel else s["audio"]
            audio = (f'<p>audio received: <audio controls preload="none" '
                     f'src="{esc(src)}"></audio> <a href="{esc(src)}">{esc(s["audio"])}</a></p>')
        out.append(f'<div class="stream"><b>stream {s["index"]}</b> {esc(head)}'
                   f'<table class="figures"><tr>{cells}</tr><tr>{vals}</tr></table>'
                   f'{charts}{audio}</div>')
    if view.dtmf:
        digits = "".join(d["digit"] or "?" for d in view.dtmf if d["received"])
        rows = "".join(f'<tr><td>{esc(d["digit"])}</td><td>{esc(d["src"])} \u2192 '
                       f'{esc(d["dst"])}</td><td>{d["duration_ms"]:.0f} ms</td>'
                       f'<td>{"received" if d["received"] else "sent"}</td></tr>'
                       for d in view.dtmf)
        out.append(f'<h4>DTMF</h4><p>received: <b class="dtmf">{esc(digits or "none")}</b></p>'
                   f'<table><tr><th>digit</th><th>from \u2192 to</th><th>duration</th>'
                   f'<th></th></tr>{rows}</table>')
    return ("<h4>Media</h4>" + "".join(out)) if out else ""


def _agent_dtmf(r: Mapping[str, Any]) -> str:
    got = {name: m.get("dtmf_received") for name, m in (r.get("media") or {}).items()
           if isinstance(m, Mapping) and m.get("dtmf_received")}
    return "".join(f"<p>call {esc(k)}: DTMF received by the agent: <b>{esc(v)}</b></p>"
                   for k, v in got.items())


def _tags(r: Mapping[str, Any]) -> str:
    tags = r.get("tags") or ()
    return f" &middot; tags: {esc(', '.join(map(str, tags)))}" if tags else ""


def _scenario(i: int, r: Mapping[str, Any], view: Any, root: Path | None) -> str:
    status = str(r.get("status") or "error")
    folder = r.get("report_dir")
    folder_rel = _rel(folder, root)
    links, recordings = [], []
    for name in (view.files if view is not None else ()) or ("capture.pcap", "result.json"):
        if name.startswith("received-") and name.endswith(".wav"):
            continue
        href = f"{folder_rel}/{name}" if folder_rel else name
        links.append(f'<a href="{esc(href)}">{esc(name)}</a>')
        if name.lower().endswith(".wav"):            # an agent's own record: file
            recordings.append(f'<p>recording {esc(name)}: <audio controls preload="none" '
                              f'src="{esc(href)}"></audio></p>')
    opened = " open" if status in ("failed", "error", "interrupted") else ""
    parts = [f'<details class="scenario" id="sc-{i}"{opened}><summary><span class="{esc(status)}">'
             f'{esc(status.upper())}</span> {esc(r.get("name"))} '
             f'<span class="muted">{float(r.get("duration") or 0):.2f} s</span></summary>',
             f'<p class="muted">{esc(r.get("path"))}{_tags(r)}</p>',
             f'<p class="files">{"".join(links)}</p>', _failure(r), _steps(r), _flows(r)]
    if view is not None:
        if view.problem:
            parts.append(f'<p class="muted">{esc(view.problem)}</p>')
        if view.ladder_html:
            parts.append('<h4>Ladder</h4><iframe class="ladder" loading="lazy" '
                         f'title="SIP ladder of {esc(r.get("name"))}" '
                         f'srcdoc="{esc(view.ladder_html)}"></iframe>')
        parts.append(_media(view, folder_rel))
    if recordings:
        parts.append("<h4>Recordings</h4>" + "".join(recordings))
    parts.append(_agent_dtmf(r))
    parts.append("</details>")
    return "".join(parts)


def render_report(document: Mapping[str, Any], views: Mapping[str, Any] | None = None, *,
                  root: str | Path | None = None, title: str = "sipclient run",
                  sections: Iterable[Section] = (), settings: Mapping[str, Any] | None = None
                  ) -> str:
    """The page of a :func:`sipclient.scenario.reports.run_document` document. ``views``
    maps a scenario's ``report_dir`` to its :class:`~.report_media.ScenarioView`; ``root``
    is where the page is written (links are relative to it); ``sections`` come after the
    results table; ``settings`` adds rows to the settings table."""
    results = [r for r in document.get("scenarios") or () if isinstance(r, Mapping)]
    views = views or {}
    base = Path(root) if root is not None else None
    body = [f'<header><h1>{esc(title)}</h1>{_settings(document, settings or {})}</header>',
            f'<section class="block"><h2>Results</h2>{_results_table(results)}</section>']
    for sec in sections:
        sid = f' id="{esc(sec.id)}"' if sec.id else ""
        body.append(f'<section class="block extra"{sid}><h2>{esc(sec.title)}</h2>{sec.html}'
                    '</section>')
    body.append('<section class="block"><h2>Scenarios</h2></section>')
    for i, r in enumerate(results, 1):
        body.append(_scenario(i, r, views.get(str(r.get("report_dir"))), base))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + f"<script>{_JS}</script></body></html>\n")


def write_report(root: str | Path, document: Mapping[str, Any], *,
                 sections: Iterable[Section] = (), title: str = "sipclient run",
                 settings: Mapping[str, Any] | None = None, audio: bool = True) -> Path:
    """Read each scenario's folder (:func:`~.report_media.scenario_view`), write
    ``root/report.html`` (atomically) and return its path."""
    from .report_media import scenario_view

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    views = {}
    for r in document.get("scenarios") or ():
        folder = r.get("report_dir") if isinstance(r, Mapping) else None
        if folder and Path(folder).is_dir():
            views[str(folder)] = scenario_view(Path(folder), r, audio=audio)
    page = render_report(document, views, root=root, title=title, sections=sections,
                         settings=settings)
    path = root / REPORT_NAME
    return write_atomic(path, page)  # whole or not at all: no .tmp left on a full disk

