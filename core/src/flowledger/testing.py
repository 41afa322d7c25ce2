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


def recorder_api_mismatches(implementation: type) -> list[str]:
    """How `implementation` differs from `RecorderAPI`: missing methods, or other parameters, defaults or types.

    Plugin authors check their own recorders and test fakes with it: `assert not recorder_api_mismatches(Fake)`.
    """
    import inspect
    import typing
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from .contract import RecorderAPI

    problems = []
    for name, expected in vars(RecorderAPI).items():
        if name.startswith("_") or not callable(expected):
            continue
        actual = getattr(implementation, name, None)
        if actual is None:
            problems.append(f"{implementation.__name__}.{name} is missing")
            continue
        want, have = inspect.signature(expected), inspect.signature(actual)
        if [(p.name, p.kind, p.default) for p in want.parameters.values()] != [
            (p.name, p.kind, p.default) for p in have.parameters.values()
        ]:
            problems.append(f"{implementation.__name__}.{name}{have} differs from RecorderAPI.{name}{want}")
            continue
        want_types, have_types = typing.get_type_hints(expected), typing.get_type_hints(actual)
        returns, promised = have_types.get("return"), want_types.get("return")
        if (
            hasattr(actual, "__wrapped__")
            and typing.get_origin(returns) is Iterator
            and typing.get_origin(promised) is AbstractContextManager
            and typing.get_args(returns) == typing.get_args(promised)
        ):
            have_types["return"] = promised  # a @contextmanager generator returns a context manager of its yield
        if want_types != have_types:
            problems.append(f"{implementation.__name__}.{name} types {have_types} differ from {want_types}")
    return problems
