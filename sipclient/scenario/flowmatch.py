"""``expect_flow``: does a message flow match a pattern? Pure (no I/O, no clock).

A flow is what :meth:`sipclient.agent.Trace.flow` gives: requests by method, responses by
status (``["INVITE", "401", "ACK", ...]``). A pattern lists items (docs/scenarios.md):

* ``INVITE``, ``200`` (or the number 200): exactly that;
* ``"180|183"``: either; ``"1xx"`` (``"4xx"``, ...): any status of that class; ``"18x"``:
  180 to 189;
* ``"183?"``: optional; ``"100*"``: zero or more; ``"100+"``: one or more.

Items are read by :mod:`sipclient.pcap.flowpattern`, the one syntax that ``pcap validate``'s
flow files use too.

``exact=True``: the pattern must cover the whole flow. ``exact=False``: the items must appear
in that order, other messages may come between and around them.

When they do not match, :class:`FlowMatch` says where they diverge, in words: the 1-based
position in the flow, the item(s) that could come there and the label that came instead.
The search runs over (pattern position, flow position) pairs, so it is exact for every
combination of optional and repeated items (no greedy surprises), in O(items x messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sipclient.pcap.flowpattern import FlowItem, FlowPatternError, parse_item

__all__ = ["FlowItem", "FlowMatch", "FlowPatternError", "match_flow", "parse_item",
           "parse_pattern"]

def parse_pattern(items: Iterable[object]) -> list[FlowItem]:
    """Every item of a pattern (errors name the 1-based item)."""
    return [item if isinstance(item, FlowItem) else parse_item(item, n)
            for n, item in enumerate(items, 1)]


@dataclass(frozen=True)
class FlowMatch:
    """The outcome. When not ``ok``: ``position`` (1-based, in the flow; one past its end
    when the flow ended too early), ``expected`` (the item(s) that could come there, or
    "the end of the flow"), ``received`` (the label there, or "the end of the flow")."""

    ok: bool
    pattern: tuple[str, ...]
    flow: tuple[str, ...]
    exact: bool
    position: int | None = None
    expected: str | None = None
    received: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return "the flow matches"
        if self.exact:
            return (f"the flow differs at message {self.position}: expected "
                    f"{self.expected}, received {self.received}")
        return (f"{self.expected} was not found in order (searched from message "
                f"{self.position} of {len(self.flow)}; there: {self.received})")

    def explain(self) -> str:
        """The message plus both flows, one per line."""
        return (f"{self.message}\n  expected: {', '.join(self.pattern)}\n"
                f"  received: {', '.join(self.flow) or '(no messages)'}")


END = "the end of the flow"


def match_flow(pattern: Sequence[object], flow: Sequence[str], *, exact: bool = True
               ) -> FlowMatch:
    """Match ``flow`` (labels) against ``pattern`` (items; strings, numbers or
    :class:`FlowItem`); raises :class:`FlowPatternError` for an unreadable item."""
    items = parse_pattern(pattern)
    labels = tuple(str(x) for x in flow)
    n, m = len(items), len(labels)
    texts = tuple(i.text for i in items)
    # reachable[j] = pattern positions reachable having consumed j flow labels
    reachable: list[set[int]] = [set() for _ in range(m + 1)]

    def close(states: set[int], j: int) -> set[int]:
        """Add the positions reachable by skipping optional items (no label consumed)."""
        todo = list(states)
        while todo:
            i = todo.pop()
            if i < n and items[i].optional and i + 1 not in states:
                states.add(i + 1)
                todo.append(i + 1)
        return states

    reachable[0] = close({0}, 0)
    for j in range(m):
        nxt: set[int] = set()
        for i in reachable[j]:
            if i < n and items[i].matches(labels[j]):
                nxt.add(i + 1)
                if items[i].repeat:
                    nxt.add(i)
            if not exact:
                nxt.add(i)  # another message between the items
        reachable[j + 1] = close(nxt, j + 1)

    if exact:
        if n in reachable[m]:
            return FlowMatch(True, texts, labels, exact)
        last = max(j for j in range(m + 1) if reachable[j])
        possible = sorted(reachable[last])
        expected = [items[i].text for i in possible if i < n]
        if n in possible:
            expected.append(END)
        received = labels[last] if last < m else END
        return FlowMatch(False, texts, labels, exact, last + 1,
                         " or ".join(_dedupe(expected)) or END, received)

    if any(n in s for s in reachable):
        return FlowMatch(True, texts, labels, exact)
    # the furthest pattern item reached, and the first flow position where it was reached
    best = max(max(s) for s in reachable if s)
    first = min(j for j in range(m + 1) if best in reachable[j])
    missing = items[best].text
    rest = labels[first:]
    return FlowMatch(False, texts, labels, exact, first + 1, f"item {best + 1} ({missing})",
                     ", ".join(rest) if rest else END)


def _dedupe(values: list[str]) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen
