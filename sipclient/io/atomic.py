"""Write a report file whole or not at all (a full disk leaves no ``.tmp`` and no 0-byte file).

    write_atomic("reports/run.json", text)    # OutputError("cannot write reports/run.json: ...")

The text goes to ``PATH.tmp`` beside it, which replaces ``PATH`` only once fully written and
flushed; on any error the ``.tmp`` is removed and :class:`OutputError` names the real path.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OutputError", "write_atomic"]


class OutputError(OSError):
    """A report or output file could not be written; the message names it."""


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *,
                 make_parents: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path``; ``make_parents`` creates its folder."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise OutputError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    return path
