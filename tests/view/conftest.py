"""Fixtures for the lineage page: the sample ledger (recorded once, in its own process), `flowledger view`
run as a command, and a real Chromium driven by Playwright.

Chromium is Debian's /usr/bin/chromium, or $FLOWLEDGER_CHROMIUM (`.ci/run` installs it): Playwright's own
browser download cannot work here. Without it the browser tests are skipped, except under CI (`CI` set),
where that is a failure.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from view_support import CHROMIUM, CHROMIUM_ARGS, view


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """The sample (see view_samples.py): {"db", "root", run uids, "files"}."""
    folder = tmp_path_factory.mktemp("view-sample")
    db, root = folder / "ledger.db", folder / "project"
    script = Path(__file__).with_name("view_samples.py")
    done = subprocess.run(
        [sys.executable, str(script), str(root), str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout), "db": str(db), "root": root}


@pytest.fixture
def written(recorded, tmp_path):
    """`written(target, *options)`: write the page of `target` (a uid or path) and return its path."""

    def write(target: str, *options: str) -> Path:
        out = tmp_path / f"page-{len(list(tmp_path.glob('page-*')))}.html"
        done = view(recorded["db"], target, "-o", str(out), *options)
        assert done.returncode == 0, done.stderr
        return out

    return write


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (the lineage page is tested in a real browser)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """`open_page(path)`: the page loaded from its file:// URL and drawn; fails on any script error."""
    opened = []

    def load(path: Path, width: int = 1400, height: int = 860):
        page = browser.new_page(viewport={"width": width, "height": height})
        opened.append(page)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_function("window.flowledgerRendered === true", timeout=30_000)
        assert page.errors == []
        return page

    yield load
    for page in opened:
        page.close()
