"""Hook implementations that the flowledger core loads through the `flowledger` entry point: the
`flowledger nextflow` command group (config, serve, import, run), the plugin's command-line intake.

Every command that records takes `--db` (before or after the sub-command) and passes it on; nothing here
sets `FLOWLEDGER_DB`.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flowledger.plugin_api import PathLike, RunStatus, absolute_setting, db_option, print_warning, recording_failed

from . import formats
from .errors import NextflowError
from .mapping import HOOK_ARGS

F = TypeVar("F", bound=Callable[..., Any])


@click.group("nextflow")
def nextflow_group() -> None:
    """Record Nextflow runs: hook config, live weblog receiver, importer of past runs, runner."""


@nextflow_group.command("config")
@click.option(
    "--weblog",
    "weblog_url",
    metavar="URL",
    help="Also send weblog events to URL (a running `flowledger nextflow serve`).",
)
@click.option("--token", help="The receiver's token (sent as basicToken; default: the one `serve` saved).")
@click.option("--no-hook", is_flag=True, help="Leave out the workflow.onComplete import hook.")
@click.option(
    "--print",
    "print_text",
    is_flag=True,
    help="Print the config text instead of its path (to paste into nextflow.config).",
)
@db_option
def config_command(
    weblog_url: str | None, token: str | None, no_hook: bool, print_text: bool, db: PathLike | None
) -> None:
    """Print the path of a Nextflow config that records runs: nextflow run main.nf -c "$(flowledger nextflow config)".

    With --db, the hook records into that ledger."""
    from .config import config_text, read_token, write_config

    if weblog_url and not token:
        token = read_token(db)
        if not token:
            raise NextflowError("no weblog token: start `flowledger nextflow serve` first, or pass --token")
    text = config_text(weblog_url=weblog_url, token=token, hook=not no_hook, db=db)
    if print_text:
        click.echo(text, nl=False)
    else:
        click.echo(str(write_config(text, db=db)))


@nextflow_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--token",
    help="Require `Authorization: Basic base64(TOKEN)` (weblog basicToken = 'TOKEN'); default: a saved random one.",
)
@db_option
def serve_command(host: str, port: int, token: str | None, db: PathLike | None) -> None:
    """Receive nf-weblog events and record each run while it happens."""
    import signal

    from flowledger.plugin_api import open_recorder

    from .config import read_token, save_token
    from .receiver import Receiver, new_token

    token = token or read_token(db) or new_token()
    saved = save_token(token, db)
    try:
        receiver = Receiver(
            lambda: open_recorder(db, background=False), host=host, port=port, token=token, warn=print_warning
        )
    except OSError as exc:
        raise NextflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    def stop(*_: object) -> None:  # SIGTERM stops like Ctrl-C: queued events are recorded before the process ends
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    url = receiver.url
    ledger = f" --db {shlex.quote(absolute_setting(db))}" if db is not None else ""  # a URL's `&`, a path's spaces
    click.echo(f"flowledger: receiving Nextflow weblog events at {url}", err=True)
    click.echo(f"  its token is in {saved} (mode 0600); `flowledger nextflow config --weblog` reads it:", err=True)
    click.echo(f'  nextflow run main.nf -c "$(flowledger nextflow config{ledger} --weblog {url})"', err=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    click.echo(
        f"flowledger: stopped ({receiver.accepted} events recorded, {receiver.rejected} rejected, "
        f"{receiver.failed} failed)",
        err=True,
    )


def _hook_options(command: F) -> F:
    """A hidden option for each value the onComplete handler passes (`HOOK_ARGS`) that the command does not
    offer itself; the value arrives in the keyword named after the RunFacts field it fills."""
    offered = {opt for param in getattr(command, "__click_params__", ()) for opt in param.opts}
    for arg in HOOK_ARGS:
        if arg.option is not None and arg.option not in offered:
            command = click.option(arg.option, arg.field, hidden=True)(command)
    return command


@nextflow_group.command("import")
@_hook_options
@click.argument("launch_dir", required=False, default=".", type=click.Path(file_okay=False))
@click.option("--run", "run_name", metavar="NAME", help="Only this run (default: every run in .nextflow/history).")
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(dir_okay=False),
    help="The run's trace file (default: found in LAUNCH_DIR).",
)
@click.option(
    "--output-dir",
    "output_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Where publishDir put files (default: the run's outputDir, params.outdir, ./results).",
)
@click.option("--from-hook", is_flag=True, hidden=True, help="Called by workflow.onComplete: never fail.")
@db_option
def import_command(
    launch_dir: str,
    run_name: str | None,
    trace_file: str | None,
    output_dirs: tuple[str, ...],
    from_hook: bool,
    db: PathLike | None,
    **hook: str | None,
) -> None:
    """Import past runs of LAUNCH_DIR from .nextflow/history, trace files and work dirs."""
    try:
        _import(launch_dir, run_name, trace_file, output_dirs, db, hook if from_hook else None)
    except Exception as exc:
        if not from_hook:
            raise
        print_warning(recording_failed(f"Nextflow run {run_name or '?'}: {exc}"))  # never fail the pipeline


def _import(
    launch_dir: str,
    run_name: str | None,
    trace_file: str | None,
    output_dirs: tuple[str, ...],
    db: PathLike | None,
    hook: dict[str, str | None] | None,
) -> None:
    from flowledger.plugin_api import open_recorder

    from .importer import import_launch_dir, import_run
    from .mapping import facts_from_hook

    folders = tuple(d for d in output_dirs if formats.text(d))  # the hook's `--output-dir=null`: no outputDir
    recorder = open_recorder(db, background=False)
    try:
        if hook is not None and run_name:
            facts = facts_from_hook(
                {
                    **hook,
                    "launch_dir": str(Path(launch_dir).absolute()),
                    "run_name": run_name,
                    "output_dir": folders[0] if folders else None,
                }
            )
            results = [
                import_run(recorder, launch_dir, run_name, hook_facts=facts, trace_file=trace_file, output_dirs=folders)
            ]
        else:
            results = import_launch_dir(recorder, launch_dir, run_name, trace_file=trace_file, output_dirs=folders)
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
@db_option
def run_command(
    pipeline: str,
    params: tuple[str, ...],
    profiles: tuple[str, ...],
    resume: bool,
    nextflow_args: tuple[str, ...],
    db: PathLike | None,
) -> None:
    """Run `nextflow run PIPELINE` and record it live (extra arguments go to Nextflow)."""
    from .runner import run

    parsed = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise NextflowError(f"--param {item!r}: expected KEY=VALUE")
        parsed[key] = value
    result = run(pipeline, params=parsed, profiles=list(profiles), resume=resume, args=list(nextflow_args), db=db)
    click.echo(f"flowledger: recorded Nextflow run {result.reference} as {result.uid} ({result.status})", err=True)
    sys.exit(0 if result.status is RunStatus.COMPLETED else 1)
