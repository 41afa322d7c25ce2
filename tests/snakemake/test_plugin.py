"""The plugin as Snakemake and flowledger see it: interface tests, discovery, settings, CLI command."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from snakemake_interface_logger_plugins.tests import MockOutputSettings, TestLogHandlerBase
from snakemake_logger_plugin_flowledger import LogHandler, LogHandlerSettings


class TestFlowledgerLogHandler(TestLogHandlerBase):
    """Snakemake's own checks for logger plugins (each test gets a fresh ledger from tests/conftest.py)."""

    __test__ = True

    def get_log_handler_cls(self):
        return LogHandler

    def get_log_handler_settings(self):
        return LogHandlerSettings()

    def test_filters_nothing_away(self):
        handler = self._create_handler()
        assert handler.has_filter is True  # no DefaultFilter: --quiet must not hide jobs from the ledger
        assert handler.writes_to_stream is False and handler.writes_to_file is False
        handler.close()


def test_snakemake_discovers_the_plugin():
    from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry

    plugin = LoggerPluginRegistry().get_plugin("flowledger")
    assert plugin.log_handler is LogHandler
    assert plugin.settings_cls is LogHandlerSettings


def test_settings_are_logger_options_and_env_vars():
    fields = {f.name: f for f in dataclasses.fields(LogHandlerSettings)}
    assert set(fields) == {"db", "name", "wait"}
    for field in fields.values():
        assert field.default is None and field.metadata["help"] and field.metadata["env_var"] is True
    # as Snakemake offers them to users
    snakemake = Path(sys.executable).with_name("snakemake")
    done = subprocess.run([str(snakemake), "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stdout.split())  # argparse wraps long lines
    for name in fields:
        assert f"--logger-flowledger-{name} VALUE" in shown
        assert f"[env var: SNAKEMAKE_LOGGER_FLOWLEDGER_{name.upper()}]" in shown


def test_dry_run_never_opens_the_ledger(ledger_path):
    common = MockOutputSettings()
    common.dryrun = True
    handler = LogHandler(common_settings=common, settings=LogHandlerSettings())
    import logging
    import uuid

    for event, extra in [
        ("workflow_started", {"workflow_id": uuid.uuid4()}),
        ("job_info", {"jobid": 1, "rule_name": "r", "input": [], "output": ["o"]}),
    ]:
        handler.handle(logging.makeLogRecord({"event": event, "msg": "", **extra}))
    handler.close()
    assert not ledger_path.exists()


def test_hook_register_commands():
    """`flowledger snakemake handler-path` prints the Snakemake 8 handler script's absolute path."""
    import click
    from snakemake_logger_plugin_flowledger import hooks

    @click.group()
    def cli():
        pass

    hooks.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["snakemake", "handler-path"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.is_absolute() and path.name == "handler8.py"
    assert "def log_handler(msg" in path.read_text()


def test_handler_path_console_script():
    """What Snakemake 8 users type: `--log-handler-script "$(flowledger snakemake handler-path)"`."""
    flowledger = Path(sys.executable).with_name("flowledger")
    done = subprocess.run([str(flowledger), "snakemake", "handler-path"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()


def test_hashing_outputs_does_not_hold_up_snakemakes_thread(tmp_path, open_ledger):
    """The handler returns while an output is still being hashed (here: a hash that blocks until told)."""
    import threading

    from flowledger.plugin_api import hookimpl
    from flowledger.plugins import load_plugins, pm
    from snakemake_logger_plugin_flowledger.events import JobFinished, JobInfo, WorkflowStarted
    from snakemake_logger_plugin_flowledger.tracker import Tracker

    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 1_000_000)

    class SlowHash:
        started, release = threading.Event(), threading.Event()

        @hookimpl
        def compute_hash(self, path):
            if path == str(big):
                self.started.set()
                self.release.wait(60)
            return None  # then the built-in sha256

    slow = SlowHash()
    load_plugins()
    pm.register(slow, name="slow-hash")
    try:
        tracker = Tracker(snakemake_major=9)
        feed = threading.Thread(
            target=lambda: [
                tracker.handle(e)
                for e in (
                    WorkflowStarted(time=1.0, thread="T", workflow_id="w"),
                    JobInfo(time=2.0, thread="T", jobid=1, rule="big", output=(str(big),)),
                    JobFinished(time=3.0, thread="T", jobid=1),
                )
            ]
        )
        feed.start()
        feed.join(20)
        assert not feed.is_alive()  # Snakemake's thread is free ...
        assert slow.started.wait(20)  # ... while the output is being hashed
        slow.release.set()
        tracker.close()
    finally:
        slow.release.set()
        pm.unregister(name="slow-hash")
    fl = open_ledger(tmp_path / "ledger" / "ledger.db")
    (made,) = fl.Run.filter(reference_type="snakemake_job").all()
    assert made.status == "completed"
    assert [a.hash for a in made.outputs.all()] == [hashlib.sha256(big.read_bytes()).hexdigest()]
