"""Secrets (tokens, API keys, passwords) from the environment or a file, never from a
command line: ``env:NAME`` or ``file:PATH`` (first line, stripped). The value comes back as a
:class:`sipclient.proto.secret.Secret`, which prints as ``***``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from sipclient.proto.secret import Secret


class SecretSpecError(ValueError):
    pass


def resolve(spec: str, what: str, environ: Mapping[str, str] | None = None) -> Secret:
    environ = os.environ if environ is None else environ
    kind, sep, ref = spec.partition(":")
    if not sep or kind not in ("env", "file") or not ref:
        raise SecretSpecError(f"{what}: give env:NAME or file:PATH (secrets never go on the "
                              "command line)")
    if kind == "env":
        if ref not in environ:
            raise SecretSpecError(f"{what}: environment variable {ref} is not set")
        return Secret(environ[ref])
    try:
        text = Path(ref).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretSpecError(f"{what}: cannot read {ref}: {exc.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise SecretSpecError(f"{what}: {ref} is empty")
    return Secret(lines[0].strip())
