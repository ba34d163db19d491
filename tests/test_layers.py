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


def test_the_contracts_cover_every_package():
    """Every package of sipclient/ and webrtc/ is in a contract: the lab, the pytest plugin
    and webrtc/ too (a package outside every contract could import anything)."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    layered = {name.strip() for c in contracts if c["type"] == "layers"
               for layer in c["layers"] for name in layer.split("|")}
    sources = {m for c in contracts if c["type"] == "forbidden" for m in c["source_modules"]}
    packages = {f"sipclient.{p.stem}" for p in (ROOT / "sipclient").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or
                (p.suffix == ".py" and not p.name.startswith("_"))}
    assert packages - layered == set(), "packages outside the layers"
    assert "webrtc" in sources and "sipclient.lab" in sources
    # http and the agent are siblings: the HTTP APIs' tokens are proto's Secret, not the agent's
    assert "sipclient.http | sipclient.agent" in next(
        c for c in contracts if c["type"] == "layers")["layers"]
