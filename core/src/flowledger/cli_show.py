"""`flowledger show`: one run (its fields, a workflow run's summary, inputs, outputs, jobs) or one recorded
file (its versions and the run that made each)."""

import json

import click

from . import clitools, listing, render, verify
from .clitools import Lines, db_option, emit_json, job_name, limit_value, utc_option
from .errors import FlowledgerError
from .listing import RunRow
from .models import Artifact, Run
from .render import Column, Table, coloured, when
from .store import existing_ledger


@click.command()
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
    _show_run(ledger, run, limit_value(jobs_shown), as_json, utc)


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
        emit_json(data)
        return
    out, tty = Lines(), clitools.is_terminal()
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
            for line in table.lines([c.uid, c.state, render.duration(c.seconds), *job_name(c)] for c in listed):
                fields.item(line)


JOB_COLUMNS = [
    Column("uid"),
    Column("status", style=coloured),
    Column("duration"),
    Column("transform"),
    Column("details"),
]
JOB_NARROW = [("details", 16), ("transform", 12), ("duration", 0), ("details", 0), ("status", 6)]


def _show_summary(fields: Fields, summary: listing.Summary, utc: bool) -> None:
    total = sum(summary.jobs.values())
    fields.field("jobs", f"{total}: " + ", ".join(f"{n} {state}" for state, n in summary.jobs.items()))
    made = f"{summary.files} files, {render.size(summary.bytes)}"
    if summary.replicated:
        made += f" ({summary.replicated} more reproduced: the same bytes as before)"
    fields.field("made", made)
    if summary.slowest:
        lines = [
            f"{render.duration(r.seconds)}  {r.uid}  {' '.join(filter(None, job_name(r)))}" for r in summary.slowest
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
        emit_json(data)
        return
    out, tty = Lines(), clitools.is_terminal()
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
    name = " ".join(filter(None, job_name(row)))
    return f"{row.uid} {name} [{row.state}], {when(row.started_at, utc)}"


def _version_line(artifact: Artifact, utc: bool, this: bool) -> str:
    latest = "latest" if artifact.is_latest else ""
    mark = "  <- this one" if this else ""
    digest = f"{artifact.hash_type}:{artifact.hash[:12]}" if artifact.hash else artifact.kind
    return f"v{artifact.version}  {latest:6}  {when(artifact.created_at, utc)}  {digest}  {artifact.uid}{mark}"


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
