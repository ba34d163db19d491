"""Which scenarios a run takes: the files of the paths given, each one loaded and checked
before anything runs, and those that ``-k`` keeps.

    files = collect_files(["scenarios/"])            # *.sip.yaml, folders recursively, sorted
    scenarios, errors = load_all(files)              # every file checked before anything runs
    chosen = select(scenarios, "echo and not tls")   # -k like pytest's

``-k`` matches words against a scenario's keywords (:func:`keywords_of`: its name, its
file's stem, its tags) with pytest's grammar (:func:`keyword_matcher`). :func:`slug` names
a scenario's report folder after its path. Pure: no lab, no engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .model import Scenario, ScenarioError, ScenarioErrors

__all__ = ["SUFFIX", "KeywordError", "collect_files", "keyword_matcher", "keywords_of",
           "load_all", "select", "slug", "stem"]

SUFFIX = ".sip.yaml"


class KeywordError(ValueError):
    """A ``-k`` expression that does not parse; the message says where."""


def collect_files(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files of ``paths``, in order, each once. A missing path raises
    ``FileNotFoundError`` naming it."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*" + SUFFIX) if p.is_file())
        elif path.is_file():
            found = [path]
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def stem(path: str | Path) -> str:
    name = Path(path).name
    return name[:-len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem


def keywords_of(name: str, path: str | Path, tags: Iterable[str]) -> list[str]:
    """What ``-k`` words are matched against: the name, the file's stem, the tags."""
    return [str(name), stem(path), *(str(t) for t in tags)]


def slug(path: str | Path, root: str | Path | None = None) -> str:
    """``scenarios/calls/echo-udp.sip.yaml`` -> ``scenarios-calls-echo-udp``: relative to
    ``root`` (default: the current folder) when inside it."""
    p = Path(path)
    base = Path(root) if root is not None else Path.cwd()
    try:
        p = p.resolve().relative_to(base.resolve())
    except ValueError:
        p = Path(*[x for x in p.parts if x not in ("/", "..", ".")])
    text = "-".join([*p.parent.parts, stem(p)])
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return text or "scenario"


# ----------------------------------------------------------------------------- loading

def load_all(files: Sequence[Path]) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every file loaded and checked; the scenarios, and every error of every file."""
    from .loader import load_scenario

    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    for path in files:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioErrors as exc:
            errors.extend(exc.errors)
        except ScenarioError as exc:
            errors.append(exc)
        except OSError as exc:
            errors.append(ScenarioError(path, None, f"cannot read it: {exc.strerror or exc}"))
        except Exception as exc:  # noqa: BLE001 - a loader bug: still one line, no traceback
            errors.append(ScenarioError(path, None, f"internal error of the loader: "
                                                    f"{type(exc).__name__}: {exc}"))
    return scenarios, errors


def select(scenarios: Iterable[Scenario], expr: str | None) -> list[Scenario]:
    """The scenarios ``-k expr`` keeps (all without an expression)."""
    if not expr:
        return list(scenarios)
    match = keyword_matcher(expr)
    return [s for s in scenarios if match(keywords_of(s.name, s.path, s.tags))]


# ----------------------------------------------------------------------------- -k

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_OPS = ("and", "or", "not")


def _tokens(expr: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise KeywordError(f"-k {expr!r}: unexpected {expr[pos:]!r} at column {pos + 1}")
        word = m.group(1) or m.group(2) or m.group(3)
        out.append((word, m.start(m.lastindex or 0) + 1))
        pos = m.end()
    return out


def keyword_matcher(expr: str) -> Callable[[Iterable[str]], bool]:
    """A predicate on a scenario's keywords (:func:`keywords_of`) for ``-k expr``.

    Grammar as pytest's: ``expr := term ("or" term)*``, ``term := factor ("and" factor)*``,
    ``factor := "not" factor | "(" expr ")" | WORD``. A WORD matches when it is a
    case-insensitive substring of one keyword. An empty expression matches everything."""
    tokens = _tokens(expr)
    if not tokens:
        return lambda _words: True
    pos = 0

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    def fail(what: str) -> KeywordError:
        where = f"column {tokens[pos][1]}" if pos < len(tokens) else "the end"
        return KeywordError(f"-k {expr!r}: {what} at {where}")

    def take() -> str:
        nonlocal pos
        word = tokens[pos][0]
        pos += 1
        return word

    def parse_expr() -> Callable[[list[str]], bool]:
        parts = [parse_term()]
        while peek() == "or":
            take()
            parts.append(parse_term())
        return parts[0] if len(parts) == 1 else (lambda ws: any(p(ws) for p in parts))

    def parse_term() -> Callable[[list[str]], bool]:
        parts = [parse_factor()]
        while peek() == "and":
            take()
            parts.append(parse_factor())
        return parts[0] if len(parts) == 1 else (lambda ws: all(p(ws) for p in parts))

    def parse_factor() -> Callable[[list[str]], bool]:
        word = peek()
        if word is None:
            raise fail("expected a word")
        if word == "not":
            take()
            inner = parse_factor()
            return lambda ws: not inner(ws)
        if word == "(":
            take()
            inner = parse_expr()
            if peek() != ")":
                raise fail("expected ')'")
            take()
            return inner
        if word in (")", "and", "or"):
            raise fail(f"unexpected {word!r}")
        take()
        needle = word.lower()
        return lambda ws: any(needle in w for w in ws)

    predicate = parse_expr()
    if pos != len(tokens):
        raise fail(f"unexpected {tokens[pos][0]!r}")
    return lambda words: predicate([str(w).lower() for w in words])
