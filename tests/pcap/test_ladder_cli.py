"""``sipclient pcap ladder``: the ladder of real captures, checked against tshark's view
(expected.json in ../shared/captures-public), and clear errors without a traceback."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from sipclient.cli import EXIT_DATAERR, EXIT_OK, EXIT_USAGE, Env, main
from sipclient.pcap.ladder import from_capture, mark_retransmissions
from sipclient.pcap.read import read_capture
from sipclient.pcap.writer import PcapWriter

PUBLIC = Path("/work/shared/captures-public")
MESSAGES = Path(__file__).resolve().parent.parent / "data" / "messages"


def expected(name: str) -> dict:
    return json.loads((PUBLIC / "expected.json").read_text())["files"][name]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["pcap", "ladder", *argv], Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def arrows(text: str) -> list[tuple[str, str]]:
    """(label line, arrow line) of every drawn message or stream."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if re.match(r"\s*[+-]\d+\.\d{3}\s", line) and i > 0:
            out.append((lines[i - 1], line))
    return out


def test_every_sip_message_of_a_capture_is_an_arrow_in_tsharks_order():
    code, out, err = cli(str(PUBLIC / "sip-rtp-g711.pcap"))
    assert (code, err) == (EXIT_OK, "")
    e = expected("sip-rtp-g711.pcap")
    rows = arrows(out)
    sip = [label for label, arrow in rows if "=" not in arrow]
    bands = [label for label, arrow in rows if "=" in arrow]
    assert len(sip) == e["sip_message_count"] == 10
    flow = [re.search(r"\|\s*(\S+)", label)[1] for label in sip]
    assert flow == [x for call in e["calls"].values() for x in call["sequence"]]
    # both RTP streams, with tshark's SSRC, codec and packet count
    assert len(bands) == e["rtp_streams"]["default"]["count"] == 2
    for s in e["rtp_streams"]["default"]["streams"]:
        codec = {"g711U": "PCMU", "g711A": "PCMA"}[s["payload"]]
        assert any(f"RTP {codec} ssrc={s['ssrc'].lower()} {s['packets']} pkts, {s['lost']} lost"
                   in b for b in bands), (s, bands)
    header = out.splitlines()[0].split()
    assert header == ["10.0.2.20:5060", "10.0.2.15:5060"]


def test_call_id_keeps_one_dialog_and_its_media():
    e = expected("sip-rtp-g711.pcap")
    call_id, call = list(e["calls"].items())[1]
    code, out, err = cli(str(PUBLIC / "sip-rtp-g711.pcap"), "--call-id", call_id, "--width", "90")
    assert (code, err) == (EXIT_OK, "")
    rows = arrows(out)
    assert [re.search(r"\|\s*(\S+)", label)[1] for label, arrow in rows
            if "=" not in arrow] == call["sequence"]
    assert len([1 for _, arrow in rows if "=" in arrow]) == 1
    assert max(len(line) for line in out.splitlines()) <= 90


def test_retransmissions_are_marked_per_transaction():
    """aaa.pcap: the phone repeats its CANCEL (same branch and CSeq) while the INVITE goes
    unanswered. tshark's sip.resend (expected.json: 4 resends) does not count them, since it
    only compares a CSeq with the previous one of that direction and a CANCEL carries the
    INVITE's number; RFC 3261 17.1.2.2 makes each of them a retransmission, so the ladder
    marks them, as it marks tshark's own four."""
    capture = read_capture(str(PUBLIC / "aaa.pcap"))
    messages = from_capture(capture)
    marks = mark_retransmissions(messages)
    assert len(messages) == expected("aaa.pcap")["sip_message_count"]
    cancels = [r for m, r in zip(messages, marks) if m.label.startswith("CANCEL")]
    assert cancels[0] is False and all(cancels[1:]) and len(cancels) > 5
    from sipclient.pcap.analysis import mark_retransmissions as tshark_like

    theirs = tshark_like(capture.sip)
    assert sum(theirs) == expected("aaa.pcap")["sip_retransmissions"]
    assert all(m for m, t in zip(marks, theirs) if t)  # every tshark resend is marked too
    code, out, _ = cli(str(PUBLIC / "aaa.pcap"), "--width", "140")
    assert out.count("(retransmission)") == sum(marks)


def test_html_output(tmp_path):
    page = tmp_path / "out" / "ladder.html"
    page.parent.mkdir()
    code, out, err = cli(str(PUBLIC / "sip_ipv4_tcp.pcap"), "--html", str(page))
    assert (code, err) == (EXIT_OK, "")
    e = expected("sip_ipv4_tcp.pcap")
    assert out == (f"wrote {page}: {e['sip_message_count']} SIP messages, "
                   f"{e['rtp_streams']['default']['count']} RTP streams\n")
    text = page.read_text()
    assert text.count('<g class="arrow') == e["sip_message_count"] == 7
    assert text.count('<g class="stream"') == e["rtp_streams"]["default"]["count"] == 2
    code, out, err = cli(str(PUBLIC / "sip_ipv4_tcp.pcap"), "--html", "-")
    assert code == EXIT_OK and out == text


def test_our_own_capture_of_udp_and_wss_reads_back_with_the_real_addresses(tmp_path):
    register = (MESSAGES / "seed001_register.sip").read_bytes()
    challenge = (MESSAGES / "asterisk_401_register.sip").read_bytes()
    path = tmp_path / "run.pcap"
    with path.open("wb") as f:
        w = PcapWriter(f)
        w.write(10.0, "udp", ("127.0.0.1", 5062), ("127.0.0.1", 7048), register)
        w.write(10.1, "wss", ("127.0.0.1", 41000), ("127.0.0.1", 8089), register)
        w.write(10.2, "wss", ("127.0.0.1", 8089), ("127.0.0.1", 41000), challenge)
    code, out, err = cli(str(path), "--name", "127.0.0.1:8089=asterisk-wss")
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0].split() == ["127.0.0.1:5062", "127.0.0.1:7048", "127.0.0.1:41000",
                                "asterisk-wss"]
    assert lines[1].split()[-1] == "127.0.0.1:8089"
    rows = arrows(out)
    assert [a.split()[0] for _, a in rows] == ["+0.000", "+0.100", "+0.200"]
    assert "401 Unauthorized" in rows[2][0] and "<" in rows[2][1]


@pytest.mark.parametrize("argv,code,message", [
    (["/nonexistent/x.pcap"], EXIT_USAGE, "cannot read /nonexistent/x.pcap"),
    ([str(MESSAGES / "seed001_register.sip")], EXIT_DATAERR, "not a pcap or pcapng file"),
    ([str(PUBLIC / "sip-rtp-g711.pcap"), "--call-id", "nope"], EXIT_USAGE,
     "no SIP message with Call-ID 'nope'; Call-IDs in this capture: 1-1966@10.0.2.20, "
     "1-1968@10.0.2.20"),
    ([str(PUBLIC / "sip-rtp-g711.pcap"), "--name", "10.0.0.1"], EXIT_USAGE, "expected ADDR=NAME"),
    ([str(PUBLIC / "sip-rtp-g711.pcap"), "--width", "5"], EXIT_USAGE, "at least 20 columns"),
    ([str(PUBLIC / "sip-rtp-g711.pcap"), "--html", "/nonexistent/dir/x.html"], EXIT_USAGE,
     "cannot write /nonexistent/dir/x.html"),
])
def test_clear_errors_without_a_traceback(argv, code, message):
    got, out, err = cli(*argv)
    assert got == code
    assert err.startswith("sipclient pcap ladder: ") and message in err, err
    assert "Traceback" not in err + out


def test_a_capture_cut_short_still_draws_what_was_read(tmp_path):
    data = (PUBLIC / "sip-rtp-g711.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    code, out, err = cli(str(cut))
    assert code == EXIT_DATAERR and "cut short" in err and "Traceback" not in err
    assert 0 < len(arrows(out)) < 12
