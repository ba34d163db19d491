"""sipclient/lab/kamailio.py on its own: defaults (free port, the lab's accounts), a bad
config refused with Kamailio's own words, up/down leaving nothing behind."""

from __future__ import annotations

import pytest

from sipclient.lab.config import LabConfig
from sipclient.lab.errors import LabError
from sipclient.lab.kamailio import KamailioLab
from sipclient.lab.probe import sip_options_udp


def test_defaults_free_port_and_lab_accounts(tmp_path) -> None:
    lab = KamailioLab(tmp_path)
    assert 0 < lab.sip_port < 65536 and lab.server("tcp") == f"tcp:127.0.0.1:{lab.sip_port}"
    assert lab.accounts["1001"] == LabConfig().password("1001")
    text = lab.render()
    assert f"listen=udp:127.0.0.1:{lab.sip_port}" in text and "record_route()" in text
    assert KamailioLab(tmp_path, bind="::1").server() .startswith("udp:[::1]:")


def test_quotes_in_a_password_are_refused(tmp_path) -> None:
    with pytest.raises(LabError, match="password of 1001"):
        KamailioLab(tmp_path, accounts={"1001": 'a"b'}).render()


def test_up_answers_and_down_stops(tmp_path) -> None:
    lab = KamailioLab(tmp_path).up()
    try:
        assert lab.running
        status = sip_options_udp("127.0.0.1", lab.sip_port)
        assert status is not None and status.startswith("SIP/2.0 ")
    finally:
        lab.down()
    assert not lab.running and sip_options_udp("127.0.0.1", lab.sip_port, 0.3) is None
