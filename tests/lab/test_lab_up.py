"""The lab listens where the cloud does and answers real SIP on every transport."""

from __future__ import annotations

import socket
import ssl

import pytest

from sipclient.lab import probe

pytestmark = pytest.mark.lab


def test_udp_port_answers_options(lab):
    answer = probe.sip_options_udp(lab.config.probe_host, lab.config.sip_port, timeout=2.0)
    assert answer is not None and answer.startswith("SIP/2.0 ")


def test_tcp_port_answers_options(lab):
    answer = probe.sip_options_stream(lab.config.probe_host, lab.config.sip_port)
    assert answer is not None and answer.startswith("SIP/2.0 ")


def test_tls_port_presents_the_lab_certificate_and_answers_options(lab):
    if lab.ca_file.exists():
        ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    else:  # an external lab (the container as a CI service): its certificate stays inside
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((lab.config.probe_host, lab.config.tls_port), timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname=lab.config.host) as tls:
            peer = tls.getpeercert()
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    if lab.ca_file.exists():
        subject = [item for rdn in peer["subject"] for item in rdn]
        assert ("commonName", lab.config.host) in subject
    answer = probe.sip_options_stream(lab.config.probe_host, lab.config.tls_port, tls=True)
    assert answer is not None and answer.startswith("SIP/2.0 ")


def test_wss_port_upgrades_ws_path_to_sip_websocket(lab):
    answer = probe.websocket_upgrade(lab.config.probe_host, lab.config.wss_port, "/ws", tls=True)
    assert answer is not None and " 101 " in answer


def test_unknown_sender_is_challenged_like_the_cloud(lab):
    # The cloud answers a first REGISTER/INVITE with 401; Asterisk does the same for OPTIONS
    # from a user it does not know.
    answer = probe.sip_options_udp(lab.config.probe_host, lab.config.sip_port, timeout=2.0)
    assert answer == "SIP/2.0 401 Unauthorized"


def test_status_reports_healthy(lab):
    status = lab.status()
    assert status.healthy, status.to_dict()
    assert status.version.startswith("Asterisk 16.")


def test_dialplan_has_the_lab_test_extensions(lab):
    plan = lab.cli("dialplan show lab")
    for exten in ("600", "601", "602", "603", "604", "605", "606", "607", "1001", "2001"):
        assert f"'{exten}' =>" in plan, exten


def test_endpoints_offer_the_cloud_codecs_in_order(lab):
    sip = lab.cli("pjsip show endpoint 1001")
    assert "(g729|ulaw|alaw|gsm)" in sip
    assert "rfc4733" in sip
    web = lab.cli("pjsip show endpoint 2001")
    assert "(ulaw|alaw|opus)" in web
    assert "dtls" in web
