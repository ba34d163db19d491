"""The ladder as one self-contained HTML page: SVG arrows, a panel with the full message.

Everything is inline (CSS, SVG, a few lines of JavaScript): the page loads nothing, so it can
be mailed, attached to a ticket or opened from a CI artifact. Each SIP message is an SVG
``<g class="arrow">`` (``retransmission`` added for a retransmission) with ``data-index``;
clicking it (or Enter/Space on it, or the up/down keys) shows that message in full in the
side panel. RTP streams are ``<g class="stream">`` bands between the two parties with their
codec, packets, loss, jitter and MOS. Message texts travel in a JSON ``<script>`` block with
``<``, ``>`` and ``&`` escaped, and are shown with ``textContent``: a message cannot inject
markup. Pure: returns the page as a string.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

from sipclient.pcap.ladder import (RETRANSMISSION, LadderMessage, _get, _printable, addr_text,
                                   layout)

__all__ = ["render_html"]

_LEFT = 90       # time column
_CELL = 220      # distance between lifelines
_TOP = 60        # header height
_ROW = 44        # one message
_ARROW_Y = 28    # arrow's offset inside its row (the label sits above it)

_CSS = """
body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: #222; background: #fff; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; }
header h1 { font-size: 15px; margin: 0; }
header p { margin: 2px 0 0; color: #666; }
main { display: flex; align-items: flex-start; }
#ladder { flex: 1 1 auto; overflow: auto; padding: 6px; }
#detail { flex: 0 0 42%; position: sticky; top: 0; max-height: 100vh; overflow: auto;
          border-left: 1px solid #ddd; padding: 8px 12px; box-sizing: border-box; }
#detail h2 { font-size: 13px; margin: 0 0 6px; }
#detail-text { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap;
               word-break: break-all; margin: 0; }
svg text { font: 12px ui-monospace, monospace; }
.participant rect { fill: #eef3fa; stroke: #6b8bb8; }
.participant text { text-anchor: middle; }
.lifeline { stroke: #9aa; stroke-dasharray: 4 3; }
.time { fill: #666; text-anchor: end; }
.arrow, .stream { cursor: pointer; outline: none; }
.arrow line { stroke: #1f5fa8; stroke-width: 1.6; }
.arrow polygon { fill: #1f5fa8; }
.arrow.response line { stroke: #2b7a3d; } .arrow.response polygon { fill: #2b7a3d; }
.arrow.retransmission line { stroke: #b35c00; stroke-dasharray: 6 3; }
.arrow.retransmission polygon { fill: #b35c00; }
.arrow .hit { fill: transparent; }
.arrow:hover .hit, .arrow:focus .hit { fill: #f3f6fb; }
.arrow.selected .hit { fill: #fff3c4; }
.arrow text.label { fill: #222; }
.stream rect.band { fill: #c9a0dc; fill-opacity: .55; stroke: #8a55a8; }
.stream.selected rect.band { fill-opacity: .9; }
.stream text { fill: #4a2560; }
"""

_JS = """
(function () {
  var data = JSON.parse(document.getElementById('ladder-data').textContent);
  var items = Array.prototype.slice.call(document.querySelectorAll('g.arrow, g.stream'));
  var head = document.getElementById('detail-head');
  var body = document.getElementById('detail-text');
  function show(el) {
    items.forEach(function (g) { g.classList.remove('selected'); });
    el.classList.add('selected');
    var d = el.classList.contains('stream') ? data.streams[+el.dataset.index]
                                            : data.messages[+el.dataset.index];
    head.textContent = d.head;
    body.textContent = d.text;
  }
  items.forEach(function (g, i) {
    g.addEventListener('click', function () { show(g); });
    g.addEventListener('keydown', function (ev) {
      var next = null;
      if (ev.key === 'Enter' || ev.key === ' ') { show(g); ev.preventDefault(); return; }
      if (ev.key === 'ArrowDown') next = items[i + 1];
      if (ev.key === 'ArrowUp') next = items[i - 1];
      if (next) { next.focus(); show(next); ev.preventDefault(); }
    });
  });
})();
"""


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: no '</script>', no comment or CDATA openers."""
    return (json.dumps(value, ensure_ascii=False).replace("&", "\\u0026")
            .replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _esc(text: str) -> str:
    return html.escape(_printable(text), quote=True)


def _fit(text: str, room_px: float) -> str:
    chars = max(int(room_px / 7.3), 4)  # 12px monospace: about 7.2 px a character
    return text if len(text) <= chars else text[: chars - 1] + "\u2026"


def _stream_text(stream: Any, label: str) -> str:
    lines = [label, ""]
    for name in ("src", "dst", "ssrc", "payload_type", "codec", "packets", "lost",
                 "duplicates", "mean_jitter_ms", "max_jitter_ms", "mos", "first_time",
                 "last_time"):
        value = _get(stream, name)
        if value is None:
            continue
        if name in ("src", "dst"):
            value = addr_text(value)
        elif name == "ssrc" and isinstance(value, int):
            value = f"{value:#010x}"
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def render_html(messages: Iterable[LadderMessage], streams: Iterable[Any] = (),
                title: str = "", names: dict[str, str] | None = None) -> str:
    """The page. ``streams`` as for :func:`sipclient.pcap.ladder.render_text`; ``names``
    maps ``"ip:port"`` (or an ip) to a participant's name."""
    messages = list(messages)
    plan = layout(messages, streams)
    columns = plan.columns
    x = {addr: _LEFT + _CELL // 2 + _CELL * i for i, addr in enumerate(columns)}
    width = _LEFT + _CELL * max(len(columns), 1) + 160  # room for labels running on
    height = _TOP + _ROW * len(plan.rows) + 20
    out: list[str] = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="SIP ladder diagram">')
    for addr in columns:
        name = (names or {}).get(addr) or (names or {}).get(addr.rsplit(":", 1)[0].strip("[]"))
        cx = x[addr]
        add(f'<g class="participant"><rect x="{cx - _CELL // 2 + 8}" y="6" width="{_CELL - 16}" '
            f'height="{40 if name else 26}" rx="4"/>')
        if name:
            add(f'<text x="{cx}" y="22">{_esc(_fit(name, _CELL - 24))}</text>'
                f'<text x="{cx}" y="38">{_esc(_fit(addr, _CELL - 24))}</text>')
        else:
            add(f'<text x="{cx}" y="24">{_esc(_fit(addr, _CELL - 24))}</text>')
        add(f'<title>{_esc(addr)}</title></g>')
        add(f'<line class="lifeline" x1="{cx}" y1="{_TOP - 8}" x2="{cx}" y2="{height - 10}"/>')
    data_streams: list[dict[str, str]] = []
    for row, (event, index, stream) in enumerate(plan.rows):
        top = _TOP + _ROW * row
        y = top + _ARROW_Y
        a, b = x[event.src], x[event.dst]
        stamp = "" if event.time is None else f"{event.time - plan.t0:+.3f}"
        if event.band:
            lo, hi = min(a, b), max(a, b)
            if lo == hi:
                hi = lo + _CELL // 2
            add(f'<g class="stream" data-index="{len(data_streams)}" tabindex="0">'
                f'<rect class="hit" x="{lo}" y="{top}" width="{hi - lo}" height="{_ROW}" '
                f'fill="transparent"/>'
                f'<rect class="band" x="{lo}" y="{y - 6}" width="{hi - lo}" height="12" rx="3"/>'
                f'<text x="{lo + 6}" y="{top + 14}">{_esc(_fit(event.label, width - lo - 10))}'
                f'</text><text class="time" x="{_LEFT - 12}" y="{y + 4}">{stamp}</text>'
                f'<title>{_esc(event.label)}</title></g>')
            data_streams.append({"head": f"{stamp} s  {event.src} \u21c4 {event.dst}",
                                 "text": _stream_text(stream, event.label)})
            continue
        m = messages[index]  # type: ignore[index]
        classes = ["arrow", "request" if not m.label[:3].isdigit() else "response"]
        if event.label.endswith(RETRANSMISSION):
            classes.append("retransmission")
        add(f'<g class="{" ".join(classes)}" data-index="{index}" tabindex="0">')
        lo, hi = min(a, b), max(a, b)
        add(f'<rect class="hit" x="{_LEFT}" y="{top}" width="{width - _LEFT - 10}" '
            f'height="{_ROW}"/>')
        if a == b:  # to itself: a small loop
            add(f'<polyline points="{a},{y - 8} {a + 30},{y - 8} {a + 30},{y + 8} '
                f'{a + 9},{y + 8}" fill="none" stroke="#1f5fa8" stroke-width="1.6"/>'
                f'<polygon points="{a},{y + 8} {a + 10},{y + 3} {a + 10},{y + 13}"/>')
            text_x = a + 36
        else:
            tip, tail = b, a
            direction = 1 if b > a else -1
            add(f'<line x1="{tail}" y1="{y}" x2="{tip - 9 * direction}" y2="{y}"/>'
                f'<polygon points="{tip},{y} {tip - 10 * direction},{y - 5} '
                f'{tip - 10 * direction},{y + 5}"/>')
            text_x = lo + 8
        label = event.label
        tip_text = label + (f" \u2014 Call-ID {m.call_id}" if m.call_id else "")
        add(f'<text class="label" x="{text_x}" y="{y - 7}">'
            f'{_esc(_fit(label, width - text_x - 10))}</text>'
            f'<text class="time" x="{_LEFT - 12}" y="{y + 4}">{stamp}</text>'
            f'<title>{_esc(tip_text)}</title></g>')
    add("</svg>")
    data_messages = [{"head": f"{m.time - plan.t0:+.3f} s  {m.src} \u2192 {m.dst}  "
                              f"{m.transport}" + (f"  Call-ID {m.call_id}" if m.call_id else ""),
                      "text": m.text} for m in messages]
    calls = sorted({m.call_id for m in messages if m.call_id})
    heading = title or "SIP ladder"
    summary = (f"{len(messages)} SIP message{'s' if len(messages) != 1 else ''}, "
               f"{len(calls)} Call-ID{'s' if len(calls) != 1 else ''}, "
               f"{len(data_streams)} RTP stream{'s' if len(data_streams) != 1 else ''}"
               " \u2014 click an arrow to see the message")
    payload = _script_json({"messages": data_messages, "streams": data_streams})
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_esc(heading)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_esc(heading)}</h1><p>{_esc(summary)}</p></header>",
        '<main><div id="ladder">', *out, "</div>",
        '<aside id="detail"><h2 id="detail-head">No message selected</h2>',
        '<pre id="detail-text"></pre></aside></main>',
        f'<script type="application/json" id="ladder-data">{payload}</script>',
        f"<script>{_JS}</script></body></html>\n",
    ])
