"""``--capture-interface IFACE``: a real capture with dumpcap beside the run's own one.

These run as root (the lab machine and CI do); the interface is the loopback, where the
lab listens."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess

import pytest

from sipclient.cli import EXIT_OK, EXIT_USAGE, Env, main
from sipclient.pcap.live import InterfaceCapture, LiveCaptureError, beside


def tshark_rows(path, *fields, filter="sip"):
    assert shutil.which("tshark"), "tshark is missing: run `make lab-deps`"
    args = ["tshark", "-r", str(path), "-Y", filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_every_datagram_sent_while_capturing_is_in_the_file(tmp_path):
    assert os.geteuid() == 0, "these tests capture on an interface: run them as root"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    path = tmp_path / "lo.pcapng"
    with InterfaceCapture("lo", path, capture_filter=f"udp port {port}") as capture:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(25):
            tx.sendto(b"packet %d" % i, ("127.0.0.1", port))
    assert capture.packets == 25
    rows = tshark_rows(path, "udp.dstport", "data.data", filter="udp")
    assert len(rows) == 25 and {r[0] for r in rows} == {str(port)}
    assert bytes.fromhex(rows[-1][1]) == b"packet 24"
    rx.close()


def test_beside_names_the_interface_capture_after_the_run_capture():
    assert beside("/x/run.pcap").as_posix() == "/x/run.iface.pcapng"
    assert beside("run").as_posix() == "run.iface.pcapng"


def test_no_such_interface_is_one_clear_line(tmp_path):
    with pytest.raises(LiveCaptureError) as err:
        InterfaceCapture("nosuch0", tmp_path / "x.pcapng").start()
    assert str(err.value).startswith("cannot capture on nosuch0: ")
    assert "no device named" in str(err.value)


@pytest.mark.parametrize("extra,message", [
    (["--capture-interface", "lo"], "--capture-interface lo needs --pcap FILE"),
    (["--capture-interface", "nosuch0", "--pcap", "PCAP"], "cannot capture on nosuch0"),
])
def test_cli_errors(tmp_path, extra, message):
    extra = [str(tmp_path / "run.pcap") if x == "PCAP" else x for x in extra]
    code, out, err = cli("options", "--server", "udp:127.0.0.1:9", "--user", "1001", *extra)
    assert code == EXIT_USAGE
    assert message in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


@pytest.mark.lab
def test_a_registration_is_captured_on_the_interface_as_in_the_run_capture(lab, tmp_path):
    acc = lab.account("1018")
    pcap = tmp_path / "run.pcap"
    code, out, err = cli("register", "--server", acc.transports["udp"], "--user", acc.extension,
                         "--password", acc.password, "--unregister", "--pcap", str(pcap),
                         "--capture-interface", "lo", "--local-address", "127.0.0.1")
    assert code == EXIT_OK, err + out
    iface = tmp_path / "run.iface.pcapng"
    assert iface.exists()
    fields = ("ip.src", "udp.srcport", "ip.dst", "udp.dstport", "sip.Method",
              "sip.Status-Code", "sip.Call-ID")
    ours = tshark_rows(pcap, *fields)
    assert [r[4] or r[5] for r in ours] == ["REGISTER", "401", "REGISTER", "200"]
    call_ids = {r[6] for r in ours}
    # the wire saw the same messages, same addresses, same order (other lab traffic aside)
    # (only the lab's port: other programs on this machine may use loopback at the same time)
    wire = [r for r in tshark_rows(iface, *fields, filter=f"sip && udp.port == {lab.config.sip_port}")
            if len(r) == len(fields) and r[6] in call_ids]
    assert wire == ours
