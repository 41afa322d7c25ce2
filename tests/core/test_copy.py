"""Copying runs between ledgers (`flowledger copy`), and pushing a server ledger's spool (`flowledger push`)."""

import flowledger as fl
import pytest
from click.testing import CliRunner
from flowledger.cli import cli
from flowledger.copying import copy_runs, push_spool, spool_path
from flowledger.errors import FlowledgerError
from flowledger.location import ServerLedger, resolve_ledger_path
from flowledger.plugin_api import Recorder, TransformSpec
from flowledger.store import Ledger, open_ledger

TABLES = (
    "users",
    "transforms",
    "runs",
    "artifacts",
    "run_inputs",
    "run_replicated_artifacts",
    "collections",
    "collection_artifacts",
    "run_input_collections",
    "run_replicated_collections",
)


@pytest.fixture
def ledger():
    """Opens ledgers (files or URLs), closed after the test."""
    opened = []

    def open_(db):
        opened.append(open_ledger(resolve_ledger_path(str(db))))
        return opened[-1]

    yield open_
    for each in opened:
        each.close()


def record_project(db, folder, workflow="project", text="ACGT\n", finish=True):
    """raw.txt -> trim -> trimmed.txt -> count -> counts.txt, two jobs of one workflow run; returns their uids."""
    folder.mkdir(parents=True, exist_ok=True)
    raw, trimmed, counts = (folder / name for name in ("raw.txt", "trimmed.txt", "counts.txt"))
    raw.write_text(text)
    trimmed.write_text(text.lower())
    counts.write_text(f"{len(text)}\n")
    recorder = Recorder(db)
    run = recorder.start_run(TransformSpec(name=workflow), reference=f"{workflow}-1", reference_type="snakemake_id")
    trim = recorder.record_job(
        TransformSpec(name="trim", type="rule", source_code="tr A-Z a-z"),
        inputs=[raw],
        outputs=[trimmed],
        initiated_by=run,
    )
    count = recorder.record_job(
        TransformSpec(name="count", type="rule", source_code="wc -c"),
        inputs=[trimmed],
        outputs=[counts],
        initiated_by=run,
    )
    if finish:
        recorder.finish_run(run)
    recorder.close()
    return {"workflow": run, "trim": trim, "count": count, "raw": raw, "trimmed": trimmed, "counts": counts}


def uids(ledger, table):
    return {row["uid"] for row in ledger.query(f"SELECT uid FROM {table}")}


def row_counts(ledger):
    return {table: ledger.query(f"SELECT count(*) AS n FROM {table}")[0]["n"] for table in TABLES}


def lineage_runs(ledger, path):
    """The uids of the runs upstream of the file at `path`, as the target's lineage walks them."""
    graph = fl.lineage.ancestors(fl.Artifact.using(ledger).filter(path=str(path), is_latest=1).one())
    return {run.uid for run in graph.runs.values()}


def latest(ledger, path):
    return [row["uid"] for row in ledger.query("SELECT uid FROM artifacts WHERE path = ? AND is_latest = 1", (path,))]


def test_a_projects_ledger_merges_into_a_teams(tmp_path, ledger):
    team_runs = record_project(tmp_path / "team.db", tmp_path / "team", workflow="team", text="TTTT\n")
    project_runs = record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    before = uids(team, "runs")

    report = copy_runs(project, team)

    assert report.conflicts == []
    assert uids(team, "runs") == before | uids(project, "runs")
    assert uids(project, "artifacts") <= uids(team, "artifacts")
    assert report.summary().startswith("copied 3 runs, 3 artifacts, 1 transform, 0 users, 0 collections, 2 links;")
    # the rules both ran are one transform each; the same person is one user
    assert sorted(row["name"] for row in team.query("SELECT name FROM transforms")) == [
        "count",
        "project",
        "team",
        "trim",
    ]
    assert len(team.query("SELECT id FROM users")) == 1
    # the lineage of the project's result, read in the team's ledger, reaches its raw input
    assert lineage_runs(team, project_runs["counts"]) == {project_runs["trim"], project_runs["count"]}
    assert lineage_runs(team, team_runs["counts"]) == {team_runs["trim"], team_runs["count"]}
    jobs = fl.Run.using(team).filter(initiated_by_run__uid=project_runs["workflow"]).all()
    assert {job.uid for job in jobs} == {project_runs["trim"], project_runs["count"]}


def test_copying_twice_copies_nothing_more(tmp_path, ledger):
    record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    first = copy_runs(project, team)
    counts = row_counts(team)

    again = copy_runs(project, team)

    assert row_counts(team) == counts
    assert sum(again.copied.values()) == sum(again.updated.values()) == 0
    assert sum(again.present.values()) == sum(first.copied.values())
    assert again.summary() == (
        f"copied 0 runs, 0 artifacts, 0 transforms, 0 users, 0 collections, 0 links; "
        f"{sum(first.copied.values())} already there; 0 conflicts"
    )


def test_sqlite_to_postgresql(tmp_path, ledger, postgres_ledgers):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    project, server = ledger(tmp_path / "project.db"), ledger(postgres_ledgers.fresh())

    report = copy_runs(project, server)

    assert report.conflicts == [] and report.copied["runs"] == 3
    assert uids(server, "runs") == uids(project, "runs")
    assert lineage_runs(server, runs["counts"]) == {runs["trim"], runs["count"]}
    assert sum(copy_runs(project, server).copied.values()) == 0


def test_postgresql_to_sqlite(tmp_path, ledger, postgres_ledgers):
    url = postgres_ledgers.fresh()
    runs = record_project(url, tmp_path / "project")
    server, local = ledger(url), ledger(tmp_path / "new" / "copy.db")

    report = copy_runs(server, local)

    assert report.conflicts == [] and report.copied["artifacts"] == 3
    for table in ("runs", "artifacts", "transforms"):
        assert uids(local, table) == uids(server, table)
    assert lineage_runs(local, runs["counts"]) == {runs["trim"], runs["count"]}


def test_a_conflict_is_reported_and_not_overwritten(tmp_path, ledger):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    copy_runs(project, team)
    with team.write() as conn:
        conn.execute("UPDATE runs SET status = 'errored', error = 'disk full' WHERE uid = ?", (runs["count"],))
        conn.execute("UPDATE artifacts SET hash = 'another' WHERE path = ?", (str(runs["counts"]),))
    counts = row_counts(team)

    report = copy_runs(project, team)

    assert len(report.conflicts) == 2
    run_conflict = next(line for line in report.conflicts if line.startswith("runs "))
    assert runs["count"] in run_conflict and "status 'completed' vs 'errored'" in run_conflict
    artifact_conflict = next(line for line in report.conflicts if line.startswith("artifacts "))
    assert "hash" in artifact_conflict
    assert team.query("SELECT status FROM runs WHERE uid = ?", (runs["count"],)) == [{"status": "errored"}]
    assert team.query("SELECT hash FROM artifacts WHERE path = ?", (str(runs["counts"]),)) == [{"hash": "another"}]
    assert row_counts(team) == counts


def test_a_run_that_finished_since_is_brought_forward(tmp_path, ledger):
    """A run the target saw start (a server, before it became unreachable) takes the final status it reached."""
    runs = record_project(tmp_path / "project.db", tmp_path / "project", finish=False)
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    copy_runs(project, team)
    Recorder(ledger=project).finish_run(runs["workflow"], status="errored", error="count failed")

    report = copy_runs(project, team)

    assert report.conflicts == [] and report.updated["runs"] == 1
    [row] = team.query("SELECT status, error, finished_at FROM runs WHERE uid = ?", (runs["workflow"],))
    assert row["status"] == "errored" and row["error"] == "count failed" and row["finished_at"]
    assert copy_runs(team, project).conflicts == []  # and the other way, the source already knows it


def test_new_versions_of_a_transform_in_both_ledgers_are_both_kept(tmp_path, ledger):
    """After a copy, both ledgers record a new version of the same rule: each numbers it as its second."""
    record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    copy_runs(project, team)
    for db, code in ((tmp_path / "project.db", "tr a-z A-Z"), (tmp_path / "team.db", "sed s/x/y/")):
        Recorder(db).record_job(TransformSpec(name="trim", type="rule", source_code=code))

    report = copy_runs(project, team)

    assert report.conflicts == [] and report.copied == {**report.copied, "runs": 1, "transforms": 1}
    trims = team.query("SELECT uid, hash FROM transforms WHERE name = 'trim'")
    assert len(trims) == 3 and len({row["uid"] for row in trims}) == 3
    assert {row["hash"] for row in project.query("SELECT hash FROM transforms")} <= {
        row["hash"] for row in team.query("SELECT hash FROM transforms")
    }


def test_chosen_runs_bring_their_parents_and_what_they_need(tmp_path, ledger):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")

    report = copy_runs(project, team, [runs["count"][:8]])  # a unique prefix

    assert report.conflicts == []
    assert uids(team, "runs") == {runs["workflow"], runs["count"]}
    assert {row["name"] for row in team.query("SELECT name FROM transforms")} == {"project", "count"}
    paths = {row["path"]: row["run_id"] for row in team.query("SELECT path, run_id FROM artifacts")}
    assert set(paths) == {str(runs["trimmed"]), str(runs["counts"])}
    assert paths[str(runs["trimmed"])] is None  # its maker, trim, is not in the team's ledger
    assert lineage_runs(team, runs["counts"]) == {runs["count"]}

    copy_runs(project, team, [runs["trim"]])  # the maker arrives: the lineage is whole

    assert lineage_runs(team, runs["counts"]) == {runs["trim"], runs["count"]}


def test_a_workflow_run_comes_with_its_jobs(tmp_path, ledger):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    copy_runs(project, team, [runs["workflow"]])
    assert uids(team, "runs") == {runs["workflow"], runs["trim"], runs["count"]}
    with pytest.raises(FlowledgerError, match="no run with uid 'nosuchrun'"):
        copy_runs(project, team, ["nosuchrun"])


def test_copies_in_many_transactions_keep_the_lineage_whole(tmp_path, ledger, monkeypatch):
    """One run per transaction, and a file's reader recorded before its maker: the maker still gets it."""
    monkeypatch.setattr("flowledger.copying.BATCH", 1)
    trimmed, counts = tmp_path / "trimmed.txt", tmp_path / "counts.txt"
    trimmed.write_text("acgt\n")
    counts.write_text("5\n")
    (tmp_path / "raw.txt").write_text("ACGT\n")
    recorder = Recorder(tmp_path / "project.db")
    count = recorder.record_job(TransformSpec(name="count", type="rule"), inputs=[trimmed], outputs=[counts])
    trim = recorder.record_job(
        TransformSpec(name="trim", type="rule"), inputs=[tmp_path / "raw.txt"], outputs=[trimmed]
    )
    recorder.close()
    project, team = ledger(tmp_path / "project.db"), ledger(tmp_path / "team.db")
    seen = []

    report = copy_runs(project, team, progress=lambda done, total: seen.append((done, total)))

    assert report.conflicts == [] and seen == [(1, 2), (2, 2)]
    assert lineage_runs(team, counts) == lineage_runs(project, counts) == {count, trim}


def write_versions(db, path, texts):
    """One job per text, each writing it to `path` (a new version each); returns the job uids."""
    recorder = Recorder(db)
    jobs = []
    for text in texts:
        path.write_text(text)
        jobs.append(recorder.record_job(TransformSpec(name="write", type="rule", source_code="echo"), outputs=[path]))
    recorder.close()
    return jobs


def test_copied_versions_keep_one_latest_version_per_path(tmp_path, ledger):
    shared = tmp_path / "shared.txt"
    write_versions(tmp_path / "team.db", shared, ["team's\n"])  # the oldest record of the file
    first, second = write_versions(tmp_path / "project.db", shared, ["one\n", "two\n"])
    write_versions(tmp_path / "late.db", shared, ["late\n"])  # the newest
    project, team, late = (ledger(tmp_path / f"{name}.db") for name in ("project", "team", "late"))
    newest_of_project = latest(project, str(shared))

    copy_runs(project, team)

    assert latest(team, str(shared)) == newest_of_project
    assert team.query("SELECT count(*) AS n FROM artifacts WHERE path = ?", (str(shared),)) == [{"n": 3}]

    theirs = latest(late, str(shared))
    copy_runs(project, late, [first])  # an older version than the one the target has

    assert latest(late, str(shared)) == theirs

    fresh = ledger(tmp_path / "fresh.db")
    copy_runs(project, fresh, [second])
    copy_runs(project, fresh, [first])  # the older version comes last

    assert latest(fresh, str(shared)) == newest_of_project

    write_versions(tmp_path / "team.db", shared, ["three\n"])  # recording goes on after the copy
    [newest] = latest(team, str(shared))
    assert newest not in uids(project, "artifacts")
    assert fl.Artifact.using(team).filter(path=str(shared), is_latest=1).one().size == len("three\n")


def test_collections_and_files_of_no_run_are_copied_too(tmp_path, ledger, ledger_path):
    files = []
    for name in ("a.txt", "b.txt"):
        files.append(tmp_path / name)
        files[-1].write_text(name)
    run = fl.Run(fl.Transform(name="collect").save()).save()
    collection = fl.Collection(files, name="samples", run=run).save()
    (tmp_path / "loose.txt").write_text("registered by hand")
    loose = fl.Artifact(tmp_path / "loose.txt").save()
    source, team = ledger(ledger_path), ledger(tmp_path / "team.db")

    report = copy_runs(source, team)

    assert report.conflicts == [] and report.copied["collections"] == 1
    copied = fl.Collection.using(team).filter(uid=collection.uid).one()
    assert sorted(a.path for a in copied.artifacts) == sorted(map(str, files))
    assert copied.run.uid == run.uid
    assert loose.uid in uids(team, "artifacts")


def invoke(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_the_copy_command_prints_a_summary(tmp_path):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    target = tmp_path / "new.db"

    first = invoke("copy", "--from", tmp_path / "project.db", "--to", target)
    again = invoke("copy", "--from", tmp_path / "project.db", "--to", target, runs["count"])

    assert first.exit_code == 0, first.output
    assert (
        first.stdout
        == "copied 3 runs, 3 artifacts, 3 transforms, 1 user, 0 collections, 2 links; 0 already there; 0 conflicts\n"
    )
    assert again.exit_code == 0 and again.stdout.startswith("copied 0 runs, 0 artifacts")


def test_the_copy_command_lists_conflicts_and_fails(tmp_path, ledger):
    runs = record_project(tmp_path / "project.db", tmp_path / "project")
    invoke("copy", "--from", tmp_path / "project.db", "--to", tmp_path / "team.db")
    with ledger(tmp_path / "team.db").write() as conn:
        conn.execute("UPDATE runs SET reference = 'edited' WHERE uid = ?", (runs["workflow"],))

    result = invoke("copy", "--from", tmp_path / "project.db", "--to", tmp_path / "team.db")

    assert result.exit_code == 1
    summary, conflict = result.stdout.splitlines()
    assert summary.endswith("; 1 conflict")
    assert conflict.startswith(f"conflict: runs {runs['workflow']} differs") and "reference" in conflict


def test_the_copy_command_errors_are_one_line(tmp_path):
    record_project(tmp_path / "project.db", tmp_path / "project")
    missing = tmp_path / "none.db"

    no_source = invoke("copy", "--from", missing, "--to", tmp_path / "team.db")
    bad_uid = invoke("copy", "--from", tmp_path / "project.db", "--to", tmp_path / "team.db", "nosuchrun")

    assert no_source.exit_code == 1
    assert no_source.stderr == f"Error: no ledger at {missing}: nothing to copy from\n"
    assert not missing.exists() and not (tmp_path / "team.db").exists()
    assert bad_uid.exit_code == 1
    assert bad_uid.stderr == f"Error: no run with uid 'nosuchrun' in {tmp_path / 'project.db'}\n"


@pytest.fixture
def server_with_spool(tmp_path, monkeypatch, postgres_ledgers):
    """A server ledger whose local spool holds a workflow run recorded while the server was away."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = postgres_ledgers.fresh()
    spool = spool_path(ServerLedger(url))
    runs = record_project(spool, tmp_path / "offline")
    return url, spool, runs


def test_push_sends_the_spool_once(server_with_spool, ledger):
    url, spool, runs = server_with_spool
    assert spool.parent == ServerLedger(url).parent

    pushed = invoke("push", "--db", url)
    again = invoke("push", "--db", url)

    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.startswith("copied 3 runs, 3 artifacts")
    assert not spool.exists() and not list(spool.parent.glob("spool.db*"))
    assert {runs["workflow"], runs["trim"], runs["count"]} == uids(ledger(url), "runs")
    assert again.exit_code == 0 and again.stdout.startswith("nothing to push")


def test_push_after_a_crash_between_copy_and_removal(server_with_spool, ledger):
    url, spool, _ = server_with_spool
    server, offline = ledger(url), open_ledger(spool)
    first = copy_runs(offline, server)  # a push copied, then its process died
    offline.close()

    report = push_spool(Ledger(spool), server)

    assert first.copied["runs"] == 3 and report.copied["runs"] == 0 and report.conflicts == []
    assert not spool.exists()


def test_push_keeps_a_spool_with_conflicts(tmp_path, ledger):
    runs = record_project(tmp_path / "spool.db", tmp_path / "offline")
    target = ledger(tmp_path / "server.db")
    copy_runs(ledger(tmp_path / "spool.db"), target)
    with target.write() as conn:
        conn.execute("UPDATE runs SET started_at = '2000-01-01T00:00:00+00:00' WHERE uid = ?", (runs["trim"],))

    report = push_spool(Ledger(tmp_path / "spool.db"), target)

    assert len(report.conflicts) == 1 and "started_at" in report.conflicts[0]
    assert (tmp_path / "spool.db").exists()


def test_push_needs_a_server_ledger(tmp_path):
    result = invoke("push", "--db", tmp_path / "local.db")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {tmp_path / 'local.db'} is a ledger file: push sends the spool")
