"""Fixtures for the export tests: a recorded Snakemake-shaped sample, and the validator's context cache."""

import pytest
from samples import snakemake_like


@pytest.fixture
def sample(tmp_path, ledger_path):
    """A workflow run with a completed, a failed, a cached and a running job, in this test's ledger."""
    return snakemake_like(tmp_path / "project", ledger_path)


@pytest.fixture(scope="session")
def contexts(tmp_path_factory):
    """roc-validator's HTTP cache, holding the two JSON-LD contexts (see crate_check.py)."""
    from crate_check import context_cache

    return context_cache(tmp_path_factory.mktemp("contexts"))
