"""The `flowledger` command. Plugins add sub-commands through the `register_commands` hook."""

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import lineage, render
from .clitools import DB_HELP, db_option
from .errors import FlowledgerError
from .location import ENV_VAR, LEDGER_NAME, PROJECT_DIR, resolve_ledger_path
from .models import Artifact, Run
from .plugins import DEFAULT_PLUGINS, distributions, load_plugins, pm
from .store import Ledger, get_ledger


class FriendlyGroup(click.Group):
    """Turns flowledger's own errors into one line on stderr and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FlowledgerError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="flowledger")
@click.option("--db", type=click.Path(dir_okay=True), help=DB_HELP)
def cli(db):
    """Data lineage for workflow runs: which run made this file, from which inputs, with which code?"""


def _existing_ledger(db):
    path = resolve_ledger_path(db)
    if not path.exists():
        raise FlowledgerError(f"no ledger at {path}: record a run first, or run `flowledger init`")
    return get_ledger(path)


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@cli.command()
@db_option
def init(db):
    """Create a ledger for this project in ./.flowledger/ (found from every sub-folder)."""
    path = Path.cwd() / PROJECT_DIR / LEDGER_NAME
    if db or os.environ.get(ENV_VAR):
        path = resolve_ledger_path(db)
    Ledger(path, adopt_empty=True).close()
    click.echo(f"Ledger ready at {path}")


@cli.command()
@click.option("--transform", "transform_name", help="Only runs of transforms with this name.")
@click.option("--reference-type", help="Only runs with this reference type (snakemake_id, redun_id, ...).")
@click.option(
    "--status",
    type=click.Choice(["scheduled", "started", "completed", "errored", "aborted", "cached", "unfinished"]),
    help="Only runs in this state (unfinished: started, but the process recording it has ended).",
)
@click.option("--all", "include_jobs", is_flag=True, help="Include job runs (runs initiated by another run).")
@click.option("--limit", default=50, show_default=True, help="Most recent runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def runs(transform_name, reference_type, status, include_jobs, limit, as_json, db):
    """List runs, most recent first (workflow-level runs unless --all)."""
    ledger = _existing_ledger(db)
    query = Run.using(ledger)
    if transform_name:
        query = query.filter(transform__name=transform_name)
    if reference_type:
        query = query.filter(reference_type=reference_type)
    if status:
        query = query.filter(status="started" if status == "unfinished" else status)
    if not include_jobs and not (transform_name or reference_type):
        query = query.filter(initiated_by_run__isnull=True)
    found = query.order_by("-id").all()
    if status in ("started", "unfinished"):
        found = [run for run in found if run.state == status]
    found = found[:limit]
    if as_json:
        _emit_json([_run_summary(r) for r in found])
        return
    table = Table("uid", "transform", "type", "status", "started", "finished", "reference")
    for run in found:
        summary = _run_summary(run)
        table.add_row(
            run.uid,
            summary["transform"],
            summary["type"],
            summary["state"],
            _short(run.started_at),
            _short(run.finished_at),
            f"{run.reference_type}={run.reference}" if run.reference else "",
        )
    _console().print(table)


@cli.command()
@click.argument("run_uid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def show(run_uid, as_json, db):
    """Show one run: fields, inputs, outputs, parent and child runs (a unique uid prefix is enough)."""
    ledger = _existing_ledger(db)
    query = Run.using(ledger).filter(uid__startswith=run_uid)
    matches = query.count()
    if matches != 1:
        raise FlowledgerError(
            f"no run with uid {run_uid!r} in {ledger.path}"
            if matches == 0
            else f"{matches} runs start with {run_uid!r}: give more of the uid"
        )
    run = query.one()
    data = _run_detail(run)
    if as_json:
        _emit_json(data)
        return
    console = _console()
    table = Table(show_header=False, box=None)
    for key, value in data.items():
        if key in ("inputs", "outputs", "replicated_output_artifacts", "children"):
            continue
        table.add_row(key, json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value))
    console.print(table)
    for key in ("inputs", "outputs", "replicated_output_artifacts"):
        console.print(f"[bold]{key}[/bold] ({len(data[key])})")
        for item in data[key]:
            console.print(f"  {item['path']}  {item['hash_type']}:{item['hash'][:12]}  v{item['version']}")
    console.print(f"[bold]children[/bold] ({len(data['children'])})")
    for child in data["children"]:
        console.print(f"  {child['uid']}  {child['transform']}  {child['state']}")


@cli.command("lineage")
@click.argument("path")
@click.option("--downstream", is_flag=True, help="Show what was made from PATH instead of where it came from.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--format", "fmt", type=click.Choice(["tree", "dot", "mermaid"]), default="tree", show_default=True)
@db_option
def lineage_command(path, downstream, as_json, fmt, db):
    """Which runs, code and inputs led to PATH (back to raw inputs)."""
    ledger = _existing_ledger(db)
    artifact = Artifact.using(ledger).filter(path=path, is_latest=1).one_or_none()
    if artifact is None:
        raise FlowledgerError(f"{path} was never recorded in {ledger.path}")
    graph = lineage.descendants(artifact) if downstream else lineage.ancestors(artifact)
    if as_json:
        _emit_json(lineage.to_dict(graph))
    elif fmt == "dot":
        click.echo(render.dot(graph))
    elif fmt == "mermaid":
        click.echo(render.mermaid(graph))
    else:
        _console().print(render.tree(graph, upstream=not downstream))


@cli.command()
@click.option("--path", "path_prefix", help="Only artifacts under this folder.")
@click.option("--all-versions", is_flag=True, help="Include earlier versions of each path.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def artifacts(path_prefix, all_versions, limit, as_json, db):
    """List recorded files and folders."""
    ledger = _existing_ledger(db)
    query = Artifact.using(ledger)
    if not all_versions:
        query = query.filter(is_latest=1)
    if path_prefix:
        query = query.filter(path__under=path_prefix)
    found = query.order_by("-id").all()[:limit]
    if as_json:
        _emit_json([_artifact_summary(a) for a in found])
        return
    table = Table("uid", "path", "version", "hash", "size", "made by run")
    for artifact in found:
        table.add_row(
            artifact.uid,
            artifact.path,
            str(artifact.version),
            f"{artifact.hash_type}:{artifact.hash[:12]}",
            str(artifact.size),
            artifact.run.uid if artifact.run else "(raw input)",
        )
    _console().print(table)


@cli.command("plugins")
@click.option("--all", "include_builtin", is_flag=True, help="Include the built-in plugins.")
def plugins_command(include_builtin):
    """List the installed plugins, the hooks each implements, and their versions (JSON)."""
    _emit_json(installed_plugins(include_builtin))


def installed_plugins(include_builtin: bool = False) -> list[dict]:
    found = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: str(pair[0])):
        if plugin is None or (name in DEFAULT_PLUGINS and not include_builtin):
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        entry = {"name": name, "hooks": hooks}
        if name in distributions:
            entry["package"], entry["version"] = distributions[name]
        found.append(entry)
    return found


def _console() -> Console:
    """Wrap to the terminal; in a pipe keep whole lines, so that paths and uids stay greppable."""
    return Console() if sys.stdout.isatty() else Console(width=10_000)


def _short(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else ""


def _run_summary(run: Run) -> dict:
    transform = run.transform
    return {
        "uid": run.uid,
        "transform": transform.name,
        "transform_version": transform.version,
        "type": transform.type,
        "status": run.status,
        "state": run.state,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "reference": run.reference,
        "reference_type": run.reference_type,
    }


def _artifact_summary(artifact: Artifact) -> dict:
    return {
        "uid": artifact.uid,
        "path": artifact.path,
        "kind": artifact.kind,
        "version": artifact.version,
        "hash": artifact.hash,
        "hash_type": artifact.hash_type,
        "size": artifact.size,
        "run": artifact.run.uid if artifact.run else None,
    }


def _run_detail(run: Run) -> dict:
    data = _run_summary(run)
    data.update(
        {
            "created_by": run.created_by.handle if run.created_by else None,
            "created_at": run.created_at,
            "exit_code": run.exit_code,
            "error": run.error,
            "is_consecutive": run.is_consecutive,
            "json": run.json,
            "environment": run.environment.path if run.environment else None,
            "report": run.report.path if run.report else None,
            "initiated_by_run": run.initiated_by_run.uid if run.initiated_by_run else None,
            "inputs": [_artifact_summary(a) for a in run.inputs],
            "outputs": [_artifact_summary(a) for a in run.outputs],
            "replicated_output_artifacts": [_artifact_summary(a) for a in run.replicated_output_artifacts],
            "children": [_run_summary(r) for r in run.children],
        }
    )
    return data


load_plugins()
pm.hook.register_commands(cli=cli)
