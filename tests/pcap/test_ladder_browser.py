"""The HTML ladder in a real browser: Debian's headless Chromium driven by Playwright.

No browser is downloaded (never `playwright install`): the system's /usr/bin/chromium is
used, installed by scripts/install-lab-deps.sh; playwright comes with the `dev` extra. A
missing Chromium or playwright fails these tests, it never skips them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from sipclient.pcap.ladder import LadderMessage
from sipclient.pcap.ladder_html import render_html
from tests.browser import browser  # noqa: F401 - the fixture

MESSAGES = Path(__file__).resolve().parent.parent / "data" / "messages"
PUBLIC = Path("/work/shared/captures-public")


# -- a tiny PNG reader (8-bit RGB/RGBA, as Chromium writes) -----------------------------------
def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """-> (width, height, rows of raw pixel bytes, bytes per pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 4 if color == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, -1)
    filters, data = raw[:, 0], raw[:, 1:].reshape(height, width, bpp)
    out = np.zeros((height, width, bpp), dtype=np.uint8)
    prev = np.zeros((width, bpp), dtype=np.uint8)
    for y in range(height):
        line, ftype = data[y], filters[y]
        if ftype == 0:
            cur = line.copy()
        elif ftype == 1:    # Sub: a running sum along the row, per channel (uint8 wraps)
            cur = np.cumsum(line, axis=0, dtype=np.uint8)
        elif ftype == 2:    # Up
            cur = line + prev
        else:               # Average or Paeth: byte after byte
            cur_b, up_b = bytearray(line.tobytes()), prev.tobytes()
            for i in range(len(cur_b)):
                a = cur_b[i - bpp] if i >= bpp else 0
                b = up_b[i]
                if ftype == 3:
                    pred = (a + b) // 2
                else:
                    c = up_b[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur_b[i] = (cur_b[i] + pred) & 0xFF
            cur = np.frombuffer(bytes(cur_b), dtype=np.uint8).reshape(width, bpp)
        out[y] = cur
        prev = cur
    rows = [bytes(out[y].tobytes()) for y in range(height)]
    return width, height, rows, bpp


def colours_in(png: tuple, box: dict) -> set[tuple[int, int, int]]:
    width, height, rows, bpp = png
    x0, y0 = int(box["x"]), int(box["y"])
    x1 = min(width, int(box["x"] + box["width"] + 0.999))
    y1 = min(height, int(box["y"] + box["height"] + 0.999))
    out = set()
    for y in range(max(y0, 0), y1):
        row = rows[y]
        for x in range(max(x0, 0), x1):
            out.add(tuple(row[x * bpp:x * bpp + 3]))
    return out


def rgb(css: str) -> tuple[int, int, int]:
    """'rgb(31, 95, 168)' -> (31, 95, 168)."""
    assert css.startswith("rgb("), css
    r, g, b = (int(v) for v in css[4:-1].split(",")[:3])
    return r, g, b


BACKGROUNDS = ((255, 255, 255), (255, 243, 196), (243, 246, 251))  # page, selected, hover


def painted(png: tuple, box: dict, colour: tuple[int, int, int], slack: int = 16,
            grow: int = 1) -> bool:
    """Some pixel in the box (grown by ``grow`` px for a thin line) shows that colour at
    least at half coverage: a thin line is anti-aliased into a blend with the background."""
    grown = {"x": box["x"] - grow, "y": box["y"] - grow, "width": box["width"] + 2 * grow,
             "height": box["height"] + 2 * grow}
    for pixel in colours_in(png, grown):
        for bg in BACKGROUNDS:
            k = max(range(3), key=lambda i: abs(bg[i] - colour[i]))
            if bg[k] == colour[k]:
                continue
            alpha = (bg[k] - pixel[k]) / (bg[k] - colour[k])
            if alpha >= 0.5 and all(abs(bg[i] + alpha * (colour[i] - bg[i]) - pixel[i]) <= slack
                                    for i in range(3)):
                return True
    return False


# every arrow's head and shaft: page coordinates (as the full-page screenshot) and colours
GEOMETRY = """() => Array.from(document.querySelectorAll('g.arrow')).map(g => {
  const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
    return {x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height}; };
  const head = g.querySelector('polygon'), line = g.querySelector('line');
  return {head: box(head), head_fill: head && getComputedStyle(head).fill,
          line: box(line), line_stroke: line && getComputedStyle(line).stroke};
})"""


def open_page(browser, tmp_path, page_html: str):
    path = tmp_path / "ladder.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: problems.append(f"request: {r.url}")
            if not r.url.startswith("file://") else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def check_ladder(page, problems, messages: list[LadderMessage], tmp_path, clicks) -> None:
    assert problems == []
    arrows = page.locator("g.arrow")
    assert arrows.count() == len(messages)
    # clicking an arrow shows that very message, in full, as text
    for k in clicks:
        arrows.nth(k).click()
        assert page.locator("#detail-text").text_content() == messages[k].text
        head = page.locator("#detail-head").text_content()
        assert f"{messages[k].src} \u2192 {messages[k].dst}" in head
        assert page.locator("g.arrow.selected").count() == 1
    shot = page.screenshot(path=str(tmp_path / "ladder.png"), full_page=True)
    png = decode_png(shot)
    drawn = 0
    for i, g in enumerate(page.evaluate(GEOMETRY)):
        # the arrowhead is painted in its own colour (not only the lifeline behind it)
        box = g["head"]
        assert box and box["width"] > 0 and box["height"] > 0, i
        # its middle, clear of the shaft that ends at its base
        inner = {"x": box["x"] + 0.3 * box["width"], "y": box["y"] + 0.3 * box["height"],
                 "width": 0.4 * box["width"], "height": 0.4 * box["height"]}
        assert painted(png, inner, rgb(g["head_fill"]), grow=0), (i, box)
        if g["line"] is not None:  # a message to itself has a polyline instead
            box = g["line"]
            assert box["width"] > 20, (i, box)
            shaft = dict(box, x=box["x"] + 12, width=box["width"] - 24)  # clear of the head
            assert painted(png, shaft, rgb(g["line_stroke"])), (i, box)
        drawn += 1
    assert drawn == len(messages)
    assert problems == []


def _lab_like_messages() -> list[LadderMessage]:
    def m(t, src, dst, name, label):
        return LadderMessage(t, src, dst, label, (MESSAGES / name).read_bytes().decode(),
                             "pqCa151br258ne2EFAMi8VTicQXSwYp1O2J9", "UDP")

    a, pbx = "201.46.59.189:32670", "10.0.0.1:7048"
    evil = ("MESSAGE sip:x@lab SIP/2.0\r\nSubject: </script><script>alert(1)</script>"
            "<img src=x onerror=alert(2)>\r\nContent-Length: 0\r\n\r\n")
    return [
        m(1.0, a, pbx, "seed001_invite1.sip", "INVITE sip:944511712@widecloud.intelbras.com.br"),
        m(1.002, pbx, a, "asterisk_401_register.sip", "401 Unauthorized"),
        m(1.5, a, pbx, "seed001_invite1.sip", "INVITE sip:944511712@widecloud.intelbras.com.br"),
        m(1.6, pbx, a, "asterisk_183_sdp.sip", "183 Session Progress"),
        LadderMessage(2.0, a, pbx, "MESSAGE sip:x@lab </script>", evil, None, "TCP"),
        LadderMessage(2.1, pbx, pbx, "OPTIONS sip:self", "OPTIONS sip:self SIP/2.0\r\n\r\n",
                      None, "UDP"),
    ]


def test_html_ladder_of_in_test_messages_renders_and_shows_each_message(browser, tmp_path):
    messages = _lab_like_messages()
    stream = {"src": ("10.0.0.1", 12000), "dst": ("201.46.59.189", 20000), "codec": "PCMU",
              "ssrc": 0x1234ABCD, "packets": 250, "lost": 3, "mean_jitter_ms": 0.31,
              "max_jitter_ms": 1.2, "mos": 4.38, "first_time": 1.7}
    page, problems = open_page(browser, tmp_path,
                               render_html(messages, [stream], title="<lab> & co"))
    assert page.title() == "<lab> & co"
    # hovering an arrow names its message and dialog
    assert page.locator("g.arrow").nth(1).locator("title").text_content() == (
        "401 Unauthorized \u2014 Call-ID pqCa151br258ne2EFAMi8VTicQXSwYp1O2J9")
    # the retransmitted INVITE is drawn as one
    assert page.locator("g.arrow.retransmission").count() == 1
    assert page.locator("g.arrow").nth(2).get_attribute("class").split() == [
        "arrow", "request", "retransmission"]
    check_ladder(page, problems, messages, tmp_path, clicks=range(len(messages)))
    # the hostile message was shown as text: no element was created from it
    assert page.locator("img").count() == 0
    # the RTP stream is a drawn band with its statistics; clicking shows them
    band = page.locator("g.stream rect.band")
    box = band.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 5
    png = decode_png(page.screenshot(full_page=True))
    assert painted(png, box, rgb(band.evaluate("e => getComputedStyle(e).fill")), slack=60)
    assert "PCMU" in page.locator("g.stream").text_content()
    assert "MOS 4.38" in page.locator("g.stream").text_content()
    page.locator("g.stream").click()
    assert "lost: 3" in page.locator("#detail-text").text_content()
    # the keyboard moves through the messages
    page.locator("g.arrow").nth(0).focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("#detail-text").text_content() == messages[1].text
    assert problems == []
    page.close()


@pytest.mark.parametrize("name", ["aaa.pcap", "sip-rtp-g711.pcap"])
def test_html_ladder_of_a_real_capture(browser, tmp_path, name):
    """`sipclient pcap ladder FILE --html OUT` on a public capture: one drawn arrow per SIP
    message tshark counts (expected.json), each click shows that message, RTP bands drawn."""
    import io
    import json

    from sipclient.cli import EXIT_OK, Env, main
    from sipclient.pcap.ladder import from_capture
    from sipclient.pcap.read import read_capture

    page_path = tmp_path / "capture.html"
    err = io.StringIO()
    code = main(["pcap", "ladder", str(PUBLIC / name), "--html", str(page_path)],
                Env(stdout=io.StringIO(), stderr=err))
    assert code == EXIT_OK, err.getvalue()
    expected = json.loads((PUBLIC / "expected.json").read_text())["files"][name]
    messages = from_capture(read_capture(str(PUBLIC / name)))
    assert len(messages) == expected["sip_message_count"]
    page, problems = open_page(browser, tmp_path, page_path.read_text())
    n = len(messages)
    check_ladder(page, problems, messages, tmp_path, clicks=sorted({0, n // 2, n - 1}))
    streams = page.locator("g.stream rect.band")
    assert streams.count() == expected["rtp_streams"]["default"]["count"]
    page.evaluate("window.scrollTo(0, 0)")  # boxes are viewport-relative, the shot the page
    png = decode_png(page.screenshot(full_page=True))
    for i in range(streams.count()):
        box = streams.nth(i).bounding_box()
        assert box and box["width"] > 100
        assert painted(png, box, rgb(streams.nth(i).evaluate("e => getComputedStyle(e).fill")),
                       slack=60)
    assert problems == []
    page.close()
