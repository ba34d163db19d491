"""A peer that stops answering: the agent's cleanup still unregisters and says what it
could not finish (issue 18: "cleanup incomplete: " with an empty reason, binding left)."""

from __future__ import annotations

import logging

from sipclient.agent import Agent, AgentConfig, Secret
from tests.agent.fake_pbx import FakePbx
from tests.agent.util import run

USERS = {"1001": "pw-1001-hostile"}


class ByeBlackHole(FakePbx):
    """Answers calls, then never answers a BYE (the PBX hung, the link to it died...)."""

    def _on_bye(self, ev) -> None:
        pass


def test_many_calls_whose_bye_hangs_still_unregister_and_say_why(caplog):
    caplog.set_level(logging.WARNING)

    async def main() -> None:
        async with ByeBlackHole(USERS) as pbx:
            cfg = AgentConfig(user="1001", server=pbx.server, password=Secret(USERS["1001"]),
                              cleanup_timeout=1.5)
            async with Agent(cfg) as agent:
                assert (await agent.register()).ok
                calls = [await agent.call("600") for _ in range(20)]
                for call in calls:
                    assert (await call.wait_final(5)).status == 200
                assert "1001" in pbx.bindings
            assert "1001" not in pbx.bindings, "the un-REGISTER waited behind the BYEs"

    run(main())
    warnings = [r.getMessage() for r in caplog.records if "cleanup incomplete" in r.getMessage()]
    assert warnings, "the cleanup was cut off: a warning must say so"
    assert "cleanup incomplete: not done within cleanup_timeout 1.5 s" in warnings[0], warnings
