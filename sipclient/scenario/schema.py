"""The JSON Schema (Draft 2020-12) of ``*.sip.yaml`` files, built here as Python data.

One definition per step kind, with its arguments and their types. The same schema is
published as ``scenario.schema.json`` (kept in sync by tests/scenario/test_schema.py; rewrite
it with ``python -m sipclient.scenario.schema --write``) so that editors check files as people
type. A step is an object with exactly one property, its kind; a kind with a short form
(``register: alice``) takes ``if: object then: <arguments> else: <short form>`` so that
validation errors stay about the form that was written (no ``anyOf`` guessing).

Numbers, booleans and integers also accept a whole ``${...}`` reference, resolved when the step
runs. The loader (``loader.py``) turns the validator's errors into one line each, with words.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sipclient.pcap.flowpattern import ITEM_REGEX as FLOW_ITEM_REGEX

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")
SCHEMA_ID = "https://sipclient.invalid/scenario.schema.json"

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
REF_ONLY = r"^\$\{[^}]+\}$"
DIGITS = r"^([0-9*#A-Da-d]+|\$\{[^}]+\})$"

TRANSPORTS = ["udp", "tcp", "tls", "ws", "wss"]
DTMF_MODES = ["rfc4733", "info", "inband"]
WAIT_FOR = ["incoming", "ended", "registered"]
DIRECTIONS = ["sendrecv", "sendonly", "recvonly", "inactive"]
# Facts that ${agent.X}, ${call.X}, ${target.X}, ${new.X} may name (the engine provides them).
AGENT_FACTS = ("user", "domain", "uri", "local_address", "local_port", "transport", "contact")
CALL_FACTS = ("call_id", "local_tag", "remote_tag", "status")
TARGET_FACTS = ("host", "domain", "port", "tls_port", "ws_port", "wss_port",
                "udp", "tcp", "tls", "ws", "wss")
NEW_FACTS = ("call_id", "branch", "tag")
RESERVED = ("env", "target", "new", "i")  # not usable as names of vars, agents or calls


def _ref() -> dict[str, Any]:
    return {"$ref": "#/$defs/ref"}


def _d(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


NUMBER, INTEGER, BOOL, STRING = _d("number"), _d("integer"), _d("boolean"), {"type": "string"}
TEXT = {"title": "a string or a number", "type": ["string", "number"]}  # `to: 600` is fine
AGENT, CALL, CALL_NAME = _d("agent_name"), _d("call_name"), _d("name")
STATUS = _d("status")
CODECS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
HEADERS = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": values}


def _args(props: dict[str, Any], required: tuple[str, ...] = (), waits: bool = False) -> dict:
    """The arguments of one step kind: its own plus ``name`` (and ``timeout`` if it waits)."""
    properties = {"name": STRING, **props}
    if waits:
        properties.setdefault("timeout", NUMBER)
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


# kind -> (main argument of the short form, its schema, the arguments)
STEPS: dict[str, tuple[str | None, dict[str, Any] | None, dict[str, Any]]] = {
    "register": ("agent", AGENT, _args({"agent": AGENT, "expires": INTEGER,
                                        "expect": {"title": "a status or \"fail\"",
                                                   "anyOf": [STATUS, {"const": "fail"}]}},
                                       ("agent",), waits=True)),
    "unregister": ("agent", AGENT, _args({"agent": AGENT, "expect": STATUS}, ("agent",), True)),
    "options": ("agent", AGENT, _args({"agent": AGENT, "to": TEXT, "expect": STATUS},
                                      ("agent",), True)),
    "call": (None, None, _args({"from": AGENT, "to": TEXT, "as": CALL_NAME, "codecs": CODECS,
                                "headers": HEADERS,
                                "expect": {"title": "a status or \"none\"",
                                           "anyOf": [STATUS, {"const": "none"}]}},
                               ("from", "to"), True)),
    "answer": ("agent", AGENT, _args({"agent": AGENT, "as": CALL_NAME, "after": NUMBER,
                                      "ring": BOOL, "codecs": CODECS}, ("agent",), True)),
    "reject": ("agent", AGENT, _args({"agent": AGENT, "status": INTEGER, "as": CALL_NAME},
                                     ("agent",), True)),
    "cancel": ("call", CALL, _args({"call": CALL, "expect": STATUS}, ("call",), True)),
    "hangup": ("call", CALL, _args({"call": CALL, "expect": STATUS}, ("call",), True)),
    "hold": ("call", CALL, _args({"call": CALL}, ("call",), True)),
    "unhold": ("call", CALL, _args({"call": CALL}, ("call",), True)),
    "transfer": (None, None, _args({"call": CALL, "to": TEXT, "expect": STATUS},
                                   ("call", "to"), True)),
    "dtmf": (None, None, _args({"call": CALL, "digits": {"type": ["string", "integer"],
                                                        "title": "DTMF digits (0-9, *, #, A-D)",
                                                        "pattern": DIGITS},
                                "mode": _enum(DTMF_MODES), "duration": NUMBER},
                               ("call", "digits"), True)),
    "play": (None, None, _args({"call": CALL, "source": STRING}, ("call", "source"))),
    "record": (None, None, _args({"call": CALL, "file": STRING}, ("call", "file"))),
    "wait": ("seconds", NUMBER, _args({"seconds": NUMBER, "for": _enum(WAIT_FOR), "agent": AGENT,
                                       "call": CALL}, (), True)),
    "expect": (None, None, _args({
        "agent": AGENT, "in": BOOL, "out": BOOL, "method": {
            "type": "string", "title": "a method name in capitals (INVITE, BYE...)",
            "pattern": r"^([A-Z]+|\$\{[^}]+\})$"},
        "status": STATUS, "call": CALL, "headers": _d("header_regexes"),
        "sdp": {"type": "object", "additionalProperties": False,
                "properties": {"codecs": CODECS, "direction": _enum(DIRECTIONS)}},
        "capture": {"type": "object", "propertyNames": _d("name"),
                    "additionalProperties": _d("capture")},
    }, ("agent",), True)),
    "expect_media": (None, None, _args({
        "call": CALL, "codec": STRING, "tone": NUMBER, "tolerance": NUMBER,
        "dtmf": {"type": ["string", "integer"]}, "max_loss": _d("fraction"), "min_mos": NUMBER,
        "min_packets": INTEGER}, ("call",))),
    "expect_flow": (None, None, _args({
        "agent": AGENT, "call": CALL, "flow": {"type": "array", "items": _d("flow_item"),
                                               "minItems": 1},
        "exact": BOOL}, ("agent", "flow"), True)),
    "send_raw": (None, None, _args({"agent": AGENT, "message": STRING, "to": TEXT,
                                    "keep_length": BOOL}, ("agent", "message"))),
    "set": (None, None, {"type": "object", "title": "a mapping of name: value",
                         "propertyNames": _d("name"), "minProperties": 1}),
    "parallel": (None, None, {"type": "object", "title": "a mapping of branch name: [steps]",
                              "propertyNames": _d("name"), "minProperties": 1,
                              "additionalProperties": _d("steps")}),
    "repeat": (None, None, _args({"times": INTEGER, "steps": _d("steps")}, ("times", "steps"))),
    "validate_capture": (None, None, _args({"against": STRING}, ("against",))),
    # issue 17 (sipclient/scenario/steps/diagnose.py, docs/captures.md)
    "diagnose": (None, None, _args({"expect": _d("verdicts"), "absent": _d("verdicts"),
                                    "agent": AGENT, "password_check": BOOL})),
    # an agent's life mid-scenario (sipclient/scenario/steps/lifecycle.py)
    "close": ("agent", AGENT, _args({"agent": AGENT, "cleanup": BOOL}, ("agent",), True)),
    "reopen": ("agent", AGENT, _args({"agent": AGENT, "local_address": STRING,
                                      "local_port": _d("port")}, ("agent",), True)),
    # issue 9 (sipclient/scenario/steps/http.py, docs/http.md)
    "http_twin": (None, None, _args({
        "login": STRING, "source": STRING, "ring_timeout": NUMBER, "push_method":
        _enum(["PUT", "POST"]), "webhooks": {"type": "array", "items": _enum(
            ["seed000", "seed002", "seed003", "seed004"]), "minItems": 1},
        "campaigns": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                 "title": "a dialer campaign (issue 20)"}}})),
    # issue 20 (sipclient/scenario/steps/http_dialer.py, docs/http.md)
    "dialer_insert": (None, None, _args({
        "campaign": TEXT, "contact": {"type": "object"}, "as": CALL_NAME,
        "expect": _enum(["ok", "unknown"])}, ("campaign", "contact"), True)),
    "expect_dialer": (None, None, _args({
        "campaign": TEXT, "contact": CALL_NAME, "status": _enum(
            ["AGUARDANDO", "Dialing", "CONCLUIDO", "Descartado", "EXCEDIDO"]),
        "tentativas": TEXT, "status_ligacao": STRING, "numero": TEXT, "ddd": TEXT,
        "cliente": STRING}, ("contact",), True)),
    "dialer_pause": (None, None, _args({"campaign": TEXT, "paused": BOOL},
                                       ("campaign",))),
    "click_to_call": (None, None, _args({
        "dialect": _enum(["seed000", "seed001", "seed003"]), "ramal": TEXT, "number": TEXT,
        "key": STRING, "as": CALL_NAME, "expect": _enum(["ok", "refused"])},
        ("ramal", "number"), True)),
    "statusramais": (None, None, _args({"rows": {
        "type": "object", "title": "extension: {field: matcher}",
        "additionalProperties": {"type": "object"}}}, ("rows",), True)),
    "http": (None, None, _args({
        "method": STRING, "path": STRING, "url": STRING, "scheme": _enum(["https", "http"]),
        "json": {}, "form": {"type": "object"}, "body": STRING, "headers": HEADERS,
        "auth": _enum(["twin", "none"]), "source": STRING, "insecure": BOOL,
        "to": _enum(["twin", "receiver"]), "ca_file": STRING,
        "expect": {"type": "object", "additionalProperties": False,
                   "properties": {"status": INTEGER, "json": {}, "body": STRING,
                                  "contains": STRING, "not_contains": STRING}}}, (), True)),
    "expect_webhook": (None, None, _args({
        "dialect": _enum(["seed000", "seed002", "seed003", "seed004"]), "kind": STRING,
        "call": CALL, "fields": {"type": "object", "title": "field: matcher (or a list)"},
        "strict": BOOL}, ("dialect",), True)),
    "expect_recording": (None, None, _args({
        "call": CALL, "shape": _enum(["seed000", "seed001", "seed002"]), "tone": NUMBER,
        "tolerance": NUMBER}, ("call",), True)),
}
STEP_KINDS = tuple(STEPS)
SHORT_FORMS = {kind: main for kind, (main, _, _) in STEPS.items() if main}
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
    main, short, args = STEPS[kind]
    if main is None:
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
    for kind, (_, _, args) in STEPS.items():
        defs[f"{kind}_args"] = args
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
