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
