"""The layer arrows of docs/ARCHITECTURE.md hold: import-linter's contracts in pyproject.toml
(the pure core imports no asyncio/socket/ssl/time and nothing above it; cli > agent > io >
proto; only webrtc/ imports aiortc)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is missing: pip install -e '.[dev]'"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
