"""Choosing what a run takes (files, folders, ``-k``), report folder names, and the YAML
lines given to a failing step. Pure: no lab, no engine."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sipclient.scenario.model import Location, Scenario, Step
from sipclient.scenario.labs import TargetSpec
from sipclient.scenario.runner import RunPlan, annotate
from sipclient.scenario.selection import (KeywordError, collect_files, keyword_matcher,
                                          keywords_of, select, slug)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name: x\n")
    return path


def test_folders_are_searched_recursively_and_sorted_files_named_are_kept(tmp_path):
    b = _touch(tmp_path / "s" / "b.sip.yaml")
    a = _touch(tmp_path / "s" / "calls" / "a.sip.yaml")
    z = _touch(tmp_path / "s" / "a0.sip.yaml")
    _touch(tmp_path / "s" / "notes.yaml")
    other = _touch(tmp_path / "extra.yaml")
    assert collect_files([tmp_path / "s"]) == [z, b, a]
    # an explicit file is taken whatever its name; a file given twice runs once
    assert collect_files([other, tmp_path / "s", b]) == [other, z, b, a]


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.sip.yaml: no such file or folder"):
        collect_files([tmp_path / "nope.sip.yaml"])


def _sc(name: str, file: str, tags: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(name=name, path=Path(file), tags=tags)


SCENARIOS = [
    _sc("call the echo test over UDP", "scenarios/calls/echo-udp.sip.yaml", ("call", "echo")),
    _sc("echo over TLS", "scenarios/calls/echo-tls.sip.yaml", ("call", "echo", "tls")),
    _sc("register with a wrong password", "scenarios/reg/bad-auth.sip.yaml", ("register",)),
]


@pytest.mark.parametrize("expr, names", [
    ("echo", ["call the echo test over UDP", "echo over TLS"]),
    ("ECHO and not tls", ["call the echo test over UDP"]),
    ("bad-auth", ["register with a wrong password"]),  # the file's stem
    ("register or tls", ["echo over TLS", "register with a wrong password"]),
    ("not (call or register)", []),
    ("udp or (echo and tls)", ["call the echo test over UDP", "echo over TLS"]),
    ("", [s.name for s in SCENARIOS]),
])
def test_k_matches_names_stems_and_tags_like_pytest(expr, names):
    assert [s.name for s in select(SCENARIOS, expr)] == names


@pytest.mark.parametrize("expr, where", [
    ("echo and", "at the end"), ("(echo", "expected ')' at the end"),
    ("echo tls", "unexpected 'tls' at column 6"), ("or echo", "unexpected 'or' at column 1"),
])
def test_a_bad_k_expression_says_where(expr, where):
    with pytest.raises(KeywordError) as info:
        keyword_matcher(expr)
    assert str(info.value).startswith(f"-k {expr!r}: ") and str(info.value).endswith(where)


def test_keywords_are_name_stem_and_tags():
    assert keywords_of("n", "a/b/echo.sip.yaml", ("x",)) == ["n", "echo", "x"]


def test_report_folders_are_slugs_of_the_paths_and_never_shared(tmp_path):
    assert slug(tmp_path / "scenarios" / "calls" / "echo udp.sip.yaml", tmp_path) == \
        "scenarios-calls-echo-udp"
    assert slug("/elsewhere/x.sip.yaml", tmp_path) == "elsewhere-x"
    plan = RunPlan([_sc("a", "a/x.sip.yaml"), _sc("b", "a-x.sip.yaml")], TargetSpec(),
                   tmp_path / "r", root=Path.cwd())
    assert [d.name for d in plan.report_dirs()] == ["a-x", "a-x-2"]


def test_target_spec_builds_a_bare_target_and_says_the_lab_needs_one():
    spec = TargetSpec(target="udp:pbx.example.net:7048")
    assert not spec.is_lab and spec.build().servers["tcp"] == "tcp:pbx.example.net:7048"
    assert TargetSpec().is_lab
    with pytest.raises(ValueError, match="running lab"):
        TargetSpec().build()


def test_target_and_profile_together_take_the_profiles_accounts(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("target: udp:old.example.net:5060\naccounts:\n"
                       f"  '1001': {{password_file: {secret}}}\n")
    t = TargetSpec(target="udp:new.example.net:7048", profile=str(profile)).build()
    assert t.servers["udp"] == "udp:new.example.net:7048" and t.port == 7048
    assert t.account(1001).password.reveal() == "s3cret"


def test_a_failing_step_gets_its_yaml_lines(tmp_path):
    path = tmp_path / "x.sip.yaml"
    lines = ("name: x", "agents: {alice: {account: 1001}}", "steps:", "  - parallel:",
             "      a:", "        - register: alice", "        - wait: 1")
    inner = Step("register", {"agent": "alice"}, Location(path, 6, 6), 1, "1.a.1")
    top = Step("parallel", {}, Location(path, 4, 7), 1, "1", branches={"a": (inner,)})
    scenario = Scenario("x", path, "", (), 60.0, {}, {}, (top,), lines)
    result = {"status": "failed", "failing_step": "1.a.1",
              "steps": [{"path": "1", "status": "failed"},
                        {"path": "1.a.1", "status": "failed", "source": None}]}
    annotate(result, scenario)
    assert result["steps"][1]["source"] == "   6 |         - register: alice"
    assert "source" not in result["steps"][0]
