"""``sipclient message check``: what a user pasting a message from a ticket sees."""

import io
import json
from pathlib import Path

from sipclient.cli import EXIT_DATAERR, EXIT_OK, EXIT_USAGE, Env, main

DATA = Path(__file__).resolve().parent.parent / "data" / "messages"


def run(*argv):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["message", "check", *argv], env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_valid_corpus_file():
    code, out, err = run(str(DATA / "seed001_invite1.sip"))
    assert code == EXIT_OK, out + err
    assert "seed001_invite1.sip: ok" in out
    assert "  INVITE sip:944511712@widecloud.intelbras.com.br:7048;transport=udp SIP/2.0" in out
    assert "  CSeq: 14544 INVITE" in out
    assert "  body: 296 bytes" in out


def test_pasted_with_lf_endings(tmp_path):
    pasted = (DATA / "seed001_register.sip").read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")
    f = tmp_path / "ticket.txt"
    f.write_bytes(pasted + b"\n")  # no empty line at the end, as pasted
    code, out, _ = run(str(f))
    assert code == EXIT_OK, out
    assert "converted LF line endings to CRLF" in out
    assert "CSeq: 57949 REGISTER" in out


def test_lf_sdp_body_content_length_counts_crlf(tmp_path):
    pasted = (DATA / "seed001_invite2.sip").read_bytes().replace(b"\r\n", b"\n")
    f = tmp_path / "invite.txt"
    f.write_bytes(pasted)
    code, out, _ = run(str(f))
    assert code == EXIT_OK, out
    assert "body: 296 bytes" in out


def test_bad_content_length_reports_location(tmp_path):
    data = (DATA / "seed001_invite1.sip").read_bytes()
    f = tmp_path / "short.sip"
    f.write_bytes(data[:-46])  # body cut short: 250 bytes left
    code, out, _ = run(str(f))
    assert code == EXIT_DATAERR
    offset = data.index(b"\r\n\r\n") + 4
    assert (f"short.sip, header Content-Length, offset {offset}: "
            "Content-Length 296 but only 250 body bytes") in out


def test_bad_typed_header_is_caught(tmp_path):
    data = (DATA / "seed001_register.sip").read_bytes().replace(b"CSeq: 57949 REGISTER",
                                                                 b"CSeq: REGISTER 57949")
    f = tmp_path / "cseq.sip"
    f.write_bytes(data)
    code, out, _ = run(str(f))
    assert code == EXIT_DATAERR
    assert f"header CSeq, offset {data.index(b'CSeq:')}: bad CSeq" in out


def test_extra_bytes_after_body(tmp_path):
    data = (DATA / "seed001_register.sip").read_bytes()
    (tmp_path / "junk.sip").write_bytes(data + b"v=0\r\n")
    (tmp_path / "ws.sip").write_bytes(data + b"\r\n\r\n")
    code, out, _ = run(str(tmp_path / "junk.sip"), str(tmp_path / "ws.sip"))
    assert code == EXIT_DATAERR
    assert "junk.sip, header Content-Length" in out and "5 bytes follow the headers" in out
    assert "ws.sip: ok" in out and "ignored 4 bytes of trailing whitespace" in out


def test_json_output_many_files(tmp_path):
    bad = tmp_path / "bad.sip"
    bad.write_bytes(b"INVITE sip:a SIP/2.0\r\nNo colon here\r\n\r\n")
    code, out, _ = run("--json", str(DATA / "asterisk_401_register.sip"), str(bad))
    assert code == EXIT_DATAERR
    good, broken = json.loads(out)
    assert good["ok"] and good["start_line"] == "SIP/2.0 401 Unauthorized"
    assert good["headers"][0][0] == "Via" and good["body_length"] == 0 and good["error"] is None
    assert good["file"].endswith("asterisk_401_register.sip")
    assert not broken["ok"] and broken["error"]["offset"] == 22
    assert "bad header line" in broken["error"]["reason"]


def test_unreadable_file():
    code, _, err = run(str(DATA / "does-not-exist.sip"))
    assert code == EXIT_USAGE and "cannot read" in err


def test_all_corpus_files_ok():
    code, out, _ = run(*[str(p) for p in sorted(DATA.glob("*.sip"))])
    assert code == EXIT_OK, out
