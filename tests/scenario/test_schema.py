"""The published JSON Schema: in sync with schema.py, valid, and true to docs/scenarios.md.

When schema.py changes, rewrite the file with ``python tests/scenario/test_schema.py --write``
(or ``python -m sipclient.scenario.schema --write``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "scenarios.md"
BROKEN = Path(__file__).resolve().parent / "broken"


def test_the_schema_file_is_what_schema_py_builds():
    from sipclient.scenario.schema import SCHEMA_FILE, schema_json

    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json(), (
        "sipclient/scenario/scenario.schema.json is stale: run "
        "python -m sipclient.scenario.schema --write")


def test_the_schema_is_a_valid_draft_2020_12_schema():
    from sipclient.scenario.schema import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _table_rows(heading: str) -> list[list[str]]:
    text = DOC.read_text()
    section = text[text.index(heading):]
    rows = []
    for line in section.splitlines()[2:]:
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows and not line.startswith("|"):
            break
    return rows


def test_the_step_table_in_the_docs_matches_the_schema():
    from sipclient.scenario.schema import SHORT_FORMS, STEP_KINDS

    documented: dict[str, str] = {}
    for kind_cell, short, _ in _table_rows("| step | short form | arguments |"):
        for kind in re.findall(r"`(\w+)`", kind_cell):
            documented[kind] = short
    assert sorted(documented) == sorted(STEP_KINDS)
    assert {k: v for k, v in documented.items() if v != "-"} == SHORT_FORMS


def test_the_agent_table_in_the_docs_matches_the_schema():
    from sipclient.scenario.schema import AGENT_FIELDS

    rows = _table_rows("| key | meaning |")
    documented = [f for row in rows for f in re.findall(r"`(\w+)`", row[0])]
    assert sorted(documented) == sorted(AGENT_FIELDS)


def test_an_editor_using_the_published_schema_accepts_the_docs_and_flags_mistakes():
    from sipclient.scenario.schema import SCHEMA_FILE

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    examples = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.M | re.S)
    for example in examples:
        assert list(validator.iter_errors(yaml.safe_load(example))) == []
    for name in ("unknown-step", "wrong-type", "unknown-agent-field", "unknown-top-level-key"):
        data = yaml.safe_load((BROKEN / f"{name}.sip.yaml").read_text())
        assert list(validator.iter_errors(data)), name


def test_schema_json_is_printable_json():
    from sipclient.scenario.schema import SCHEMA, schema_json

    assert json.loads(schema_json()) == SCHEMA


if __name__ == "__main__" and "--write" in sys.argv:
    sys.path.insert(0, str(ROOT))
    from sipclient.scenario.schema import write

    print(f"wrote {write()}")
