"""``--report DIR``: summary.json, seconds.csv and report.html; and the end-of-run text.

The HTML page is self-contained (inline CSS and SVG, no script, nothing fetched): three
charts over the seconds of the run - rate (started and completed per second, with the asked
rate), latency (setup p50 and p99 per second) and failures per second - then the summary
table and the failures by status and by reason. Each chart is an ``<svg class="chart"
data-chart="rate|latency|failures">`` with one ``<polyline data-series=...>`` per series.
"""

from __future__ import annotations

import csv
import html
import json
import os
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["write_report", "second_rows", "human_summary", "render_html"]

CSV_COLUMNS = ("second", "started", "completed", "failed", "setup_p50_ms", "setup_p99_ms")


def second_rows(merged: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per second from the first to the last (empty seconds included)."""
    seconds: dict[int, dict[str, Any]] = merged.get("seconds", {})
    if not seconds:
        return []
    rows = []
    for i in range(min(seconds), max(seconds) + 1):
        row = seconds.get(i)
        h: HdrHistogram | None = row["setup"] if row else None
        n = h.get_total_count() if h is not None else 0
        rows.append({
            "second": i,
            "started": row["started"] if row else 0,
            "completed": row["completed"] if row else 0,
            "failed": row["failed"] if row else 0,
            "setup_p50_ms": round(h.get_value_at_percentile(50) / 1000, 3) if n else "",
            "setup_p99_ms": round(h.get_value_at_percentile(99) / 1000, 3) if n else "",
        })
    return rows


def write_report(directory: str, result: dict[str, Any], merged: dict[str, Any], *,
                 title: str) -> dict[str, str]:
    os.makedirs(directory, exist_ok=True)
    paths = {name: os.path.join(directory, name)
             for name in ("summary.json", "seconds.csv", "report.html")}
    rows = second_rows(merged)
    with open(paths["summary.json"], "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    with open(paths["seconds.csv"], "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(paths["report.html"], "w", encoding="utf-8") as f:
        f.write(render_html(result, rows, title=title))
    return paths


# ----------------------------------------------------------------------------- text

def human_summary(r: dict[str, Any]) -> str:
    def ms(key: str) -> str:
        h = r.get(key) or {}
        if not h.get("count"):
            return "-"
        return (f"p50 {h['p50']:g} / p90 {h['p90']:g} / p99 {h['p99']:g} / "
                f"p99.9 {h['p99_9']:g} / max {h['max']:g} ms ({h['count']})")

    lines = [
        f"load {r['kind']}: attempted {r['attempted']}, completed {r['completed']}, "
        f"failed {r['failed']} in {r['elapsed_s']:g} s on {r['processes']} process(es)",
        f"  rate       {r['calls_per_second']:g}/s completed"
        + (f" (asked {r['asked_rate']:g}/s)" if r.get("asked_rate") else ""),
        f"  setup      {ms('setup_ms')}",
        f"  pdd        {ms('pdd_ms')}",
        f"  register   {ms('register_ms')}",
        f"  instance   {ms('instance_ms')}",
        f"  by status  {_pairs(r['by_status'])}",
    ]
    if r.get("by_reason"):
        lines.append(f"  failures   {_pairs(r['by_reason'])}")
    for text, n in (r.get("errors") or {}).items():
        lines.append(f"    {n} x {text}")
    if r.get("media"):
        m = r["media"]
        lines.append(f"  media      {m['streams']} streams, loss {m['loss']:.3%}, "
                     f"jitter max {m['jitter_ms_max']} ms, send error p99 max "
                     f"{m['send_error_p99_ms_max']} ms")
    t = r.get("thresholds") or {}
    for broken in t.get("broken", []):
        lines.append(f"  FAILED     {broken}")
    if t.get("passed"):
        lines.append("  thresholds passed")
    if r.get("interrupted"):
        lines.append(f"  interrupted by {r['interrupted']}")
    return "\n".join(lines)


def _pairs(d: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "-"


# ----------------------------------------------------------------------------- HTML

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin-top: 20px; }
.chart { border: 1px solid #ddd; background: #fafafa; display: block; margin: 6px 0; }
.chart text { font-size: 11px; fill: #555; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
.fail { color: #b00; font-weight: bold; } .pass { color: #070; font-weight: bold; }
.legend span { margin-right: 14px; }
"""

_W, _H, _PAD = 760, 200, 40
_COLORS = {"started": "#1f77b4", "completed": "#2ca02c", "asked": "#999",
           "setup_p50_ms": "#1f77b4", "setup_p99_ms": "#d62728", "failed": "#d62728"}


def _chart(name: str, rows: list[dict[str, Any]], series: list[str], unit: str,
           asked: float | None = None) -> str:
    xs = [r["second"] for r in rows] or [0]
    values = {s: [(r["second"], r[s]) for r in rows if r.get(s) not in ("", None)]
              for s in series}
    top = max([v for pts in values.values() for _, v in pts] + [asked or 0, 1])
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)

    def px(x: float) -> float:
        return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD + 10 - y / top * (_H - 2 * _PAD)

    parts = [f'<svg class="chart" data-chart="{name}" width="{_W}" height="{_H}" '
             f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{name} per second">',
             f'<line x1="{_PAD}" y1="{py(0):.1f}" x2="{_W - _PAD}" y2="{py(0):.1f}" '
             'stroke="#888"/>',
             f'<text x="4" y="{py(top):.1f}">{top:g} {unit}</text>',
             f'<text x="4" y="{py(0):.1f}">0</text>',
             f'<text x="{_W - _PAD}" y="{_H - 4}" text-anchor="end">{x1 - x0} s</text>']
    if asked:
        parts.append(f'<line data-series="asked" x1="{_PAD}" y1="{py(asked):.1f}" '
                     f'x2="{_W - _PAD}" y2="{py(asked):.1f}" stroke="{_COLORS["asked"]}" '
                     'stroke-dasharray="4 3"/>')
    for s, pts in values.items():
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(f'<polyline data-series="{s}" fill="none" stroke="{_COLORS[s]}" '
                     f'stroke-width="1.5" points="{coords}"/>')
    parts.append("</svg>")
    legend = "".join(f'<span style="color:{_COLORS[s]}">&#9632; {s}</span>' for s in series)
    if asked:
        legend += f'<span style="color:{_COLORS["asked"]}">- - asked {asked:g}/s</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def render_html(result: dict[str, Any], rows: list[dict[str, Any]], *, title: str) -> str:
    esc = html.escape
    t = result.get("thresholds") or {}
    verdict = ('<p class="pass">thresholds passed</p>' if t.get("passed") else
               "".join(f'<p class="fail">FAILED: {esc(b)}</p>' for b in t.get("broken", [])))
    summary_rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(v))}</td></tr>"
        for k, v in result.items() if k not in ("thresholds", "report"))
    status_rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>"
                          for k, v in result.get("by_status", {}).items())
    reason_rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>"
                          for k, v in result.get("by_reason", {}).items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{esc(title)}</h1>
<p>attempted {result['attempted']}, completed {result['completed']},
failed {result['failed']}; {result['calls_per_second']:g}/s completed</p>
{verdict}
<h2>Rate (per second)</h2>
{_chart("rate", rows, ["started", "completed"], "/s", result.get("asked_rate"))}
<h2>Latency: setup time per second</h2>
{_chart("latency", rows, ["setup_p50_ms", "setup_p99_ms"], "ms")}
<h2>Failures (per second)</h2>
{_chart("failures", rows, ["failed"], "/s")}
<h2>By status</h2><table id="by-status"><tr><th>status</th><th>count</th></tr>{status_rows}</table>
<h2>Failures by reason</h2><table id="by-reason"><tr><th>reason</th><th>count</th></tr>{reason_rows}</table>
<h2>Summary</h2><table id="summary">{summary_rows}</table>
</body></html>
"""
