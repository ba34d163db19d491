"""The HTTP steps name a dialect by its seed id or by its module's name (krolik, pbx_api,
pbx55, rest_c2c, minicrm: sipclient.http.dialects.DIALECTS); a wrong name is a load-time
error with the file's line and the names it could be."""

from __future__ import annotations

import pytest

from sipclient.http.dialects import DIALECTS
from sipclient.scenario.loader import load_text
from sipclient.scenario.model import ScenarioErrors

HEAD = """name: dialects
agents:
  alice: {account: 1013}
steps:
  - register: alice
"""


def load(steps: str, tmp_path):
    return load_text(HEAD + steps, tmp_path / "d.sip.yaml", env={})


@pytest.mark.parametrize("c2c,hook,shape", [("seed001", "seed000", "seed002"),
                                            ("pbx_api", "krolik", "pbx55"),
                                            ("rest_c2c", "minicrm", "pbx_api")])
def test_seed_ids_and_module_names_both_load(tmp_path, c2c: str, hook: str, shape: str) -> None:
    scenario = load(f"""  - http_twin: {{webhooks: [{hook}, pbx55, seed003]}}
  - click_to_call: {{dialect: {c2c}, ramal: "1013", number: "600", as: c2c}}
  - expect_webhook: {{dialect: {hook}, call: c2c}}
  - expect_recording: {{call: c2c, shape: {shape}}}
""", tmp_path)
    assert [s.args.get("dialect") for s in scenario.steps[2:4]] == [c2c, hook]


def test_every_module_name_is_accepted_where_its_seed_id_is(tmp_path) -> None:
    for ident, module in DIALECTS.items():
        step = (f"  - click_to_call: {{dialect: {module}, ramal: '1', number: '2'}}\n"
                if ident in ("seed000", "seed001", "seed003") else
                f"  - expect_webhook: {{dialect: {module}}}\n")
        load("  - http_twin: {}\n" + step, tmp_path)


def test_a_wrong_dialect_name_says_where_and_what_it_could_be(tmp_path) -> None:
    with pytest.raises(ScenarioErrors) as info:
        load("  - http_twin: {}\n  - expect_webhook: {dialect: krolick, kind: cdr}\n", tmp_path)
    [error] = info.value.errors
    assert error.line == 7, str(error)
    assert "krolick" in error.message and "krolik" in error.message and "seed000" in error.message
