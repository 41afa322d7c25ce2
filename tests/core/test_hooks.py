"""Every hook in hookspecs.py has a test here (datasette's rule), plus the plugin-loading switches."""

import os
import subprocess
import sys

import click
import flowledger as fl
import pytest
from click.testing import CliRunner
from flowledger.plugin_api import Recorder, TransformSpec
from flowledger.plugins import pm
from flowledger.store import Ledger
from sqlite_utils.migrations import Migrations


@pytest.mark.parametrize("hook", [name for name in dir(pm.hook) if not name.startswith("_")])
def test_plugin_hooks_have_tests(hook):
    assert f"test_hook_{hook}" in globals(), f"write test_hook_{hook}"


class Listener:
    def __init__(self):
        self.events = []

    @fl.hookimpl
    def run_started(self, run):
        self.events.append(("started", run.uid, run.status))

    @fl.hookimpl
    def run_finished(self, run):
        self.events.append(("finished", run.uid, run.status))

    @fl.hookimpl
    def artifact_recorded(self, artifact, run, role):
        self.events.append((role, artifact.path, run.uid))


@pytest.fixture
def listener(flowledger_plugin):
    return flowledger_plugin(Listener(), name="listener")


def test_hook_run_started(listener):
    uid = Recorder().start_run(TransformSpec(name="wf"))
    assert listener.events == [("started", uid, "started")]


def test_hook_run_finished(listener):
    recorder = Recorder()
    uid = recorder.start_run(TransformSpec(name="wf"))
    recorder.finish_run(uid, status="errored", error="boom")
    assert listener.events[-1] == ("finished", uid, "errored")
    run = fl.Run(fl.Transform(name="manual").save()).save()
    run.status = "completed"
    run.save()
    assert listener.events[-1] == ("finished", run.uid, "completed")


def test_hook_artifact_recorded(listener, tmp_path):
    (tmp_path / "in.txt").write_text("in")
    (tmp_path / "out.txt").write_text("out")
    recorder = Recorder()
    first = recorder.record_job(
        TransformSpec(name="step"), inputs=[tmp_path / "in.txt"], outputs=[tmp_path / "out.txt"]
    )
    second = recorder.record_job(TransformSpec(name="step"), outputs=[tmp_path / "out.txt"])
    assert listener.events == [
        ("started", first, "completed"),
        ("input", str(tmp_path / "in.txt"), first),
        ("output", str(tmp_path / "out.txt"), first),
        ("finished", first, "completed"),
        ("started", second, "completed"),
        ("replicated", str(tmp_path / "out.txt"), second),
        ("finished", second, "completed"),
    ]
    (tmp_path / "by-hand.txt").write_text("made by hand")
    run = fl.Run.get(first)
    fl.Artifact(tmp_path / "by-hand.txt", run=run).save()  # the model API tells listeners too
    assert listener.events[-1] == ("output", str(tmp_path / "by-hand.txt"), first)


def test_hook_compute_hash(flowledger_plugin, tmp_path):
    class Sizes:
        @fl.hookimpl
        def compute_hash(self, path):
            return str(os.path.getsize(path)), "size"

    flowledger_plugin(Sizes(), name="sizes")
    (tmp_path / "x.txt").write_text("12345")
    Recorder().record_job(TransformSpec(name="step"), outputs=[tmp_path / "x.txt"])
    artifact = fl.Artifact.filter(path=str(tmp_path / "x.txt")).one()
    assert (artifact.hash, artifact.hash_type) == ("5", "size")


def test_hook_register_migrations(flowledger_plugin, tmp_path):
    extra = Migrations("flowledger-test-plugin")

    @extra()
    def m001_notes(db):
        db["plugin_notes"].create({"id": int, "note": str}, pk="id")

    class WithMigrations:
        @fl.hookimpl
        def register_migrations(self, register):
            register(extra)

    flowledger_plugin(WithMigrations(), name="with-migrations")
    ledger = Ledger(tmp_path / "plugin.db")
    assert "plugin_notes" in ledger.db.table_names()
    assert "runs" in ledger.db.table_names()


def test_hook_register_commands(flowledger_plugin):
    class Hello:
        @fl.hookimpl
        def register_commands(self, cli):
            @cli.command()
            def hello():
                click.echo("hello from a plugin")

    flowledger_plugin(Hello(), name="hello")
    group = click.Group(name="flowledger")
    pm.hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["hello"])
    assert result.output == "hello from a plugin\n"


def test_workspace_plugins_add_their_commands():
    from flowledger.cli import cli

    assert {"snakemake", "redun", "nextflow"} <= set(cli.commands)


def run_cli(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "flowledger", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


def test_load_plugins_switches():
    everything = run_cli("--help", FLOWLEDGER_LOAD_PLUGINS="flowledger-nextflow")
    assert "nextflow" in everything.stdout and "redun" not in everything.stdout
    none = run_cli("--help", FLOWLEDGER_LOAD_PLUGINS="")
    assert "nextflow" not in none.stdout and "lineage" in none.stdout
    blocked = run_cli("--help", FLOWLEDGER_DISABLED_PLUGINS="redun", FLOWLEDGER_LOAD_PLUGINS="flowledger-redun")
    assert "redun" not in blocked.stdout.split("Commands:")[1]
    traced = run_cli("init", FLOWLEDGER_TRACE_PLUGINS="1", FLOWLEDGER_LOAD_PLUGINS="")
    assert "flowledger hook register_migrations" in traced.stderr


def test_every_hook_is_documented_with_its_signature():
    import inspect
    from pathlib import Path

    from flowledger import hookspecs

    docs = (Path(__file__).resolve().parents[2] / "core" / "docs" / "plugins.md").read_text()
    for name in (n for n in dir(pm.hook) if not n.startswith("_")):
        parameters = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### {name}({parameters})\n" in docs, f"document hook {name}({parameters}) in core/docs/plugins.md"


def test_plugins_command_lists_plugins_with_their_hooks_and_versions():
    import json

    listed = json.loads(run_cli("plugins").stdout)
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["snakemake"]["package"] == "snakemake-logger-plugin-flowledger"
    assert by_name["snakemake"]["version"] and "register_commands" in by_name["snakemake"]["hooks"]
    assert "flowledger.default_plugins.hashing" not in by_name  # built-ins only with --all
    builtin = {entry["name"]: entry for entry in json.loads(run_cli("plugins", "--all").stdout)}
    assert builtin["flowledger.default_plugins.hashing"]["hooks"] == ["compute_hash"]
    assert json.loads(run_cli("plugins", FLOWLEDGER_LOAD_PLUGINS="").stdout) == []
