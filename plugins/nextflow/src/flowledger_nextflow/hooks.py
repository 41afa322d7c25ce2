"""Hook implementations that the flowledger core loads through the `flowledger` entry point: the
`flowledger nextflow` command group (config, serve, import, run)."""

import os
import sys
from pathlib import Path

import click
from flowledger.plugin_api import hookimpl

from .errors import NextflowError


def _warn(message: str) -> None:
    click.echo(f"flowledger: WARNING: {message}", err=True)


@click.group("nextflow")
def nextflow_group():
    """Record Nextflow runs: hook config, live weblog receiver, importer of past runs, runner."""


@nextflow_group.command("config")
@click.option("--weblog", "weblog_url", metavar="URL", help="Also send weblog events to URL "
              "(a running `flowledger nextflow serve`).")
@click.option("--token", help="The receiver's token (sent as basicToken).")
@click.option("--no-hook", is_flag=True, help="Leave out the workflow.onComplete import hook.")
@click.option("--print", "print_text", is_flag=True, help="Print the config text instead of its path "
              "(to paste into nextflow.config).")
def config_command(weblog_url, token, no_hook, print_text):
    """Print the path of a Nextflow config that records runs: nextflow run main.nf -c "$(flowledger nextflow config)"."""
    from .config import config_text, write_config

    text = config_text(weblog_url=weblog_url, token=token, hook=not no_hook)
    if print_text:
        click.echo(text, nl=False)
    else:
        click.echo(str(write_config(text)))


@nextflow_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--token", help="Require `Authorization: Basic base64(TOKEN)` (weblog basicToken = 'TOKEN').")
def serve_command(host, port, token):
    """Receive nf-weblog events and record each run while it happens."""
    import signal

    from flowledger.plugin_api import Recorder

    from .receiver import Receiver

    try:
        receiver = Receiver(Recorder, host=host, port=port, token=token, warn=_warn)
    except OSError as exc:
        raise NextflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def stop(*_):  # SIGTERM stops like Ctrl-C: queued events are recorded before the process ends
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    url = receiver.url
    click.echo(f"flowledger: receiving Nextflow weblog events at {url}", err=True)
    click.echo(f"  nextflow run main.nf -c \"$(flowledger nextflow config --weblog {url}"
               f"{' --token TOKEN' if token else ''})\"", err=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    click.echo(f"flowledger: stopped ({receiver.accepted} events recorded, {receiver.rejected} rejected, "
               f"{receiver.failed} failed)", err=True)


def _none(value):
    return None if value in (None, "", "null") else value


@nextflow_group.command("import")
@click.argument("launch_dir", required=False, default=".", type=click.Path(file_okay=False))
@click.option("--run", "run_name", metavar="NAME", help="Only this run (default: every run in .nextflow/history).")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False), help="The run's trace file "
              "(default: found in LAUNCH_DIR).")
@click.option("--output-dir", "output_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Where publishDir put files (default: the run's outputDir, params.outdir, ./results).")
@click.option("--db", hidden=True)
@click.option("--from-hook", is_flag=True, hidden=True, help="Called by workflow.onComplete: never fail.")
@click.option("--session-id", hidden=True)
@click.option("--work-dir", hidden=True)
@click.option("--success", hidden=True)
@click.option("--exit-status", hidden=True)
@click.option("--error-message", hidden=True)
@click.option("--pipeline-name", hidden=True)
@click.option("--pipeline-version", hidden=True)
@click.option("--nextflow-version", hidden=True)
@click.option("--command-line", hidden=True)
@click.option("--profile", hidden=True)
@click.option("--revision", hidden=True)
@click.option("--commit-id", hidden=True)
@click.option("--repository", hidden=True)
@click.option("--script-id", hidden=True)
def import_command(launch_dir, run_name, trace_file, output_dirs, db, from_hook, **hook):
    """Import past runs of LAUNCH_DIR from .nextflow/history, trace files and work dirs."""
    if db:
        os.environ["FLOWLEDGER_DB"] = str(Path(db).absolute())
    try:
        _import(launch_dir, run_name, trace_file, output_dirs, hook if from_hook else None)
    except Exception as exc:
        if not from_hook:
            raise
        _warn(f"Nextflow run {run_name or ''} was not recorded: {exc}")  # never fail the pipeline


def _import(launch_dir, run_name, trace_file, output_dirs, hook):
    from flowledger.plugin_api import Recorder

    from .importer import import_launch_dir, import_run
    from .runinfo import RunInfo

    recorder = Recorder()
    try:
        if hook is not None and run_name:
            info = RunInfo(run_name=run_name, launch_dir=str(Path(launch_dir).absolute()))
            for key in ("session_id", "work_dir", "error_message", "pipeline_name", "pipeline_version",
                        "nextflow_version", "command_line", "profile", "revision", "commit_id", "repository",
                        "script_id"):
                setattr(info, key, _none(hook.get(key)))
            success = _none(hook.get("success"))
            info.success = None if success is None else success.lower() == "true"
            exit_status = _none(hook.get("exit_status"))
            info.exit_status = int(exit_status) if exit_status and exit_status.lstrip("-").isdigit() else None
            output_dirs = tuple(filter(_none, output_dirs))  # `--output-dir=null`: no workflow.outputDir
            results = [import_run(recorder, launch_dir, run_name, hook_info=info, trace_file=trace_file,
                                  output_dirs=output_dirs, warn=_warn)]
        else:
            results = import_launch_dir(recorder, launch_dir, run_name, trace_file=trace_file,
                                        output_dirs=output_dirs, warn=_warn)
    finally:
        recorder.close()
    for result in results:
        click.echo(f"flowledger: {result.summary()}", err=True)


@nextflow_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("pipeline")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A pipeline parameter.")
@click.option("--profile", "profiles", multiple=True, help="A config profile (repeatable).")
@click.option("--resume", is_flag=True, help="Resume the last session of this launch dir.")
@click.argument("nextflow_args", nargs=-1, type=click.UNPROCESSED)
def run_command(pipeline, params, profiles, resume, nextflow_args):
    """Run `nextflow run PIPELINE` and record it live (extra arguments go to Nextflow)."""
    from .runner import run

    parsed = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise NextflowError(f"--param {item!r}: expected KEY=VALUE")
        parsed[key] = value
    result = run(pipeline, params=parsed, profiles=list(profiles), resume=resume, args=list(nextflow_args))
    click.echo(f"flowledger: recorded Nextflow run {result.reference} as {result.uid} ({result.status})", err=True)
    sys.exit(0 if result.status == "completed" else 1)


@hookimpl
def register_commands(cli):
    cli.add_command(nextflow_group)
