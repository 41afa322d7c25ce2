"""Fixtures for the redun plugin's tests: a project folder and the test pipeline."""

import importlib
import shutil
import sys

import pytest
from redun_testlib import DATA, write_ini


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with data/ (three samples), the pipeline, and .redun/redun.ini with the ini line."""
    root = tmp_path / "project"
    shutil.copytree(DATA / "samples", root / "data")
    shutil.copy(DATA / "fl_redun_workflow.py", root / "fl_redun_workflow.py")
    write_ini(root, plugin=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def wf():
    """The test pipeline, imported once (redun's task registry is global)."""
    sys.path.insert(0, str(DATA))
    try:
        return importlib.import_module("fl_redun_workflow")
    finally:
        sys.path.remove(str(DATA))
