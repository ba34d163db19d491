"""The one syntax of a flow item, shared by the scenarios' ``expect_flow``
(:mod:`sipclient.scenario.flowmatch`) and the flow files of ``pcap validate``
(:mod:`sipclient.pcap.flowspec`). Pure.

An item is one or more alternatives joined by ``|``, each:

* a SIP method (``INVITE``; any case);
* a status (``200``, or the number 200);
* a status class (``1xx``, ``4xx``) or a partial status (``18x``: 180 to 189);

ending, optionally, in one mark: ``?`` (optional), ``*`` (zero or more), ``+`` (one or
more). It matches a flow label: a request's method or a response's status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FlowItem", "FlowPatternError", "ITEM_REGEX", "parse_item"]

_STATUS = re.compile(r"^[1-6][0-9x][0-9x]$", re.IGNORECASE)
_EXACT = re.compile(r"^[1-6][0-9][0-9]$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_.!%`'~-]*$")
_ATOM = r"([A-Za-z][A-Za-z0-9_.!%`'~-]*|[1-6][0-9xX][0-9xX])"
#: an item as one regular expression (the scenario schema publishes it for editors)
ITEM_REGEX = rf"^{_ATOM}(\|{_ATOM})*[?*+]?$"
_MARKS = {"?": (True, False), "*": (True, True), "+": (False, True)}


class FlowPatternError(ValueError):
    """An item of a flow pattern that cannot be read (the message names the item)."""


@dataclass(frozen=True)
class FlowItem:
    """One item: alternatives (``"INVITE"``, ``"180"``, ``"1xx"``, ``"18x"``), how many."""

    text: str
    alternatives: tuple[str, ...]
    optional: bool = False  # "?" or "*"
    repeat: bool = False    # "*" or "+"

    @classmethod
    def exactly(cls, label: str, *, optional: bool = False) -> FlowItem:
        """The item matching ``label`` only (``optional``: it may be missing)."""
        return cls(label + ("?" if optional else ""), (label.upper(),), optional)

    @property
    def quantifier(self) -> str:
        """``""``, ``"?"``, ``"*"`` or ``"+"``."""
        return {(False, False): "", (True, False): "?", (True, True): "*",
                (False, True): "+"}[(self.optional, self.repeat)]

    def matches(self, label: object) -> bool:
        text = str(label).upper()
        for alt in self.alternatives:
            if alt == text:
                return True
            if "x" in alt and _EXACT.match(text) and all(
                    a in ("x", t) for a, t in zip(alt, text)):
                return True
        return False

    def __str__(self) -> str:
        return self.text


def parse_item(value: object, index: int | None = None) -> FlowItem:
    """``200``, ``"INVITE"``, ``"180|183?"``, ``"18x"``, ``"100*"``, ``"100+"`` ->
    :class:`FlowItem`; :class:`FlowPatternError` says which item and why."""
    where = f"flow item {index}: " if index is not None else ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FlowPatternError(f"{where}bad flow item {value!r}: not a method or a status")
    text = str(value).strip()
    body, (optional, repeat) = text, (False, False)
    if body[-1:] in _MARKS:
        body, (optional, repeat) = body[:-1], _MARKS[body[-1]]
    alternatives = tuple(a.strip() for a in body.split("|"))
    for alt in alternatives:
        if not alt:
            raise FlowPatternError(f"{where}bad flow item {text!r}: an empty alternative")
        if alt[0].isdigit():
            if not _STATUS.match(alt):
                raise FlowPatternError(
                    f"{where}bad flow item {text!r}: {alt!r} is not a status (100-699), "
                    "a class like 1xx or a partial status like 18x")
        elif not _METHOD.match(alt):
            raise FlowPatternError(
                f"{where}bad flow item {text!r}: {alt!r} is not a SIP method or a status")
    upper = tuple(a.lower() if a[0].isdigit() else a.upper() for a in alternatives)
    return FlowItem(text, upper, optional, repeat)
