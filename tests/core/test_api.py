"""The Python API as the issue and the product brief print it, and every Run field."""

import flowledger as fl
import pytest
from flowledger.plugin_api import InputError, Recorder, TransformSpec
from flowledger.store import Ledger

pytestmark = pytest.mark.usefixtures("any_store")  # each test on SQLite, then on PostgreSQL


def test_api_example_verbatim():
    fl.Transform(name="Cell Ranger", version="7.2.0", type="pipeline").save()
    transform = fl.Transform.filter(name="Cell Ranger", version="7.2.0").one()
    run = fl.Run(transform, reference="https://example.org/run/1", reference_type="url").save()
    fl.track(transform=transform)  # a global run context; fl.context.run is that run
    assert fl.context.run.transform == transform
    assert fl.context.run != run
    fl.finish()

    assert fl.Run.filter(reference_type="url").one().reference == "https://example.org/run/1"
    runs = fl.Run.filter(transform=transform).all()
    assert len(runs) == 2
    tracked = next(r for r in runs if r.reference is None)
    assert tracked.status == "completed" and tracked.finished_at >= tracked.started_at


RUN_FIELDS = [
    "id",
    "uid",
    "transform",
    "started_at",
    "finished_at",
    "created_by",
    "json",
    "report",
    "environment",
    "is_consecutive",
    "reference",
    "reference_type",
    "created_at",
    "replicated_output_artifacts",
    "replicated_output_collections",
    "inputs",
    "outputs",
    "initiated_by_run",
    "status",
    "exit_code",
    "error",
]


def test_run_has_every_field(tmp_path):
    transform = fl.Transform(name="wf").save()
    parent = fl.Run(transform, reference="exec-1", reference_type="redun_id", json={"cmd": "redun run"}).save()
    job = fl.Run(fl.Transform(name="wf.step", type="task").save(), initiated_by_run=parent).save()
    for name in RUN_FIELDS:
        getattr(job, name)  # every field is there
    assert len(job.uid) == 16 and isinstance(job.id, int)
    assert job.initiated_by_run == parent and list(parent.children) == [job]
    assert parent.json == {"cmd": "redun run"}
    assert job.created_by.handle and job.created_at and job.started_at
    assert job.status == "started" and job.finished_at is None

    job.status, job.exit_code, job.error = "errored", 3, "exit status 3"
    job.save()
    again = fl.Run.get(job.uid)
    assert (again.status, again.exit_code, again.error) == ("errored", 3, "exit status 3")
    assert again.finished_at is not None


def test_saving_a_transform_twice_returns_the_existing_record():
    first = fl.Transform(name="align", version="1", type="rule").save()
    second = fl.Transform(name="align", version="1", type="rule").save()
    assert first.id == second.id and first.uid == second.uid
    other = fl.Transform(name="align", version="2", type="rule").save()
    assert other.id != first.id and other.uid[:12] == first.uid[:12]  # one family, a new version
    assert fl.Transform.filter(name="align").count() == 2


def test_transform_version_defaults_to_the_source_hash():
    one = fl.Transform(name="count", type="script", source_code="print(1)").save()
    same = fl.Transform(name="count", type="script", source_code="print(1)").save()
    edited = fl.Transform(name="count", type="script", source_code="print(2)").save()
    assert one.id == same.id and one.version == one.hash[:12]
    assert edited.version != one.version


def test_one_names_the_model_and_the_filter():
    with pytest.raises(fl.DoesNotExist, match=r"no Transform matches name = 'nope'"):
        fl.Transform.filter(name="nope").one()
    fl.Transform(name="x", version="1").save()
    fl.Transform(name="x", version="2").save()
    with pytest.raises(fl.MultipleResultsFound, match="several Transform records match name = 'x'"):
        fl.Transform.filter(name="x").one()
    assert fl.Transform.filter(name="nope").one_or_none() is None
    assert fl.Transform.filter(name="x").first().version == "1"


def test_get_by_id_uid_and_uid_prefix():
    transform = fl.Transform(name="t").save()
    assert fl.Transform.get(transform.id) == transform
    assert fl.Transform.get(transform.uid) == transform
    assert fl.Transform.get(transform.uid[:8]) == transform


def test_filters_with_lookups_and_related_fields():
    rule = fl.Transform(name="rule a", type="rule").save()
    fl.Run(rule, reference="1", reference_type="snakemake_job").save()
    fl.Run(fl.Transform(name="other").save()).save()
    assert fl.Run.filter(transform__name="rule a").count() == 1
    assert fl.Run.filter(transform__type__in=["rule", "task"]).count() == 1
    assert fl.Run.filter(reference__isnull=True).count() == 1
    assert fl.Transform.filter(name__startswith="rule").count() == 1
    with pytest.raises(fl.FlowledgerError, match="Run has no field 'colour'"):
        fl.Run.filter(colour="red")


def test_df_returns_a_pandas_frame():
    fl.Transform(name="a").save()
    fl.Transform(name="b").save()
    frame = fl.Transform.df()
    assert list(frame["name"]) == ["a", "b"]


def test_collections_are_versioned_sets_of_artifacts(tmp_path):
    files = []
    for name in "ab":
        path = tmp_path / f"{name}.txt"
        path.write_text(name)
        files.append(path)
    run = fl.Run(fl.Transform(name="collect").save()).save()
    collection = fl.Collection(files, name="samples", run=run).save()
    assert sorted(a.path for a in collection.artifacts) == sorted(map(str, files))
    assert list(run.output_collections) == [collection]
    again = fl.Collection(files, name="samples").save()
    assert again.id == collection.id
    files[0].write_text("changed")
    newer = fl.Collection(files, name="samples").save()
    assert newer.version == 2 and newer.uid[:16] == collection.uid[:16]
    rerun = fl.Run(fl.Transform(name="collect").save()).save()
    same = fl.Collection(files, name="samples", run=rerun).save()
    assert same.id == newer.id and list(rerun.replicated_output_collections) == [newer]


def test_records_cannot_be_mixed_across_ledgers(tmp_path):
    """A Transform read from ledger A cannot start a Run in ledger B (it used to attach to B's transform 1)."""
    fl.Transform(name="in-default").save()  # the default ledger has a transform with id 1 too
    other = Ledger(tmp_path / "other.db")
    Recorder(ledger=other).save_transform(TransformSpec("in-other"))
    from_other = fl.Transform.using(other).filter(name="in-other").one()
    with pytest.raises(fl.FlowledgerError, match=f"Transform .* belongs to ledger {tmp_path / 'other.db'}, not to"):
        fl.Run(from_other).save()
    assert fl.Run.filter().count() == 0 and fl.Run.using(other).filter().count() == 0

    run_in_other = fl.Run(from_other)
    object.__setattr__(run_in_other, "_ledger_ref", other)
    run_in_other.save()  # the same ledger: fine
    (tmp_path / "a.txt").write_text("a")
    in_default = fl.Artifact(tmp_path / "a.txt").save()
    with pytest.raises(fl.FlowledgerError, match=r"Artifact .* belongs to ledger"):
        run_in_other.inputs.add(in_default)
    assert run_in_other.inputs.count() == 0


def test_adding_a_missing_file_is_an_error_naming_it_unless_missing_ok(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = fl.Run(fl.Transform(name="t").save()).save()
    with pytest.raises(
        fl.FlowledgerError, match=r"^data/sample.fastq: no such file or folder, so it cannot be an input"
    ):
        run.inputs.add("data/sample.fastq")
    run.inputs.add("data/sample.fastq", missing_ok=True)
    assert run.refresh().json["missing_inputs"] == [f"{tmp_path}/data/sample.fastq: no such file or folder"]
    assert run.inputs.count() == 0


def test_save_writes_what_changed_and_leaves_the_rest_as_others_left_it():
    """`run.save()` on a saved run writes the fields changed since it was read: a field another handle (or
    process) changed meanwhile is not overwritten with a stale value."""
    transform = fl.Transform(name="step").save()
    run = fl.Run(transform, reference="first").save()
    elsewhere = fl.Run.filter(uid=run.uid).one()
    elsewhere.reference = "set elsewhere"
    elsewhere.save()
    run.status = "completed"
    run.save()
    saved = fl.Run.filter(uid=run.uid).one()
    assert (saved.reference, saved.status) == ("set elsewhere", "completed")
    assert saved.finished_at >= saved.started_at


def test_json_changed_in_place_is_saved_each_time():
    run = fl.Run(fl.Transform(name="step").save()).save()
    run.json = {"a": 1}
    run.save()
    run.json["b"] = 2  # the same dict, changed in place
    run.save()
    assert fl.Run.filter(uid=run.uid).one().json == {"a": 1, "b": 2}
    run.save()  # nothing changed: nothing to write, no error
    run.finished_at = "1999-01-01T00:00:00+00:00"  # only the end changed: its order is still checked
    with pytest.raises(InputError, match=r"finished_at 1999-01-01.* is before started_at"):
        run.save()
