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
def ledger_path(tmp_path, tmp_path_factory, monkeypatch):
    """A fresh ledger for each test, also for subprocesses (FLOWLEDGER_DB); never the user's own."""
    from flowledger.store import forget_ledgers

    path = tmp_path / "ledger" / "ledger.db"
    monkeypatch.setenv("FLOWLEDGER_DB", str(path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))  # a server ledger's local folder, spools
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache-home"))  # never the user's
    forget_ledgers()
    yield path
    forget_ledgers()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (Debian's `postgresql`, run as a non-root user)."""
    import shutil

    from postgres_server import start_server

    server = start_server()
    if server is None:
        if os.environ.get("FLOWLEDGER_TEST_POSTGRES") == "skip":
            pytest.skip("no PostgreSQL server programs (FLOWLEDGER_TEST_POSTGRES=skip)")
        pytest.fail("PostgreSQL's server programs are not installed: apt-get install postgresql (see .ci/run)")
    yield server
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_ledgers(postgres):
    from postgres_server import LedgerDatabases

    return LedgerDatabases(postgres)


@pytest.fixture
def server_ledger(postgres_ledgers):
    """The URL of an empty ledger on the PostgreSQL server."""
    return postgres_ledgers.fresh()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, monkeypatch, ledger_path):
    """Runs a test on a SQLite ledger, then on an empty ledger on the PostgreSQL server (FLOWLEDGER_DB)."""
    from flowledger.store import forget_ledgers

    if request.param == "postgresql":
        monkeypatch.setenv("FLOWLEDGER_DB", request.getfixturevalue("postgres_ledgers").fresh())
        forget_ledgers()
    return request.param


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
