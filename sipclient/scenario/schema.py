"""The JSON Schema (Draft 2020-12) of ``*.sip.yaml`` files, built here as Python data.

One definition per step kind, with its arguments and their types, from the one table of step
kinds (:mod:`sipclient.scenario.kinds`: each step's module registers its kind there). The
same schema is published as ``scenario.schema.json`` (kept in sync by
tests/scenario/test_schema.py; rewrite it with ``python -m sipclient.scenario.schema
--write``) so that editors check files as people type. A step is an object with exactly one
property, its kind; a kind with a short form (``register: alice``) takes ``if: object then:
<arguments> else: <short form>`` so that validation errors stay about the form that was
written (no ``anyOf`` guessing).

Numbers, booleans and integers also accept a whole ``${...}`` reference, resolved when the step
runs. The loader (``loader.py``) turns the validator's errors into one line each, with words.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sipclient.pcap.flowpattern import ITEM_REGEX as FLOW_ITEM_REGEX
from .kinds import (BOOL, CODECS, DIRECTIONS, DTMF_MODES, HEADERS, INTEGER,  # noqa: F401
                    NUMBER, STRING, TEXT, WAIT_FOR, enum, kinds, ref, wait_target)

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")
SCHEMA_ID = "https://sipclient.invalid/scenario.schema.json"

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
REF_ONLY = r"^\$\{[^}]+\}$"

TRANSPORTS = ["udp", "tcp", "tls", "ws", "wss"]
# Facts that ${agent.X}, ${call.X}, ${target.X}, ${new.X} may name (the engine provides them).
AGENT_FACTS = ("user", "domain", "uri", "local_address", "local_port", "transport", "contact")
CALL_FACTS = ("call_id", "local_tag", "remote_tag", "status")
TARGET_FACTS = ("host", "domain", "port", "tls_port", "ws_port", "wss_port",
                "udp", "tcp", "tls", "ws", "wss")
NEW_FACTS = ("call_id", "branch", "tag")
RESERVED = ("env", "target", "new", "i")  # not usable as names of vars, agents or calls


def _ref() -> dict[str, Any]:
    return {"$ref": "#/$defs/ref"}


_d, _enum = ref, enum

#: the one table of step kinds (sipclient/scenario/kinds.py), filled by the steps' modules
KINDS = kinds()
STEP_KINDS = tuple(KINDS)
SHORT_FORMS = {name: kind.short for name, kind in KINDS.items() if kind.short}

# Words people write for a step, mapped to ours ("did you mean" hints).
SYNONYMS = {"dial": "call", "invite": "call", "bye": "hangup", "hang_up": "hangup",
            "sleep": "wait", "pause": "wait", "raw": "send_raw", "sendraw": "send_raw",
            "loop": "repeat", "ping": "options", "refer": "transfer", "decline": "reject",
            "pickup": "answer", "accept": "answer", "register_agent": "register"}

AGENT_FIELDS: dict[str, Any] = {
    "account": {"type": ["string", "integer"], "title": "an extension of the target"},
    "user": TEXT, "password": STRING, "auth_user": TEXT, "domain": STRING,
    "display_name": STRING, "transport": _enum(TRANSPORTS), "server": STRING, "codecs": CODECS,
    "local_address": STRING, "local_port": _d("port"), "impairment": _d("impairment"),
    "play": STRING, "record": STRING, "expires": INTEGER, "insecure": BOOL,
    "headers": HEADERS, "auto_answer": NUMBER, "webrtc": BOOL,
    "user_agent": STRING, "challenge_delay": NUMBER,
}


def _verdict_codes() -> list[str]:
    from sipclient.pcap.diagnose import CODES  # the one table of verdicts

    return ["ok", *CODES]


def _step_kind_schema(kind: str) -> dict[str, Any]:
    short = KINDS[kind].short_value_schema
    if short is None:
        return _d(f"{kind}_args")
    return {"if": {"type": "object"}, "then": _d(f"{kind}_args"), "else": short}


_HEP_TARGET = {"type": "string", "pattern": "^(udp|tcp):.+:[0-9]+$",
               "title": "udp:HOST:PORT or tcp:HOST:PORT"}


def build() -> dict[str, Any]:
    """The whole schema, as plain data (JSON-able)."""
    impair_dir = {"type": "object", "additionalProperties": False, "properties": {
        "drop": _d("fraction"), "delay": NUMBER, "duplicate": _d("fraction"),
        "drop_nth": {"type": "array", "items": {"type": "integer", "minimum": 1}}}}
    defs: dict[str, Any] = {
        "ref": {"type": "string", "pattern": REF_ONLY, "title": "a ${...} reference"},
        "number": {"title": "a number", "anyOf": [{"type": "number"}, _ref()]},
        "integer": {"title": "a whole number", "anyOf": [{"type": "integer"}, _ref()]},
        "boolean": {"title": "true or false", "anyOf": [{"type": "boolean"}, _ref()]},
        "verdicts": {"title": "verdict codes of `sipclient pcap diagnose`", "type": "array",
                     "minItems": 1, "items": {"enum": _verdict_codes()}},
        "fraction": {"title": "a fraction from 0 to 1", "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 1}, _ref()]},
        "port": {"title": "a port number (0-65535)", "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 65535}, _ref()]},
        "name": {"type": "string", "pattern": IDENT,
                 "title": "a name of letters, digits and _ (not starting with a digit)"},
        "agent_name": {"type": "string", "minLength": 1, "title": "an agent name"},
        "call_name": {"type": "string", "minLength": 1, "title": "a call name"},
        "status": {"title": "a status code (200), a class (\"4xx\") or a list of codes",
                   "anyOf": [{"type": "integer", "minimum": 100, "maximum": 699},
                             {"type": "string", "pattern": r"^([1-6](\d\d|xx)|\$\{[^}]+\})$"},
                             {"type": "array", "minItems": 1, "items": {
                                 "type": "integer", "minimum": 100, "maximum": 699}}]},
        "flow_item": {"title": "a method (INVITE), a status (200, \"1xx\", \"18x\"), "
                               "alternatives (\"180|183\"), optionally ending in ?, * or +",
                      "anyOf": [{"type": "integer", "minimum": 100, "maximum": 699},
                                {"type": "string", "pattern": FLOW_ITEM_REGEX}]},
        "header_regexes": {"type": "object", "additionalProperties": {
            "type": ["string", "number"], "title": "a regular expression"}},
        "capture": {"type": "object", "additionalProperties": False, "required": ["header"],
                    "properties": {"header": {"type": "string", "minLength": 1},
                                   "regex": STRING}},
        "impairment": {"type": "object", "additionalProperties": False, "properties": {
            "outgoing": impair_dir, "incoming": impair_dir, "seed": INTEGER}},
        "var": {"title": "a value, {env: NAME}, {env: NAME, default: x}, {env: NAME, secret: "
                         "true} or {secret_file: path}",
                "if": {"type": "object"}, "else": {},
                "then": {"type": "object", "additionalProperties": False,
                         "properties": {"env": {"type": "string", "minLength": 1},
                                        "default": {}, "secret_file": {"type": "string"},
                                        "secret": {"type": "boolean"}}}},
        "agent": {"type": "object", "properties": AGENT_FIELDS, "additionalProperties": False},
        "step": {"type": "object", "title": "a step: a mapping with one key, its kind",
                 "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                 "properties": {kind: _step_kind_schema(kind) for kind in STEP_KINDS}},
        "steps": {"type": "array", "items": _d("step"), "minItems": 1},
    }
    for name, kind in KINDS.items():
        defs[f"{name}_args"] = kind.args
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "sipclient scenario (*.sip.yaml)",
        "description": "A SIP call scenario: agents and the steps they take (docs/scenarios.md).",
        "type": "object",
        "additionalProperties": False,
        "required": ["agents", "steps"],
        "properties": {
            "name": STRING,
            "description": STRING,
            "tags": {"type": "array", "items": {"type": ["string", "number"]}},
            "timeout": {"title": "a number of seconds", "type": "number", "exclusiveMinimum": 0},
            "vars": {"type": "object", "propertyNames": _d("name"),
                     "additionalProperties": _d("var")},
            "agents": {"type": "object", "propertyNames": _d("name"), "minProperties": 1,
                       "additionalProperties": _d("agent")},
            "steps": _d("steps"),
            "hep": {"title": "HEP3 to Homer: udp:HOST:PORT or tcp:HOST:PORT, or a mapping",
                    "oneOf": [_HEP_TARGET, {
                        "type": "object", "additionalProperties": False,
                        "required": ["target"],
                        "properties": {"target": _HEP_TARGET,
                                       "capture_id": {"type": "integer", "minimum": 0,
                                                      "maximum": 4294967295},
                                       "auth_key_env": STRING, "auth_key_file": STRING}}]},
        },
        "$defs": defs,
    }


SCHEMA: dict[str, Any] = build()


def schema_json() -> str:
    """The published schema: the text of ``scenario.schema.json``."""
    return json.dumps(SCHEMA, indent=2, sort_keys=False) + "\n"


def write() -> Path:
    SCHEMA_FILE.write_text(schema_json(), encoding="utf-8")
    return SCHEMA_FILE


if __name__ == "__main__":  # python -m sipclient.scenario.schema [--write]
    if "--write" in sys.argv:
        print(f"wrote {write()}")
    else:
        sys.stdout.write(schema_json())
