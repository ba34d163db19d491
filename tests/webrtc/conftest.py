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


def netns_pair(tag: str) -> Iterator[Any]:
    """Made and destroyed around the yield (a generator for fixtures, also tests/interop)."""
    from sipclient.lab.netns import NetnsError, TestNet, available

    reason = available()
    if reason:
        pytest.fail(f"WebRTC tests need a test network namespace: {reason}", pytrace=False)
    net = TestNet(tag=tag)
    try:
        net.create()
    except NetnsError as exc:
        pytest.fail(f"cannot make the test network namespaces: {exc}", pytrace=False)
    try:
        yield net
    finally:
        net.destroy()


def lab_in_net(net: Any, name: str, extra_offset: int) -> Iterator[Any]:
    """An Asterisk lab started inside ``net``'s pbx namespace, bound to its veth address."""
    from sipclient.lab import Lab, LabError
    from sipclient.lab.testing import RunDirClaim, test_lab_config

    config = test_lab_config(name, extra_offset=extra_offset)
    claim = RunDirClaim(config.run_dir)
    config = config.replace(run_dir=claim.path, bind=net.pbx_ip, host=net.pbx_ip)
    lab = Lab(config)
    try:
        try:
            net.run(lab.up, where="pbx")
        except LabError as exc:
            pytest.fail(f"the Asterisk lab did not start in {net.pbx_ns}: {exc}",
                        pytrace=False)
        lab.net = net  # type: ignore[attr-defined]
        try:
            yield lab
        finally:
            lab.down()
    finally:
        claim.release()


@pytest.fixture(scope="session")
def wnet() -> Iterator[Any]:  # sipclient.lab.netns.TestNet
    yield from netns_pair("wt")


@pytest.fixture(scope="session")
def wlab(wnet) -> Iterator[Any]:  # sipclient.lab.Lab, with .net
    yield from lab_in_net(wnet, "webrtc", 300)
