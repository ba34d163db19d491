"""``${...}`` at run time: what a step's arguments become, and secrets kept out of output."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sipclient.agent import Secret
from sipclient.scenario.loader import load_text
from sipclient.scenario.variables import UnknownVariable, Variables, is_secret_name, references


def make(**values) -> Variables:
    v = Variables(env={"PBX": "pbx.example.net"}, target={"host": "127.0.0.1", "port": 5060},
                  rng=random.Random(7))
    for name, value in values.items():
        v.set(name, value)
    return v


def test_strings_are_filled_in_everywhere_and_a_whole_reference_keeps_its_type():
    v = make(n=3, callee="600", ok=True, nothing=None)
    v.set_agent("alice", {"user": "1001", "local_port": 40000})
    args = {"to": "sip:${callee}@${target.host}:${target.port}", "times": "${n}",
            "list": ["${alice.user}", "x${n}", 5], "nested": {"h": "${env.PBX}"},
            "flag": "${ok}", "text": "${ok}/${nothing}/${alice.local_port}"}
    assert v.resolve(args) == {
        "to": "sip:600@127.0.0.1:5060", "times": 3, "list": ["1001", "x3", 5],
        "nested": {"h": "pbx.example.net"}, "flag": True, "text": "true//40000"}


def test_a_doubled_dollar_writes_a_literal_reference():
    assert make(x=1).resolve("$${x} is ${x}") == "${x} is 1"


def test_call_facts_are_read_when_used():
    v = make()
    facts = {"call_id": "abc@h", "remote_tag": None}
    v.set_call("c1", facts)
    assert v.resolve("${c1.call_id}") == "abc@h"
    facts["remote_tag"] = "t9"  # the engine's live view of the call
    assert v.resolve("tag=${c1.remote_tag}") == "tag=t9"


def test_a_repeat_iteration_has_its_own_index_and_shares_the_rest():
    v = make()
    loop = [v.with_index(i) for i in range(2)]
    assert [view.resolve("${i}") for view in loop] == [0, 1]
    loop[1].set("last", "x")
    assert v.resolve("${last}") == "x"  # set inside the loop, visible after it
    with pytest.raises(UnknownVariable, match=r"\$\{i\}.*only inside repeat"):
        v.resolve("${i}")


def test_new_values_are_fresh_at_each_use_and_replayable_with_a_seed():
    first = [make().resolve("${new.call_id} ${new.branch} ${new.tag}") for _ in range(2)]
    assert first[0] == first[1]  # same seed, same values
    v = make()
    a, b = v.resolve("${new.branch}"), v.resolve("${new.branch}")
    assert a != b and a.startswith("z9hG4bK") and len(v.resolve("${new.tag}")) == 8


@pytest.mark.parametrize("ref, words", [
    ("${nope}", 'unknown variable "${nope}"'),
    ("${env.MISSING}", 'unknown variable "${env.MISSING}": the environment variable is not set'),
    ("${bob.user}", 'unknown variable "${bob.user}": no agent or call named "bob"'),
    ("${target.nope}", 'unknown variable "${target.nope}": "target" has no "nope"'),
    ("${new.nope}", 'new.* is one of call_id, branch, tag'),
])
def test_an_unknown_reference_names_the_variable(ref: str, words: str):
    with pytest.raises(UnknownVariable) as info:
        make().resolve(f"x {ref} y")
    assert words in str(info.value)


def test_secrets_never_show_in_redacted_text():
    v = make(callee="600")
    v.set("sip_password", "hunter2")          # secret by its name
    v.set("api_token", "tok-123")
    v.set("pin", "4711", secret=True)         # secret because the caller says so
    v.set("hunter", "hunter")                 # not a secret, and a prefix of one
    line = "user 1001 password hunter2 token tok-123 pin 4711 calls 600 hunter"
    assert v.redact(line) == "user 1001 password *** token *** pin *** calls 600 hunter"
    assert v.is_secret("pin") and not v.is_secret("callee")
    v.add_secret(Secret("acc0unt-pw"))        # a password from the target's accounts
    assert v.redact("REGISTER with acc0unt-pw") == "REGISTER with ***"


@pytest.mark.parametrize("name, secret", [
    ("password", True), ("sip_Password", True), ("api_token", True), ("client_secret", True),
    ("ssh_key", True), ("keys", True), ("callee", False), ("user", False)])
def test_secret_names(name: str, secret: bool):
    assert is_secret_name(name) is secret


def test_the_files_vars_are_defined_in_order(tmp_path: Path):
    (tmp_path / "pw.txt").write_text("s3cret-from-file\nsecond line ignored\n")
    scenario = load_text("""\
vars:
  host: {env: PBX_HOST, default: "${target.host}"}
  user: {env: PBX_USER}
  pw: {secret_file: pw.txt}
  uri: "sip:${user}@${host}"
  port: 5060
agents:
  alice: {user: "${user}", password: "${pw}"}
steps:
  - register: alice
""", tmp_path / "s.sip.yaml", env={"PBX_USER": "1001"})
    v = Variables.from_scenario(scenario, env={"PBX_USER": "1001"}, target={"host": "10.0.0.5"})
    assert v.resolve(["${uri}", "${port}", "${pw}"]) == ["sip:1001@10.0.0.5", 5060,
                                                          "s3cret-from-file"]
    assert v.redact("auth s3cret-from-file for ${uri}") == "auth *** for ${uri}"


def test_references_skip_the_escaped_form():
    assert [name for name, _ in references("a ${x} $${y} ${c1.call_id}")] == ["x", "c1.call_id"]
