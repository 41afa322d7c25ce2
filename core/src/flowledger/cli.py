"""The `flowledger` command. Plugins add sub-commands through the `register_commands` hook.

Listings stream: one query, rows written as they are read (`listing.py`). Piped output is plain text
(tab-separated for listings, nothing padded); a terminal gets aligned columns that fit its width and
colours. Times are in the user's time zone, labelled (`--utc` for UTC); JSON keeps the ledger's UTC times.
"""

import functools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from . import lineage, listing, render, verify
from .clitools import DB_HELP, db_option
from .errors import FlowledgerError
from .listing import RunQuery, RunRow
from .location import ENV_VAR, LEDGER_NAME, PROJECT_DIR, ServerLedger, resolve_ledger_path
from .models import Artifact, Run
from .plugins import DEFAULT_PLUGINS, distributions, load_plugins, pm
from .render import Column, Table, coloured, when
from .store import existing_ledger, open_ledger

UTC_HELP = "Times in UTC (default: your local time zone). May also be given before the sub-command."
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


def utc_option(command):
    """`--utc` on a sub-command, or on `flowledger` itself."""

    @click.option("--utc", "utc", is_flag=True, default=None, help=UTC_HELP)
    @functools.wraps(command)
    def with_utc(*args, utc=None, **kwargs):
        if not utc:
            utc = bool(click.get_current_context().find_root().params.get("utc"))
        return command(*args, utc=utc, **kwargs)

    return with_utc


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


# ---- output --------------------------------------------------------------------------------------------
def _tty() -> bool:
    return sys.stdout.isatty()


class Lines:
    """Lines to stdout as they come: the first one at once, then in the stream's buffer (not one system
    call per line, as click.echo's flush would make)."""

    def __init__(self):
        self.stream = sys.stdout
        self.written = 0

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.written += 1
        if self.written == 1:
            self.stream.flush()

    def all(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)
        self.stream.flush()


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


def _limit(value: int) -> int | None:
    if value < 0:
        raise click.BadParameter("give a number of rows, or 0 for no limit", param_hint="--limit")
    return value or None


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
    most = _limit(limit)
    shown = Limited(listing.runs(ledger, query, None if most is None else most + 1), most)
    if as_json:
        _stream_json(row.to_dict() for row in shown)
    else:
        tty = _tty()
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
        _run_details(row),
    ]


def _run_details(row: RunRow) -> str:
    detail = render.job_detail(row.wildcards, row.tag)
    if row.error and row.state in ("errored", "aborted"):
        more = f"error: {row.error_line}"
    elif row.initiated_by is None and row.reference:
        more = f"{row.reference_type}={row.reference}"
    else:
        return detail
    return f"{detail}; {more}" if detail else more


@cli.command()
@click.argument("target", metavar="RUN_UID|PATH|PATH@vN|ARTIFACT_UID")
@click.option("--code", is_flag=True, help="Print the run's code (its transform's source, else the command it ran).")
@click.option("--jobs", "jobs_shown", default=20, show_default=True, help="Jobs of a workflow run to list; 0: all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@utc_option
@db_option
def show(target, code, jobs_shown, as_json, utc, db):
    """Show one run (fields, a workflow run's summary, inputs, outputs, jobs) or one recorded file (its
    versions, the run that made it, the runs that read it, whether it changed on disk).

    A unique uid prefix is enough. A file is named by its path (its latest version), PATH@vN or its uid.
    """
    ledger = existing_ledger(db)
    run = listing.find_run(ledger, target)
    if run is None:
        artifact = listing.find_artifact(ledger, target)
        if artifact is None:
            raise FlowledgerError(
                f"no run with uid {target!r}, and no recorded file or artifact uid of that name, in {ledger.path}"
            )
        if code:
            raise FlowledgerError(f"{target} is a file, not a run: --code shows a run's code")
        _show_artifact(ledger, artifact, as_json, utc)
        return
    if code:
        click.echo(_code_of(run), nl=False)
        return
    _show_run(ledger, run, _limit(jobs_shown), as_json, utc)


def _code_of(run: Run) -> str:
    source = run.transform.source_code
    if not source:
        data = run.json if isinstance(run.json, dict) else {}
        source = data.get("shellcmd") or data.get("script") or data.get("command_line")
    if not source:
        raise FlowledgerError(f"no code was recorded for run {run.uid} ({run.transform.type} {run.transform.name})")
    return source if source.endswith("\n") else source + "\n"


class Fields:
    """`key  value` lines: keys aligned and bold in a terminal, `key: value` when piped."""

    WIDTH = 13

    def __init__(self, out: Lines, tty: bool):
        self.out, self.tty = out, tty

    def field(self, key: str, value, *more: str) -> None:
        if value is None or value == "":
            return
        text = str(value)
        if self.tty:
            self.out.write(click.style(key.ljust(self.WIDTH), bold=True) + text)
            for line in more:
                self.out.write(" " * self.WIDTH + line)
        else:
            self.out.write(f"{key}: {text}")
            for line in more:
                self.out.write(f"  {line}")

    def heading(self, text: str) -> None:
        self.out.write(click.style(text, bold=True) if self.tty else text)

    def item(self, text: str) -> None:
        self.out.write(f"  {text}")


def _show_run(ledger, run: Run, jobs_shown: int | None, as_json: bool, utc: bool) -> None:
    summary = listing.summary(ledger, run)
    if as_json:
        data = _run_detail(run)
        data["summary"] = summary.to_dict() if summary else None
        _emit_json(data)
        return
    out, tty = Lines(), _tty()
    fields = Fields(out, tty)
    transform = run.transform
    row = next(listing.runs_where(ledger, "r.id = ?", [run.id]))
    fields.field("run", run.uid)
    version = f" (version {transform.version})" if transform.version else ""
    fields.field("transform", f"{transform.type} {transform.name}{version}")
    fields.field("details", render.job_detail(row.wildcards, row.tag))
    status = row.state + (f", exit code {run.exit_code}" if run.exit_code is not None else "")
    fields.field("status", coloured(status) if tty else status)
    fields.field("started", when(run.started_at, utc))
    fields.field("finished", when(run.finished_at, utc))
    fields.field("duration", render.duration(row.seconds))
    if run.reference:
        fields.field("reference", f"{run.reference_type}={run.reference}")
    if run.initiated_by_run_id is not None:
        parent = next(listing.runs_where(ledger, "r.id = ?", [run.initiated_by_run_id]))
        fields.field("part of", f"{parent.uid} ({parent.transform_type} {parent.transform})")
    fields.field("created by", run.created_by.handle if run.created_by else None)
    fields.field("environment", run.environment.path if run.environment else None)
    fields.field("report", run.report.path if run.report else None)
    if run.error:
        first, *rest = run.error.rstrip().splitlines() or [""]
        fields.field("error", first, *rest[:20], *(["..."] if len(rest) > 20 else []))
    data = run.json if isinstance(run.json, dict) else {}
    for key, value in data.items():
        if key in ("wildcards", "tag") or value in (None, "", [], {}):
            continue
        shown = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
        first, *rest = shown.splitlines() or [""]
        fields.field(f"json.{key}" if not tty else key, first, *rest)
    if summary:
        _show_summary(fields, summary, utc)
    hidden = {a for a in (run._row.get("report_id"), run._row.get("environment_id")) if a is not None}
    for title, query in (
        ("inputs", run.inputs),
        ("outputs", run.outputs),
        ("reproduced outputs (the same bytes an earlier run made)", run.replicated_output_artifacts),
    ):
        found = [a for a in query.order_by("path").all() if a.id not in hidden]
        if not found and title.startswith("reproduced"):
            continue
        fields.heading(f"{title} ({len(found)})")
        for artifact in found:
            fields.item(render.artifact_label(artifact))
    if summary or jobs_shown is None or jobs_shown > 0:
        total = sum(summary.jobs.values()) if summary else 0
        if total:
            listed = list(listing.children(ledger, run, jobs_shown))
            more = (
                f"; the first {len(listed)}, all with: flowledger runs --parent {run.uid}"
                if total > len(listed)
                else ""
            )
            fields.heading(f"jobs ({total}{more})")
            table = Table(JOB_COLUMNS, tty=tty, width=render.terminal_width() - 2, narrow=JOB_NARROW)
            for line in table.lines([c.uid, c.state, render.duration(c.seconds), *_job_name(c)] for c in listed):
                fields.item(line)


JOB_COLUMNS = [
    Column("uid"),
    Column("status", style=coloured),
    Column("duration"),
    Column("transform"),
    Column("details"),
]
JOB_NARROW = [("details", 16), ("transform", 12), ("duration", 0), ("details", 0), ("status", 6)]


def _job_name(row: RunRow) -> list[str]:
    return [
        render.transform_text(row.transform_type, row.transform, row.transform_version, row.explicit_version),
        _run_details(row),
    ]


def _show_summary(fields: Fields, summary: listing.Summary, utc: bool) -> None:
    total = sum(summary.jobs.values())
    fields.field("jobs", f"{total}: " + ", ".join(f"{n} {state}" for state, n in summary.jobs.items()))
    made = f"{summary.files} files, {render.size(summary.bytes)}"
    if summary.replicated:
        made += f" ({summary.replicated} more reproduced: the same bytes as before)"
    fields.field("made", made)
    if summary.slowest:
        lines = [
            f"{render.duration(r.seconds)}  {r.uid}  {' '.join(filter(None, _job_name(r)))}" for r in summary.slowest
        ]
        fields.field("slowest jobs", lines[0], *lines[1:])


def _show_artifact(ledger, artifact: Artifact, as_json: bool, utc: bool) -> None:
    checked = verify.check([artifact], ledger)
    on_disk = checked[0] if checked else None
    versions = list(artifact.versions)[::-1]
    made_by = next(listing.runs_where(ledger, "r.id = ?", [artifact.run_id]), None) if artifact.run_id else None
    read_clause = "r.id IN (SELECT run_id FROM run_inputs WHERE artifact_id = ?)"
    copy_clause = "r.id IN (SELECT run_id FROM run_replicated_artifacts WHERE artifact_id = ?)"
    read_by = list(listing.runs_where(ledger, read_clause, [artifact.id], 21))
    reproduced_by = list(listing.runs_where(ledger, copy_clause, [artifact.id], 21))
    if as_json:
        data = _artifact_summary(artifact)
        data.update(
            {
                "user_path": artifact.user_path,
                "state": artifact.state or "present",
                "on_disk": on_disk.state.value if on_disk else None,
                "on_disk_detail": on_disk.detail if on_disk and on_disk.detail else None,
                "created_at": artifact.created_at,
                "is_latest": bool(artifact.is_latest),
                "made_by": made_by.to_dict() if made_by else None,
                "read_by": [r.to_dict() for r in listing.runs_where(ledger, read_clause, [artifact.id])],
                "replicated_by": [r.to_dict() for r in listing.runs_where(ledger, copy_clause, [artifact.id])],
                "versions": [_artifact_summary(v) | {"created_at": v.created_at} for v in versions],
            }
        )
        _emit_json(data)
        return
    out, tty = Lines(), _tty()
    fields = Fields(out, tty)
    fields.field(artifact.kind, artifact.path)
    if artifact.user_path:
        fields.field("recorded as", artifact.user_path)
    fields.field("uid", artifact.uid)
    latest = versions[0].version if versions else artifact.version
    fields.field("version", f"{artifact.version}" + (" (the latest)" if artifact.is_latest else f" of {latest}"))
    if artifact.hash:
        fields.field("hash", f"{artifact.hash_type}:{artifact.hash}")
    fields.field("size", render.size(artifact.size))
    fields.field("recorded", when(artifact.created_at, utc))
    if artifact.state == "deleted":
        fields.field("state", "deleted (the file was gone when it was recorded)")
    if on_disk is not None:
        text = on_disk.state.value + (f" ({on_disk.detail})" if on_disk.detail else "")
        fields.field("on disk now", coloured(text) if tty and on_disk.differs else text)
    fields.field("made by", _run_line(made_by, utc) if made_by else "no recorded run (a raw input)")
    if reproduced_by:
        lines = [_run_line(r, utc) for r in reproduced_by[:20]] + (["..."] if len(reproduced_by) > 20 else [])
        fields.field("reproduced by", lines[0], *lines[1:])
    if read_by:
        lines = [_run_line(r, utc) for r in read_by[:20]] + (["..."] if len(read_by) > 20 else [])
        fields.field("read by", lines[0], *lines[1:])
    if len(versions) > 1:
        lines = [_version_line(v, utc, v.id == artifact.id) for v in versions]
        fields.field("versions", lines[0], *lines[1:])


def _run_line(row: RunRow, utc: bool) -> str:
    name = " ".join(filter(None, _job_name(row)))
    return f"{row.uid} {name} [{row.state}], {when(row.started_at, utc)}"


def _version_line(artifact: Artifact, utc: bool, this: bool) -> str:
    latest = "latest" if artifact.is_latest else ""
    mark = "  <- this one" if this else ""
    digest = f"{artifact.hash_type}:{artifact.hash[:12]}" if artifact.hash else artifact.kind
    return f"v{artifact.version}  {latest:6}  {when(artifact.created_at, utc)}  {digest}  {artifact.uid}{mark}"


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
        _emit_json(data)
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
        origin = f"made by run {maker.uid} ({' '.join(filter(None, _job_name(maker)))}) {when(maker.started_at, utc)}"
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
    most = _limit(limit)
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
        Lines().all(_version_lines(shown, utc, _tty()))
    else:
        table = Table(ARTIFACT_COLUMNS, tty=_tty(), width=render.terminal_width(), narrow=ARTIFACT_NARROW)
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
    tty = _tty()
    out = Lines()
    for checked in verify.each(chosen, ledger):
        results.append(checked)
        if not as_json and (checked.differs or show_all):
            out.write(_checked_line(checked, tty))
    counts = verify.counts(results)
    if as_json:
        _emit_json(
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
    _emit_json(installed_plugins(include_builtin))


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
    ledger = run._store
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
            "children": [row.to_dict() for row in listing.children(ledger, run)],
        }
    )
    return data


load_plugins()
pm.hook.register_commands(cli=cli)
