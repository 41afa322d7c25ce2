"""Pytest fixtures for people writing flowledger plugins (installed as the `pytest11` entry point).

    def test_my_plugin(flowledger_db, flowledger_plugin):
        flowledger_plugin(MyPlugin())      # registered for this test only
        ...                                # record; the ledger is a fresh file in tmp_path
"""

import pytest


@pytest.fixture
def flowledger_db(tmp_path, monkeypatch):
    """A fresh ledger file, made the default for this test (also for subprocesses via FLOWLEDGER_DB)."""
    from .store import forget_ledgers

    path = tmp_path / "ledger.db"
    monkeypatch.setenv("FLOWLEDGER_DB", str(path))
    forget_ledgers()
    yield path
    forget_ledgers()


@pytest.fixture
def flowledger_plugin():
    """Register plugin objects with flowledger's plugin manager for one test."""
    from .plugins import load_plugins, pm

    load_plugins()
    names = []

    def register(plugin, name=None):
        names.append(pm.register(plugin, name=name))
        return plugin

    yield register
    for name in names:
        pm.unregister(name=name)
