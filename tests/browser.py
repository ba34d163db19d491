"""Debian's headless Chromium driven by Playwright, for the tests of HTML pages.

No browser is downloaded (never `playwright install`): the system's /usr/bin/chromium is
used, installed by scripts/install-lab-deps.sh; playwright comes with the `dev` extra. A
missing Chromium or playwright fails these tests, it never skips them. Import the
``browser`` fixture into a test module to use it.
"""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-lab-deps.sh (Debian chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
