"""docs/ARCHITECTURE.md stays true: its transaction tables are the code's tables.

The block between the transaction-tables markers is generated from
``sipclient.proto.transaction.describe``; when the tables change, this test fails and prints
the block to paste (or run ``python tests/test_architecture_doc.py --write``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "ARCHITECTURE.md"
BEGIN, END = "<!-- transaction-tables:begin -->", "<!-- transaction-tables:end -->"


def generated_block() -> str:
    from sipclient.proto.transaction import Kind, describe

    parts = []
    for kind in Kind:
        parts.append(f"{kind.value} (RFC 3261 17):\n\n```text\n" + "\n".join(describe(kind)) + "\n```\n")
    return "\n".join(parts)


def current_block(text: str) -> str:
    match = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.S)
    assert match, f"{DOC} lacks the {BEGIN} ... {END} block"
    return match.group(1)


def test_transaction_tables_in_architecture_doc_match_the_code():
    expected = generated_block()
    assert current_block(DOC.read_text()) == expected, (
        "docs/ARCHITECTURE.md transaction tables are stale; replace the block with:\n" + expected
    )


def test_every_package_named_in_the_layer_list_exists():
    text = DOC.read_text()
    root = DOC.parent.parent
    for pkg in re.findall(r"^\s+(sipclient/[a-z_]+/|webrtc/)\s", text, re.M):
        assert (root / pkg).is_dir(), f"ARCHITECTURE.md names {pkg}, which does not exist"


if __name__ == "__main__" and "--write" in sys.argv:
    sys.path.insert(0, str(DOC.parent.parent))
    text = DOC.read_text()
    start = text.index(BEGIN) + len(BEGIN) + 1
    DOC.write_text(text[:start] + generated_block() + text[text.index(END):])
