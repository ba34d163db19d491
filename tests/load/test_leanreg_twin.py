"""The lean REGISTER driver's sockets (sipclient.load.leanrun.LeanRegisterDriver): the
registrar is talked to through a twin socket on the same port, connected to it, and a
registrar that answers from another address is still heard."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sipclient.load.leanrun import LeanRegisterDriver
from sipclient.load.spec import LoadSpec
from sipclient.load.stats import LoadStats
from sipclient.proto.builders import build_response
from sipclient.proto.message import parse_message


async def register_three(answer_from_other_port: bool) -> tuple[LoadStats, dict]:
    """Three users register with a registrar that answers 200 at once (no digest), from
    its own socket or from another one."""
    loop = asyncio.get_running_loop()
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.bind(("127.0.0.1", 0))
    listen.setblocking(False)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    answer = other if answer_from_other_port else listen
    seen: dict = {"registers": 0}

    def on_request() -> None:
        while True:
            try:
                data, addr = listen.recvfrom(65536)
            except BlockingIOError:
                return
            req = parse_message(data)
            seen["registers"] += 1
            answer.sendto(build_response(req, 200, "OK", to_tag="t").serialize(), addr)

    loop.add_reader(listen.fileno(), on_request)
    port = listen.getsockname()[1]
    spec = LoadSpec(kind="register", target=f"udp:127.0.0.1:{port}", rate=None,
                    users=("1001", "1002", "1003"), calls=3, concurrency=3, timeout=3.0)
    driver = LeanRegisterDriver(spec)
    stats = LoadStats(0.0)
    try:
        await driver.open()
        assert driver.sock is not None and driver.conn is not None
        seen["twin"] = (driver.conn.getsockname()[1] == driver.sock.getsockname()[1]
                        and driver.conn.getpeername() == ("127.0.0.1", port))
        await asyncio.wait_for(driver.run_all(stats, asyncio.Event()), 10)
    finally:
        loop.remove_reader(listen.fileno())
        await driver.close()
        listen.close()
        other.close()
    return stats, seen


@pytest.mark.parametrize("other_port", [False, True], ids=["same-address", "other-port"])
def test_registrations_complete_through_the_twin_and_from_another_port(other_port):
    stats, seen = asyncio.run(register_three(other_port))
    assert seen["twin"]  # same port as the first socket, connected to the registrar
    assert (stats.completed, stats.failed) == (3, 0)
    assert dict(stats.by_status) == {"200": 3}
    assert seen["registers"] == 6  # three registrations, three removals at the end
