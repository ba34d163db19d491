"""The -n worker processes (scenario/workers.py) talk to the runner through its public
interface only: every name they import from runner.py is public and listed in its
``__all__``."""

from __future__ import annotations

import ast
from pathlib import Path

from sipclient.scenario import runner

WORKERS = Path(runner.__file__).with_name("workers.py")


def _imported_from_runner(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "runner" and node.level == 1:
            names += [alias.name for alias in node.names]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "runner":
            names.append(node.attr)
    return names


def test_workers_use_only_the_runners_public_names() -> None:
    names = _imported_from_runner(WORKERS)
    assert names, "workers.py imports nothing from runner.py any more: update this test"
    private = [n for n in names if n.startswith("_")]
    assert not private, f"workers.py reaches into runner.py's private names: {private}"
    assert not set(names) - set(runner.__all__), "listed in runner.__all__"
