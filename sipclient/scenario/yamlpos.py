"""YAML with line numbers: plain Python values plus the line span of every node.

PyYAML's composer gives nodes with start/end marks; this module turns the node tree into
plain values (dict, list, str, int, float, bool, None) and records, for every node, where it
is written, keyed by its *path* from the root (``("steps", 2, "call", "to")``, the same shape
as jsonschema's ``absolute_path``). Duplicate keys are errors (PyYAML silently keeps the last
one); a syntax error becomes one :class:`ScenarioError` with the line and a short message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sipclient.proto.limits import LimitExceeded, limit

from .model import ScenarioError, ScenarioErrors

PathKey = tuple[str | int, ...]

# libyaml's parser when PyYAML has it (about 10 times faster; same nodes and marks).
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Span:
    """Lines (1-based, inclusive) a node is written on."""

    line: int
    end_line: int


@dataclass
class Document:
    """A parsed YAML file: ``data`` and where each part of it is written."""

    data: Any
    spans: dict[PathKey, Span] = field(default_factory=dict)
    key_lines: dict[PathKey, int] = field(default_factory=dict)
    errors: list[ScenarioError] = field(default_factory=list)
    bad: set[PathKey] = field(default_factory=set)  # nodes with a YAML error (said once)

    def span(self, path: PathKey) -> Span:
        """The span of the node at ``path``, or of its nearest written parent."""
        path = tuple(path)
        while path not in self.spans and path:
            path = path[:-1]
        return self.spans.get(path, Span(1, 1))

    def line(self, path: PathKey) -> int:
        return self.span(path).line

    def key_line(self, path: PathKey) -> int:
        """The line of the key of the mapping entry at ``path`` (else the value's line)."""
        path = tuple(path)
        return self.key_lines.get(path) or self.line(path)


# Short words for PyYAML's problems; the original text follows when nothing matches.
_PROBLEMS = (
    ("found character '\\t'", "a tab character: indent with spaces, not tabs"),
    ("mapping values are not allowed here",
     "a \"key: value\" where none can be (check the indentation, or quote a value "
     "containing \": \")"),
    ("could not find expected ':'", "a line without \"key: value\" (check the indentation)"),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("did not find expected key", "the indentation does not line up with the keys above"),
    ("did not find expected '-' indicator",
     "a list item is indented differently from the one above"),
    ("expected a single document", "more than one YAML document (\"---\"): one scenario per file"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
    ("found unknown escape character", "an unknown backslash escape in a double-quoted string "
                                       "(use single quotes for regular expressions)"),
)


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """The line to show and the words for a YAML syntax error."""
    problem = exc.problem or exc.context or "not valid YAML"
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    opened = exc.context_mark.line + 1 if exc.context_mark is not None else None
    if "quoted scalar" in context and "end of stream" in problem:
        return opened, "bad YAML: this quoted string is never closed"
    if "flow" in context and problem.startswith("expected ','"):
        where = f" opened on line {opened}" if opened and opened != line else ""
        return line, f"bad YAML: a [...] or {{...}}{where} is not closed, or lacks a comma"
    for needle, words in _PROBLEMS:
        if needle in problem:
            return line, f"bad YAML: {words}"
    return line, f"bad YAML: {problem}"


def parse(text: str, path: Path | str) -> Document:
    """Parse ``text``; raise :class:`ScenarioErrors` for a syntax error (one, with its line).

    Duplicate keys are gathered in ``Document.errors``; the later value is dropped.
    """
    path = Path(path)
    try:
        try:
            _scan(text, path, _FAST)
        except yaml.YAMLError:  # say it with the pure parser's more precise words
            _scan(text, path, yaml.SafeLoader)
        root = yaml.compose(text, Loader=_FAST)  # bounded now: the scan counted it
    except yaml.MarkedYAMLError as exc:
        line, message = _syntax_error(exc)
        raise ScenarioErrors([ScenarioError(path, line, message)]) from None
    except yaml.YAMLError as exc:  # e.g. a reader error (control characters)
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ScenarioErrors([ScenarioError(path, line + 1 if line is not None else None,
                                            f"bad YAML: {exc}")]) from None
    doc = Document(None)
    if root is None:
        return doc
    builder = _Builder(doc, path)
    doc.data = builder.build(root, ())
    return doc


def _scan(text: str, path: Path, loader: Any) -> None:
    """Walk the YAML events once and stop at the first limit passed (docs/limits.md):
    the file's size, aliases, nesting depth, and values with every alias expanded (a
    "billion laughs" alias bomb is small on disk and huge in memory); an alias to a
    collection that is still open (a cycle) is an error too. Nothing is built here, and
    nothing recurses, so 20,000 nested ``[`` cost 20,000 events, not a RecursionError."""
    max_bytes, max_aliases = int(limit("scenario_bytes")), int(limit("yaml_aliases"))
    max_depth, max_nodes = int(limit("yaml_depth")), int(limit("yaml_nodes"))

    def stop(mark: Any, what: str, name: str) -> ScenarioErrors:
        line = mark.line + 1 if mark is not None else None
        return ScenarioErrors([ScenarioError(path, line, str(LimitExceeded(name, what)))])

    if len(text) > max_bytes:
        raise ScenarioErrors([ScenarioError(path, text.count("\n", 0, max_bytes) + 1, str(
            LimitExceeded("scenario_bytes", "the file, at this line,")))])
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = []   # open collections: [anchor, values inside]
    aliases = total = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise stop(event.start_mark, f"alias *{event.anchor} (number {aliases})",
                           "yaml_aliases")
            if any(frame[0] == event.anchor for frame in stack):
                raise ScenarioErrors([ScenarioError(
                    path, event.start_mark.line + 1,
                    f"bad YAML: alias *{event.anchor} is inside its own anchor &{event.anchor} "
                    f"(a structure that contains itself)")])
            size = anchors.get(event.anchor, 1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= max_depth:
                raise stop(event.start_mark, f"nesting depth {len(stack) + 1}", "yaml_depth")
            stack.append([event.anchor, 1])
            continue
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor is not None:
                anchors[anchor] = size
            if stack:
                stack[-1][1] += size
            continue
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        else:
            continue
        total += size
        if total > max_nodes:
            raise stop(event.start_mark, f"{total} values (aliases expanded)", "yaml_nodes")
        if stack:
            stack[-1][1] += size


class _Builder:
    def __init__(self, doc: Document, path: Path) -> None:
        self.doc = doc
        self.path = path
        self.constructor = SafeConstructor()

    def build(self, node: Node, path: PathKey) -> Any:
        if isinstance(node, ScalarNode):
            if node.tag == _STR:
                value: Any = node.value
            else:
                try:
                    value = self.constructor.construct_object(node, deep=True)
                except yaml.MarkedYAMLError as exc:  # `!tag value`, a bad timestamp...
                    line, message = _syntax_error(exc)
                    if "could not determine a constructor" in (exc.problem or ""):
                        message = f"bad YAML: unknown tag {node.tag} (scenarios use no tags)"
                    self.doc.errors.append(ScenarioError(self.path, line, message))
                    value = node.value
                    self.doc.bad.add(path)
                except (ValueError, TypeError, OverflowError):  # `!!float abc`
                    self.doc.errors.append(ScenarioError(
                        self.path, node.start_mark.line + 1,
                        f"bad YAML: {node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}"))
                    value = node.value
                    self.doc.bad.add(path)
            self.doc.spans[path] = Span(node.start_mark.line + 1, _end_line(node))
            return value
        if isinstance(node, SequenceNode):
            items = [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
            self.doc.spans[path] = Span(node.start_mark.line + 1,
                                        self._end(node, [path + (i,) for i in range(len(items))]))
            return items
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        raise AssertionError(f"unknown YAML node {node!r}")  # pragma: no cover

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        own: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = _key_text(key_node)
            line = key_node.start_mark.line + 1
            if key in own:
                self.doc.errors.append(ScenarioError(
                    self.path, line, f"duplicate key \"{key}\" (first at line {own[key]})"))
            else:
                own[key] = line
        if any(key_node.tag == _MERGE for key_node, _ in node.value):
            try:
                self.constructor.flatten_mapping(node)  # `<<: *anchor` merge keys
            except yaml.MarkedYAMLError as exc:
                self.doc.errors.append(ScenarioError(self.path, *_syntax_error(exc)))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            child = path + (key,)
            if key in result and own.get(key) != key_node.start_mark.line + 1:
                continue  # a duplicate (reported above) or a merged key overridden below
            result.pop(key, None)
            result[key] = self.build(value_node, child)
            self.doc.key_lines[child] = key_node.start_mark.line + 1
        self.doc.spans[path] = Span(node.start_mark.line + 1,
                                    self._end(node, [path + (k,) for k in result]))
        return result

    def _end(self, node: Node, children: list[PathKey]) -> int:
        """Last line of a collection: its closing bracket (flow style) or its last child's
        (a block collection's own end mark lies after trailing comments and blank lines)."""
        if node.flow_style:
            return _end_line(node)
        return max([node.start_mark.line + 1] + [self.doc.spans[c].end_line for c in children])


def _key_text(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return str(node.value)
    return "<" + node.id + ">"  # a list/mapping used as a key: the schema rejects it


def _end_line(node: Node) -> int:
    """1-based last line; PyYAML's end mark may sit at column 0 of the next line."""
    end = node.end_mark
    if end.column == 0 and end.line > node.start_mark.line:
        return end.line
    return end.line + 1
