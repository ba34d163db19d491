"""docs/ci.md stays true: its CI examples run what the project's own CI runs.

The project's CI is ``.ci/run``; the GitHub Actions and GitLab CI examples must run exactly
that as their test command, ``.ci/run`` must run ``make test``, and ``make test`` must run
the container part (``test-container``: the scenario suite against the lab in a container).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
#: steps that prepare a bare debian:12 job, not test commands
SETUP = re.compile(r"^apt-get update && apt-get install ")


def _examples() -> dict[str, dict]:
    text = DOC.read_text()
    blocks = re.findall(r"^## (GitHub Actions|GitLab CI)\n.*?```yaml\n(.*?)```", text,
                        re.S | re.M)
    return {title: yaml.safe_load(body) for title, body in blocks}


def _commands(title: str, doc: dict) -> list[str]:
    if title == "GitHub Actions":
        steps = [s for job in doc["jobs"].values() for s in job["steps"]]
        commands = [s["run"] for s in steps if "run" in s]
    else:
        commands = [c for job in doc.values() if isinstance(job, dict) and "script" in job
                    for c in job["script"]]
    return [c for c in commands if not SETUP.match(c)]


def test_both_examples_run_exactly_the_projects_ci_entry_point():
    examples = _examples()
    assert set(examples) == {"GitHub Actions", "GitLab CI"}
    for title, doc in examples.items():
        assert _commands(title, doc) == [".ci/run"], title


def _recipe(target: str) -> str:
    """The recipe of ``target`` in the Makefile, as text (``make -n`` would run the lines
    that call ``$(MAKE)``, i.e. the suite itself)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"no {target} target in the Makefile"
    return match.group(1)


def test_ci_run_is_make_test_and_make_test_runs_the_container_part():
    assert re.search(r"^make test\b", (ROOT / ".ci" / "run").read_text(), re.M)
    test = _recipe("test")
    assert "pytest tests scenarios" in test
    assert "$(MAKE) --no-print-directory test-container" in test
    container = _recipe("test-container")
    assert "SIPCLIENT_LAB_CONTAINER=1 $(BIN)/sipclient run scenarios/" in container
    assert "SIPCLIENT_LAB_CONTAINER=1 $(BIN)/python -m pytest -m lab" in container
