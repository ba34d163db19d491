"""The ``matrix`` fixture: each interop test declares its cells of the interop matrix; the
test's outcome fills them in and they are saved at the end of the session
(tests/interop/matrix.py, docs/interop.md)."""

from __future__ import annotations

import pytest

from sipclient.lab.kamailio import KamailioLab, lab_accounts
from sipclient.lab.probe import free_udp_port

from . import matrix as _matrix

_CELLS: list[_matrix.Cell] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cells = getattr(item, "_matrix_cells", None)
    if cells is None or report.when not in ("setup", "call"):
        return
    if report.when == "setup" and report.passed:
        return
    result = "passed" if report.passed else ("skipped" if report.skipped else "FAILED")
    for cell in cells:
        cell.outcome = result


@pytest.fixture
def matrix(request) -> _matrix.Matrix:
    m = _matrix.Matrix(request.node.nodeid.split("/")[-1])
    request.node._matrix_cells = m.cells
    yield m
    _CELLS.extend(m.cells)


def pytest_sessionfinish(session, exitstatus):
    _matrix.save(_CELLS)


def _kamailio(tmp_path_factory, name: str, **options):
    lab = KamailioLab(tmp_path_factory.mktemp(name), free_udp_port(), lab_accounts(), **options)
    lab.up()
    try:
        yield lab
    finally:
        lab.down()
    assert not lab.running


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory):
    """Kamailio with the lab's accounts: digest for REGISTER and INVITE, record-routing."""
    yield from _kamailio(tmp_path_factory, "kamailio")


@pytest.fixture(scope="module")
def kamailio_open(tmp_path_factory):
    """The same, challenging REGISTER only (for peers such as sipp that send no
    credentials in their INVITE)."""
    yield from _kamailio(tmp_path_factory, "kamailio-open", auth_invite=False)


@pytest.fixture(scope="module")
def kamailio6(tmp_path_factory):
    """The same on IPv6: listening on [::1]."""
    yield from _kamailio(tmp_path_factory, "kamailio6", bind="::1")
