"""The WebRTC tests' own lab, inside test network namespaces (sipclient/lab/netns.py).

``wnet``: two namespaces joined by a veth pair, made for this session (stale ones from a
killed run are removed first, ours at teardown). ``wlab``: an Asterisk lab started *inside*
the ``pbx`` namespace, bound to the veth address, with its own run directory
(``run/lab-webrtc-*``) and ports shifted by 300 (never the repo's main test lab). Agents run
in the ``ue`` namespace through :func:`tests.webrtc.util.run`, so neither Asterisk nor aiortc
sees any interface but the test link. Root and iproute2 are needed: without them the tests
fail (with the reason), they are not skipped.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


@pytest.fixture(scope="session")
def wnet() -> Iterator[Any]:  # sipclient.lab.netns.TestNet
    from sipclient.lab.netns import NetnsError, TestNet, available

    reason = available()
    if reason:
        pytest.fail(f"WebRTC tests need a test network namespace: {reason}", pytrace=False)
    net = TestNet(tag="wt")
    try:
        net.create()
    except NetnsError as exc:
        pytest.fail(f"cannot make the test network namespaces: {exc}", pytrace=False)
    try:
        yield net
    finally:
        net.destroy()


@pytest.fixture(scope="session")
def wlab(wnet) -> Iterator[Any]:  # sipclient.lab.Lab, with .net
    from sipclient.lab import Lab, LabError
    from sipclient.lab.testing import RunDirClaim, test_lab_config

    config = test_lab_config("webrtc", extra_offset=300)
    claim = RunDirClaim(config.run_dir)
    config = config.replace(run_dir=claim.path, bind=wnet.pbx_ip, host=wnet.pbx_ip)
    lab = Lab(config)
    try:
        try:
            wnet.run(lab.up, where="pbx")
        except LabError as exc:
            pytest.fail(f"the Asterisk lab did not start in {wnet.pbx_ns}: {exc}",
                        pytrace=False)
        lab.net = wnet  # type: ignore[attr-defined]
        try:
            yield lab
        finally:
            lab.down()
    finally:
        claim.release()
