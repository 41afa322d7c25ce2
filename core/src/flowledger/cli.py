"""The `flowledger` command. Plugins add sub-commands through the `register_commands` hook.

Listings stream: one query, rows written as they are read (`listing.py`). Piped output is plain text
(tab-separated for listings, nothing padded); a terminal gets aligned columns that fit its width and
colours. Times are in the user's time zone, labelled (`--utc` for UTC); JSON keeps the ledger's UTC times.
"""

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from . import clitools, lineage, listing, render, verify
from .cli_show import show
from .clitools import (
    DB_HELP,
    UTC_HELP,
    Lines,
    db_option,
    emit_json,
    job_name,
    limit_value,
    run_details,
    utc_option,
)
from .errors import FlowledgerError
from .listing import RunQuery, RunRow
from .location import ENV_VAR, LEDGER_NAME, PROJECT_DIR, ServerLedger, resolve_ledger_path
from .models import Artifact
from .plugins import DEFAULT_PLUGINS, distributions, load_plugins, pm
from .render import Column, Table, coloured, when
from .store import existing_ledger, open_ledger

STATUSES = ["scheduled", "started", "completed", "errored", "aborted", "cached", "unfinished"]


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
@click.option("--utc", is_flag=True, help=UTC_HELP)
def cli(db, utc):
    """Data lineage for workflow runs: which run made this file, from which inputs, with which code?"""


# ---- output --------------------------------------------------------------------------------------------
def _stream_json(items: Iterable[dict]) -> None:
    """A JSON array, one item at a time (as `json.dumps(items, indent=2)` would print it)."""
    out = Lines()
    first = True
    for item in items:
        text = json.dumps(item, indent=2, default=str).replace("\n", "\n  ")
        out.stream.write(("[\n  " if first else ",\n  ") + text)
        if first:
            out.stream.flush()
        first = False
    out.stream.write("[]\n" if first else "\n]\n")
    out.stream.flush()


class Limited:
    """At most `limit` items of `items` (None: all), remembering whether more were there."""

    def __init__(self, items: Iterator, limit: int | None):
        self.items, self.limit = items, limit
        self.shown = 0
        self.cut = False

    def __iter__(self):
        for item in self.items:
            if self.limit is not None and self.shown >= self.limit:
                self.cut = True
                return
            self.shown += 1
            yield item


def _say_cut(shown: int, total: int, what: str) -> None:
    click.echo(f"{shown:,} of {total:,} {what} (use --limit N for more, --limit 0 for all)", err=True)


cli.add_command(show)


# ---- commands ------------------------------------------------------------------------------------------
@cli.command()
@db_option
def init(db):
    """Create a ledger for this project in ./.flowledger/ (found from every sub-folder)."""
    path: Path | ServerLedger = Path.cwd() / PROJECT_DIR / LEDGER_NAME
    if db or os.environ.get(ENV_VAR):
        path = resolve_ledger_path(db)
    open_ledger(path, adopt_empty=True, spool=False).close()
    click.echo(f"Ledger ready at {path}")


@cli.command()
@click.option("--transform", "transform_name", help="Only runs of transforms with this name.")
@click.option("--reference-type", help="Only runs with this reference type (snakemake_id, redun_id, ...).")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only runs in this state (unfinished: started, but the process recording it has ended).",
)
@click.option("--all", "include_jobs", is_flag=True, help="Include job runs (runs initiated by another run).")
@click.option("--parent", "parent_uid", metavar="RUN_UID", help="Only the jobs of this run (a unique uid prefix).")
@click.option(
    "--since", metavar="WHEN", help="Only runs started then or later: 2026-12-01, '2026-12-01 14:00', 7d, 12h."
)
@click.option("--until", metavar="WHEN", help="Only runs started before then (a day: before its end).")
@click.option("--limit", default=50, show_default=True, help="Most recent runs to show; 0: all.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@utc_option
@db_option
def runs(transform_name, reference_type, status, include_jobs, parent_uid, since, until, limit, as_json, utc, db):
    """List runs, most recent first (workflow-level runs unless --all).

    Columns: uid, status, started, duration, transform, details (a job's wildcards or tag, the first line
    of an error, a workflow run's reference). Piped, they are separated by tabs.
    """
    ledger = existing_ledger(db)
    parent = None
    if parent_uid:
        parent = listing.find_run(ledger, parent_uid)
        if parent is None:
            raise FlowledgerError(f"no run with uid {parent_uid!r} in {ledger.path}")
    query = RunQuery(
        transform=transform_name,
        reference_type=reference_type,
        status=status,
        include_jobs=include_jobs,
        since=listing.parse_when(since) if since else None,
        until=listing.parse_when(until, end=True) if until else None,
        parent_id=parent.id if parent is not None else None,
    )
    most = limit_value(limit)
    shown = Limited(listing.runs(ledger, query, None if most is None else most + 1), most)
    if as_json:
        _stream_json(row.to_dict() for row in shown)
    else:
        tty = clitools.is_terminal()
        table = Table(RUN_COLUMNS, tty=tty, width=render.terminal_width(), narrow=RUN_NARROW)
        Lines().all(table.lines(_run_cells(row, utc) for row in shown))
        if tty and not shown.shown:
            click.echo(
                "No runs" + (" match" if any((transform_name, reference_type, status, since, until)) else ""), err=True
            )
    if shown.cut:
        _say_cut(shown.shown, listing.count_runs(ledger, query), "runs")


RUN_COLUMNS = [
    Column("uid"),
    Column("status", style=coloured),
    Column("started", zone=True),
    Column("duration"),
    Column("transform"),
    Column("details"),
]
# What gives way in a narrow terminal, in order (0: the column is left out); the uid never does.
RUN_NARROW = [
    ("details", 24),
    ("details", 16),
    ("transform", 18),
    ("duration", 0),
    ("transform", 12),
    ("started", 11),
    ("details", 0),
    ("status", 6),
]


def _run_cells(row: RunRow, utc: bool) -> list[str]:
    return [
        row.uid,
        row.state,
        when(row.started_at, utc),
        render.duration(row.seconds),
        render.transform_text(row.transform_type, row.transform, row.transform_version, row.explicit_version),
        run_details(row),
    ]


@cli.command("lineage")
@click.argument("path", metavar="PATH|PATH@vN|ARTIFACT_UID")
@click.option("--downstream", is_flag=True, help="Show what was made from PATH instead of where it came from.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--format", "fmt", type=click.Choice(["tree", "dot", "mermaid"]), default="tree", show_default=True)
@click.option("--no-check", is_flag=True, help="Do not compare the files with the disk (they are, by default).")
@utc_option
@db_option
def lineage_command(path, downstream, as_json, fmt, no_check, utc, db):
    """Which runs, code and inputs led to PATH (back to raw inputs).

    Files that changed on disk since they were recorded, or are missing, are marked. A file never recorded
    at its own path (a copy, a moved project, a download) is found by its content.
    """
    ledger = existing_ledger(db)
    artifact, matches = _lineage_subject(ledger, path)
    graph = lineage.descendants(artifact) if downstream else lineage.ancestors(artifact)
    checked = {} if no_check else verify.by_artifact(verify.check(graph.artifacts.values(), ledger))
    note = _content_note(path, matches, utc) if matches else None
    if as_json:
        data = lineage.to_dict(graph, checked)
        if matches:
            data["found_by_content"] = {
                "path": os.path.abspath(path),
                "note": note,
                "artifacts": [m.uid for m in matches],
            }
        emit_json(data)
        return
    if note:
        click.echo(note, err=fmt != "tree")
    if fmt == "dot":
        click.echo(render.dot(graph, checked, utc))
    elif fmt == "mermaid":
        click.echo(render.mermaid(graph, checked, utc))
    else:
        text = render.tree_text(graph, upstream=not downstream, checked=checked, utc=utc, relative_to=os.getcwd())
        Lines().all(text.splitlines())


def _lineage_subject(ledger, text: str) -> tuple[Artifact, list[Artifact]]:
    """The artifact `text` names, and (when it was found by its content) every artifact with that content."""
    on_disk = os.path.lexists(text)
    artifact = listing.find_artifact(ledger, text, uids=not on_disk)
    if artifact is not None:
        return artifact, []
    if on_disk:
        matches = lineage.find_by_content(text, ledger=ledger)
        if matches:
            return matches[0], matches
        raise FlowledgerError(f"{text} was never recorded in {ledger.path}, and no recorded file has its content")
    raise FlowledgerError(f"{text} was never recorded in {ledger.path}")


def _content_note(path: str, matches: list[Artifact], utc: bool) -> str:
    best = matches[0]
    if best.run_id is not None:
        maker = next(listing.runs_where(best._store, "r.id = ?", [best.run_id]))
        origin = f"made by run {maker.uid} ({' '.join(filter(None, job_name(maker)))}) {when(maker.started_at, utc)}"
    else:
        origin = f"recorded as a raw input {when(best.created_at, utc)}"
    others = [f"{m.path} v{m.version}" for m in matches[1:4]]
    more = f"; also the same content: {', '.join(others)}" if others else ""
    if len(matches) > 4:
        more += f" and {len(matches) - 4} more"
    return f"{path} was never recorded at this path: same content as {best.path} v{best.version}, {origin}{more}"


@cli.command()
@click.option("--path", "path_prefix", help="Only artifacts under this folder.")
@click.option("--all-versions", is_flag=True, help="Every version of each path, grouped under the path.")
@click.option(
    "--internal",
    is_flag=True,
    help="Include files kept for the tools' own use (.snakemake/, flowledger's environment snapshots) "
    "and references (container images).",
)
@click.option("--limit", default=100, show_default=True, help="Most recently recorded paths to show; 0: all.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@utc_option
@db_option
def artifacts(path_prefix, all_versions, internal, limit, as_json, utc, db):
    """List recorded files and folders, most recently recorded first (the latest version of each path).

    Columns: uid, version, size, recorded, made by (run uid and transform, or "raw input"), path. With
    --all-versions, piped: path, version, latest, recorded, hash, size, made by.
    """
    ledger = existing_ledger(db)
    most = limit_value(limit)
    found = listing.artifacts(
        ledger,
        under=path_prefix,
        internal=internal,
        all_versions=all_versions,
        limit=None if most is None else most + 1,
    )
    shown = Limited(found, most)
    if as_json:
        _stream_json(v.to_dict() for row in shown for v in (row.versions if all_versions else [row]))
    elif all_versions:
        Lines().all(_version_lines(shown, utc, clitools.is_terminal()))
    else:
        table = Table(
            ARTIFACT_COLUMNS, tty=clitools.is_terminal(), width=render.terminal_width(), narrow=ARTIFACT_NARROW
        )
        Lines().all(table.lines(_artifact_cells(row, utc) for row in shown))
    if shown.cut:
        _say_cut(shown.shown, listing.count_artifacts(ledger, under=path_prefix, internal=internal), "paths")


ARTIFACT_COLUMNS = [
    Column("uid"),
    Column("version"),
    Column("size"),
    Column("recorded", zone=True),
    Column("made by"),
    Column("path", cut_left=True),
]
ARTIFACT_NARROW = [
    ("made by", 24),
    ("recorded", 11),
    ("path", 40),
    ("made by", 0),
    ("recorded", 0),
    ("size", 0),
    ("path", 12),
]


def _made_by(row: listing.ArtifactRow) -> str:
    if row.run is None:
        return "raw input"
    detail = render.job_detail(row.wildcards, row.tag)
    return f"{row.transform_type} {row.transform}" + (f" {detail}" if detail else "") + f" (run {row.run})"


def _artifact_cells(row: listing.ArtifactRow, utc: bool) -> list[str]:
    version = f"v{row.version}" + (" deleted" if row.state == "deleted" else "")
    return [row.uid, version, render.size(row.size), when(row.created_at, utc), _made_by(row), row.path]


def _version_lines(rows: Iterable[listing.ArtifactRow], utc: bool, tty: bool) -> Iterator[str]:
    for row in rows:
        if tty:
            yield click.style(row.path, bold=True)
        for v in row.versions:
            digest = f"{v.hash_type}:{v.hash[:12]}" if v.hash else v.kind
            latest = "latest" if v.is_latest else ""
            state = " deleted" if v.state == "deleted" else ""
            cells = [f"v{v.version}{state}", latest, when(v.created_at, utc), digest, render.size(v.size), _made_by(v)]
            if tty:
                yield "  " + "  ".join([cells[0].ljust(4), cells[1].ljust(6), *cells[2:]])
            else:
                yield "\t".join([row.path, *cells])


@cli.command("verify")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@click.option(
    "--run", "run_uid", metavar="RUN_UID", help="Every file this run (and its jobs) read, made or reproduced."
)
@click.option("--internal", is_flag=True, help="Include files kept for the tools' own use (.snakemake/, ...).")
@click.option("--all", "show_all", is_flag=True, help="List the unchanged files too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def verify_command(paths, run_uid, internal, show_all, as_json, db):
    """Are the files still what the ledger says? Each recorded file (the latest version at PATH, the files
    under a folder, every file of a run, or every file recorded) against the file on disk now: unchanged,
    changed (other content than recorded) or missing. Exit status 1 when any differs.

    Files whose size, mtime and inode are as recorded are not read again (the stat cache).
    """
    ledger = existing_ledger(db)
    if paths and run_uid:
        raise click.UsageError("give PATHs or --run, not both")
    unknown: list[str] = []
    if run_uid:
        run = listing.find_run(ledger, run_uid)
        if run is None:
            raise FlowledgerError(f"no run with uid {run_uid!r} in {ledger.path}")
        chosen: Iterable = listing.run_files(ledger, run, internal=internal)
    elif paths:
        chosen, unknown = _chosen_files(ledger, paths, internal)
    else:
        chosen = listing.artifacts(ledger, internal=internal)
    results: list[verify.Checked] = []
    tty = clitools.is_terminal()
    out = Lines()
    for checked in verify.each(chosen, ledger):
        results.append(checked)
        if not as_json and (checked.differs or show_all):
            out.write(_checked_line(checked, tty))
    counts = verify.counts(results)
    if as_json:
        emit_json(
            {
                "counts": counts | {"not_recorded": len(unknown)},
                "files": [_checked_dict(c) for c in results],
                "not_recorded": unknown,
            }
        )
    else:
        for path in unknown:
            out.write(
                "\t".join(["not recorded", path]) if not tty else f"{click.style('not recorded', fg='red')}  {path}"
            )
        total = len(results)
        summary = f"{total:,} file{'s' if total != 1 else ''}: " + ", ".join(
            f"{n:,} {state}" for state, n in counts.items()
        )
        if unknown:
            summary += f"; {len(unknown)} not recorded"
        out.write(summary)
        out.stream.flush()
    if counts["changed"] or counts["missing"] or unknown:
        sys.exit(1)


def _chosen_files(ledger, paths, internal: bool) -> tuple[list, list[str]]:
    """The artifacts PATHs name (a recorded file, PATH@vN, an artifact uid, or a folder's recorded files)."""
    chosen: list = []
    unknown: list[str] = []
    for text in paths:
        artifact = listing.find_artifact(ledger, text, uids=not os.path.lexists(text))
        if artifact is not None:
            chosen.append(artifact)
            continue
        under = list(listing.artifacts(ledger, under=text, internal=internal))
        if under:
            chosen.extend(under)
        else:
            unknown.append(text)
    return chosen, unknown


def _checked_line(checked: verify.Checked, tty: bool) -> str:
    artifact = checked.artifact
    state = checked.state.value
    version = f"v{artifact.version}"  # type: ignore[attr-defined]
    cells = [state, artifact.path, version, checked.detail]  # type: ignore[attr-defined]
    if not tty:
        return "\t".join(cells)
    detail = f"  ({version}{'; ' + checked.detail if checked.detail else ''})"
    return f"{coloured(state.ljust(9))} {artifact.path}{detail}"  # type: ignore[attr-defined]


def _checked_dict(checked: verify.Checked) -> dict:
    artifact = checked.artifact
    return {
        "uid": artifact.uid,  # type: ignore[attr-defined]
        "path": artifact.path,  # type: ignore[attr-defined]
        "version": artifact.version,  # type: ignore[attr-defined]
        "state": checked.state.value,
        "detail": checked.detail or None,
        "hash": artifact.hash,  # type: ignore[attr-defined]
        "current_hash": checked.current_hash,
    }


@cli.command("plugins")
@click.option("--all", "include_builtin", is_flag=True, help="Include the built-in plugins.")
def plugins_command(include_builtin):
    """List the installed plugins, the hooks each implements, and their versions (JSON)."""
    emit_json(installed_plugins(include_builtin))


def installed_plugins(include_builtin: bool = False) -> list[dict]:
    found = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: str(pair[0])):
        if plugin is None or (name in DEFAULT_PLUGINS and not include_builtin):
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        entry: dict[str, object] = {"name": name, "hooks": hooks}
        if name in distributions:
            entry["package"], entry["version"] = distributions[name]
        found.append(entry)
    return found


load_plugins()
pm.hook.register_commands(cli=cli)
