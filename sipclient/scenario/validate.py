"""Check a parsed file against the JSON Schema and say what is wrong in words, with lines.

jsonschema's messages ("'abc' is not of type 'number'") are written for programmers; each
error is turned into one line about the scenario: ``step 3 (call): "timeout" must be a
number, got "abc"``, at the line of the node the error is about (the key's line for an
unknown key). Unknown names get a "did you mean" from difflib.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .model import ScenarioError
from .schema import AGENT_FIELDS, KINDS, SCHEMA, SHORT_FORMS, STEP_KINDS, SYNONYMS, WAIT_FOR
from .yamlpos import Document, PathKey

def _inline(node: Any, defs: dict[str, Any], keep: frozenset[str]) -> Any:
    """``node`` with every ``$ref`` to a definition replaced by the definition itself, except
    the recursive ones in ``keep`` (jsonschema spends most of its time following refs)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and len(node) == 1 and ref.rsplit("/", 1)[-1] not in keep:
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs, keep)
        return {k: v if k == "$defs" else _inline(v, defs, keep) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs, keep) for item in node]
    return node


def _fast_schema() -> dict[str, Any]:
    """The published schema, refs inlined (same meaning, validates about 30% faster)."""
    defs, keep = SCHEMA["$defs"], frozenset({"step", "steps"})
    fast = _inline(SCHEMA, defs, keep)
    fast["$defs"] = {name: _inline(d, defs, keep) for name, d in defs.items()}
    return fast


_VALIDATOR = Draft202012Validator(_fast_schema())
TOP_KEYS = tuple(SCHEMA["properties"])


def suggest(word: str, choices: Iterable[str], synonyms: dict[str, str] | None = None) -> str:
    """`` (did you mean "x"?)`` or ``""``."""
    choices = list(choices)
    pool = choices + list(synonyms or {})
    match = difflib.get_close_matches(str(word).lower(), pool, n=1, cutoff=0.6)
    if not match:
        return ""
    best = (synonyms or {}).get(match[0], match[0])
    return f" (did you mean \"{best}\"?)"


def show(value: Any) -> str:
    """A value as the user wrote it, short."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + "...\""
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return json.dumps(str(value))


class Where:
    """What a path is about: ``step 4.alice.2 (hangup)``, ``agent alice``, ``var x`` or the
    top level, and the rest of the path inside it (``("capture", "cid", "header")``)."""

    def __init__(self, path: PathKey) -> None:
        self.path = tuple(path)
        self.context = ""
        self.kind: str | None = None
        self.step_path: PathKey | None = None  # the step item (for its line)
        self.rest: PathKey = self.path
        self.is_step = False  # the path is a step item itself
        p = self.path
        if len(p) >= 2 and p[0] == "steps" and isinstance(p[1], int):
            label, i = str(p[1] + 1), 2
            step_at = p[:2]
            while True:
                if len(p) == i:
                    self.is_step = True
                    break
                kind = p[i]
                self.kind, self.step_path, self.rest = str(kind), step_at, p[i + 1:]
                nxt = p[i + 1:]
                if kind == "parallel" and len(nxt) >= 2 and isinstance(nxt[1], int):
                    label += f".{nxt[0]}.{nxt[1] + 1}"
                    step_at, i = p[:i + 3], i + 3
                elif kind == "repeat" and len(nxt) >= 2 and nxt[0] == "steps" \
                        and isinstance(nxt[1], int):
                    label += f".{nxt[1] + 1}"
                    step_at, i = p[:i + 3], i + 3
                else:
                    break
                self.kind = None
            self.step_label = label
            if self.is_step:
                self.step_path, self.rest = step_at, ()
                self.context = f"step {label}"
            else:
                self.context = f"step {label} ({self.kind})"
        elif len(p) >= 2 and p[0] == "agents":
            self.context, self.rest = f"agent {p[1]}", p[2:]
        elif len(p) >= 2 and p[0] == "vars":
            self.context, self.rest = f"var {p[1]}", p[2:]

    def prefix(self) -> str:
        return f"{self.context}: " if self.context else ""

    def field(self, rest: PathKey | None = None) -> str:
        """The field inside the context, e.g. ``"capture.cid.header"`` or ``"flow" item 4``."""
        rest = self.rest if rest is None else rest
        words, items = [], []
        for part in rest:
            if isinstance(part, int):
                items.append(part + 1)
            else:
                if items:
                    break
                words.append(str(part))
        if not words and not items:
            return ""
        name = f"\"{'.'.join(words)}\"" if words else "it"
        return name + "".join(f" item {n}" for n in items)


def schema_errors(doc: Document, path: Path) -> list[ScenarioError]:
    """Every schema error of ``doc.data`` as a :class:`ScenarioError`, in no special order."""
    out: list[ScenarioError] = []
    seen: set[tuple[int | None, str]] = set()
    errors = list(_VALIDATOR.iter_errors(doc.data))
    # A step with several keys: say that once, not also what is wrong inside each key.
    bad_steps = {tuple(e.absolute_path) for e in errors
                 if e.validator == "maxProperties" and Where(tuple(e.absolute_path)).is_step}
    # Unknown keys per mapping: a missing "steps" next to an unknown "step" is one mistake.
    unknown: dict[PathKey, list[str]] = {}
    for e in errors:
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = e.schema.get("properties", {}) if isinstance(e.schema, dict) else {}
            unknown.setdefault(tuple(e.absolute_path), []).extend(
                k for k in e.instance if k not in known)
    for error in errors:
        at = tuple(error.absolute_path)
        if any(len(at) > len(s) and at[:len(s)] == s for s in bad_steps):
            continue
        if at in doc.bad:
            continue  # its YAML error says it
        if at in bad_steps and error.validator == "additionalProperties":
            continue  # "a step has one key" says it
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [n for n in error.validator_value if n not in error.instance]
            if all(difflib.get_close_matches(n, unknown.get(at, []), n=1, cutoff=0.6)
                   for n in missing):
                continue  # the unknown key's "did you mean" says it
        for line, message in _translate(error, doc):
            if (line, message) not in seen:
                seen.add((line, message))
                out.append(ScenarioError(path, line, message))
    return out


def _expected(schema: dict[str, Any]) -> str:
    if "title" in schema:
        return str(schema["title"])
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    names = {"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
             "integer": "a whole number", "boolean": "true or false", "null": "empty"}
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return " or ".join(names.get(k, k) for k in kinds)
    return names.get(str(kinds), "something else")


def _translate(error: ValidationError, doc: Document) -> list[tuple[int, str]]:
    path = tuple(error.absolute_path)
    where = Where(path)
    kw = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    field = where.field()
    subject = f"{field} " if field else ""
    line = doc.line(path)
    if where.step_path is not None and not where.rest and not where.is_step:
        line = doc.line(where.step_path)

    if "propertyNames" in error.absolute_schema_path:
        key_line = doc.key_line(path + (instance,))
        what = "agent" if path == ("agents",) else "variable" if path == ("vars",) else "name"
        return [(key_line, f"{where.prefix()}{show(instance)} is not a valid {what} name: use "
                           "letters, digits and _ (not starting with a digit)")]

    if where.is_step and kw in ("type", "minProperties", "maxProperties", "additionalProperties"):
        return _step_shape(error, doc, where)

    if kw == "additionalProperties":
        known = list(schema.get("properties", {}))
        out = []
        for key in instance:
            if key in known:
                continue
            key_line = doc.key_line(path + (key,))
            if path == ():
                out.append((key_line, f"unknown top-level key \"{key}\"{suggest(key, known)} "
                                      f"(keys: {', '.join(TOP_KEYS)})"))
            elif len(path) == 2 and path[0] == "agents":
                hint = suggest(key, AGENT_FIELDS) or f" (fields: {', '.join(AGENT_FIELDS)})"
                out.append((key_line, f"{where.prefix()}unknown field \"{key}\"{hint}"))
            elif where.kind and not where.rest:
                hint = HINTS.get((where.kind, key)) or suggest(key, known) \
                    or f" (arguments: {', '.join(known)})"
                out.append((key_line, f"{where.prefix()}unknown argument \"{key}\"{hint}"))
            else:
                hint = suggest(key, known) or f" (keys: {', '.join(known)})"
                inside = f" in {field}" if field else ""
                out.append((key_line, f"{where.prefix()}unknown key \"{key}\"{inside}{hint}"))
        return out

    if kw == "required":
        missing = [name for name in error.validator_value if name not in instance]
        names = " and ".join(f"\"{m}\"" for m in missing)
        if path == ():
            return [(line, f"missing {names} (a scenario needs agents and steps)")]
        return [(line, f"{where.prefix()}{subject}missing {names}")]

    if where.kind and not where.rest and (kw == "type" or (
            where.kind in SHORT_FORMS and not isinstance(instance, dict))):
        kind = KINDS.get(where.kind)
        main, short = (kind.short, kind.short_value_schema) if kind else (None, None)
        args = ", ".join(kind.args.get("properties", {})) if kind else ""
        if main:
            hint = ""
            if where.kind == "wait" and str(instance) in WAIT_FOR:
                what = "agent: NAME" if instance in ("registered", "incoming") else "call: NAME"
                hint = f" (did you mean wait: {{for: {instance}, {what}}}?)"
            return [(line, f"{where.prefix()}must be {main} ({_short_title(short)}) or a mapping "
                           f"of arguments ({args}), got {show(instance)}{hint}")]
        if where.kind in ("set", "parallel"):
            return [(line, f"{where.prefix()}must be {KINDS[where.kind].args['title']}, "
                           f"got {show(instance)}")]
        return [(line, f"{where.prefix()}needs a mapping of arguments ({args}), "
                       f"got {show(instance)}")]

    if kw == "type" and len(path) == 2 and path[0] == "agents":
        return [(line, f"{where.prefix()}must be a mapping of fields "
                       f"({', '.join(list(AGENT_FIELDS)[:4])}...), got {show(instance)}")]

    if kw == "type" and path == ():
        return [(line, f"the top level must be a mapping (name, agents, steps...), "
                       f"got {show(instance)}")]

    if kw in ("type", "anyOf", "oneOf", "pattern", "const"):
        if kw == "anyOf" and "title" not in schema:
            best = max(error.context or [error], key=lambda e: len(e.absolute_path))
            if best is not error:
                return _translate(best, doc)
        return [(line, f"{where.prefix()}{subject}must be {_expected(schema)}, "
                       f"got {show(instance)}{_value_hint(where, instance)}")]

    if kw == "enum":
        hint = suggest(instance, map(str, error.validator_value)) \
            if isinstance(instance, str) else ""
        choices = ", ".join(map(str, error.validator_value))
        return [(line, f"{where.prefix()}{subject}must be one of {choices}, "
                       f"got {show(instance)}{hint}")]

    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                 "exclusiveMaximum": "less than"}[kw]
        return [(line, f"{where.prefix()}{subject}must be {words} {error.validator_value}, "
                       f"got {show(instance)}")]

    if kw in ("minItems", "minProperties"):
        what = {("agents",): "one agent", ("steps",): "one step"}.get(path, "one item")
        if kw == "minProperties" and where.kind == "parallel":
            what = "one branch"
        elif kw == "minProperties" and where.kind == "set":
            what = "one name: value"
        elif path[-1:] == ("steps",):
            what = "one step"
        return [(line, f"{where.prefix()}{subject}needs at least {what}")]

    if kw == "minLength":
        return [(line, f"{where.prefix()}{subject}must not be empty")]

    return [(line, f"{where.prefix()}{subject}{error.message}")]  # pragma: no cover - fallback


#: (step kind, unknown argument) -> a hint for a mistake people make
HINTS = {
    ("answer", "call"): " (answer takes the agent's next incoming call: answer: {agent: bob, "
                        "as: b1}; the caller's call: call: {..., as: c1})",
    ("answer", "from"): " (answer takes agent: the called agent, e.g. answer: {agent: bob})",
    ("call", "wait"): " (call returns at once; did you mean a next step wait: {for: answered, "
                      "call: c1}?)",
    ("call", "answer"): " (the called agent answers in its own step: answer: {agent: bob}, "
                        "after the call, no parallel needed)",
    ("expect", "after"): " (did you mean since: NAME, the name: of an earlier step?)",
    ("expect", "from"): " (did you mean since: NAME, the name: of an earlier step?)",
}


def _value_hint(where: Where, instance: Any) -> str:
    """A "did you mean" for a wrong value: ``call: {expect: answered}``, ``for: anwsered``."""
    if not isinstance(instance, str):
        return ""
    if where.kind == "call" and where.rest == ("expect",) and instance in WAIT_FOR:
        return f" (did you mean a next step wait: {{for: {instance}, call: c1}}?)"
    if where.kind == "wait" and where.rest == ("for",):
        return suggest(instance, WAIT_FOR)
    return ""


def _short_title(schema: dict[str, Any] | None) -> str:
    if not schema:
        return "a value"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return str(SCHEMA["$defs"][name].get("title", name))
    return _expected(schema)


def _step_shape(error: ValidationError, doc: Document, where: Where) -> list[tuple[int, str]]:
    """A step that is not a one-key mapping, or whose key is not a step kind."""
    instance = error.instance
    line = doc.line(where.path)
    prefix = where.prefix()
    if not isinstance(instance, dict):
        hint = ""
        if isinstance(instance, str) and instance.split(":")[0].strip() in STEP_KINDS:
            hint = " (a space is missing after the \":\"?)"
        return [(line, f"{prefix}must be a mapping with one key, its kind "
                       f"(e.g. \"register: alice\"), got {show(instance)}{hint}")]
    if error.validator == "additionalProperties":
        return [(doc.key_line(where.path + (key,)),
                 f"{prefix}unknown step \"{key}\"{suggest(key, STEP_KINDS, SYNONYMS)}")
                for key in instance if key not in STEP_KINDS]
    if not instance:
        return [(line, f"{prefix}is empty: a step is a mapping with one key, its kind")]
    keys = ", ".join(f"\"{k}\"" for k in instance)
    kind = next(iter(instance))
    hint = ""
    if kind in SHORT_FORMS or kind in STEP_KINDS:
        hint = f" (are the other keys arguments of \"{kind}\"? indent them under it)"
    return [(line, f"{prefix}a step has one key, its kind; found {keys}{hint}")]
