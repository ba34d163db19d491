"""Shared fixtures. ``lab``: the real Asterisk lab, started once per test session.

The lab listens on the cloud's ports (SIP UDP/TCP 7048, TLS 5061, WSS 8089 path /ws) unless
``SIPCLIENT_LAB_*`` variables override them (see docs/lab.md). Under pytest-xdist every
worker starts its own lab in its own run directory with its ports shifted by 10 per worker
(gw0: 7048, gw1: 7058, ...), so ``pytest -n 2`` works. Another pytest session on the
same machine (the same work tree even) gets its own run directory (``run/lab-pytest-main-2``)
and, its ports being taken, ports shifted by 1000: two sessions never share an Asterisk.
A missing Asterisk is a test ERROR
with the message "asterisk not found: run `make lab-deps`", never a skip.

    @pytest.mark.lab
    def test_something(lab):
        acc = lab.account(1001)          # extension, password, realm, transports
        lab.config.sip_port, lab.config.probe_host
        lab.cli("pjsip show endpoints")  # Asterisk CLI
        lab.contacts("1001")             # registered contacts
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

# The suite runs on asyncio's standard loop; `SIPCLIENT_LOOP=uvloop make test` runs it on
# uvloop instead: what goes through sipclient.io.loop.run (the CLI, the scenario runner, in
# this process or a child) and, through the loop policy, every loop of the tests (the
# pytest-asyncio loop of the async def tests, and the few asyncio.run left).
os.environ.setdefault("SIPCLIENT_LOOP", "asyncio")
if os.environ["SIPCLIENT_LOOP"].lower() == "uvloop":
    import asyncio

    import uvloop  # a missing uvloop is an error here: the run asked for it

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

# Scenario files under tests/ are fixtures of the scenario tests (some broken on purpose),
# not tests of this suite: the sipclient pytest plugin must not collect them here.
collect_ignore_glob = ["*.sip.yaml"]


@pytest.fixture(scope="session")
def lab() -> Iterator["Lab"]:  # noqa: F821 - imported lazily: a broken package must not stop collection
    from sipclient.lab import Lab, LabError
    from sipclient.lab.testing import claim_test_lab

    config, claim = claim_test_lab()
    instance = Lab(config)
    try:
        try:
            instance.up()
        except LabError as exc:
            pytest.fail(f"the Asterisk lab did not start: {exc}", pytrace=False)
        try:
            yield instance
        finally:
            instance.down()
    finally:
        if claim is not None:
            claim.release()
