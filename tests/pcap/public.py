"""Where the public captures are: ../shared/captures-public beside the clone, read at test
time and never copied (from a git worktree under /work/wt, the one beside /work/main)."""

from __future__ import annotations

from pathlib import Path

_CANDIDATES = [Path(__file__).resolve().parents[3] / "shared" / "captures-public",
               Path("/work/shared/captures-public")]
PUBLIC = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
