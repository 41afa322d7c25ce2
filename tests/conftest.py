"""Shared test set-up: every test gets its own ledger, and only this workspace's plugins load.

Unlike llm's `sys._called_from_test`, entry points stay on: the workspace's plugins are what these tests
test. FLOWLEDGER_LOAD_PLUGINS keeps any other installed flowledger plugin out.
"""

import os
from pathlib import Path

import pytest

WORKSPACE_PLUGINS = "snakemake-logger-plugin-flowledger,flowledger-redun,flowledger-nextflow"
os.environ["FLOWLEDGER_LOAD_PLUGINS"] = WORKSPACE_PLUGINS
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def ledger_path(tmp_path, monkeypatch):
    """A fresh ledger for each test, also for subprocesses (FLOWLEDGER_DB); never the user's own."""
    from flowledger.store import forget_ledgers

    path = tmp_path / "ledger" / "ledger.db"
    monkeypatch.setenv("FLOWLEDGER_DB", str(path))
    forget_ledgers()
    yield path
    forget_ledgers()


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def no_leaked_openlineage_settings():
    """openlineage-python writes OPENLINEAGE__TRANSPORT__* into os.environ when it reads OPENLINEAGE_URL:
    keep that from configuring live emission in the processes that later tests start."""
    before = {key: value for key, value in os.environ.items() if key.startswith("OPENLINEAGE")}
    yield
    for key in [key for key in os.environ if key.startswith("OPENLINEAGE") and key not in before]:
        del os.environ[key]
    os.environ.update(before)
