"""OpenLineage: RunEvents for `flowledger export --format openlineage`, and sent live as runs are recorded.

Each run (a workflow run and each of its job runs) is one START and, once it has ended, one COMPLETE,
FAIL or ABORT event, built with openlineage-python's classes. Jobs are named by the spec's rules: the
namespace is the workflow manager on its host (`snakemake://node1`), the name the workflow's, and
`<workflow>.<rule|task|process>` for its steps. Files are datasets in namespace `file://<host>` named by
their absolute path, versioned by their content hash. The run id is a UUID derived from the run's start
and its ledger uid, so an exported event and a live one of the same run agree.

Live emission is configured the way every OpenLineage integration is (`OPENLINEAGE_URL`,
`OPENLINEAGE_CONFIG`, `openlineage.yml`, `OPENLINEAGE__TRANSPORT__*`): only then does this module listen to
`run_started` / `run_finished` (`LIVE`), so an unconfigured process keeps its recording hot path free.
openlineage-python is imported on first use, never by `import flowledger`.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from .. import __version__
from ..hookspecs import hookimpl
from ..warn import WarnOnce

if TYPE_CHECKING:  # (`exporting` is imported when something is exported: every recording process loads this)
    from ..exporting import Artifact, Export, Run

PRODUCER = f"https://github.com/example/flowledger/tree/{__version__}/core"  # the reference samples' producer
FACETS = "https://example.org/flowledger/spec/facets/1-0-0/"  # where flowledger's own facet schemas live
END_STATES = {"completed": "COMPLETE", "cached": "COMPLETE", "errored": "FAIL", "aborted": "ABORT"}
PAUSE_S = 60.0  # after a failed send, drop events this long: an unreachable endpoint must not stall recording


def write(export: Export, out: str | os.PathLike | IO[str] | None, *, progress: bool = False) -> str | None:
    """JSON Lines, one event per line, parents' events first: ready for `curl` or any consumer."""
    import attr

    events = Events(export)
    memo: dict[int, Any] = {}
    from ..exporting import output, progress_bar

    with output(out) as (handle, text), progress_bar(len(export.runs), "OpenLineage", progress) as advance:
        for run in export.runs.values():
            with attr.validators.disabled():  # the events are checked against the schemas in the tests
                built = events.of(run)
            for event in built:
                handle.write(to_json(event, memo))
                handle.write("\n")
            advance()
        return text()


class Events:
    """Builds the RunEvents of the runs of one `Export`, sharing the jobs and datasets they have in common."""

    def __init__(self, export: Export):
        self.export = export
        self.ol = _classes()
        self._jobs: dict[tuple[str, int], Any] = {}
        self._datasets: dict[tuple[int, str], Any] = {}
        self._engines: dict[tuple[str, str], Any] = {}
        self._parents: dict[int, Any] = {}

    def of(self, run: Run) -> list[Any]:
        """START, and the end event when the run has ended (a run in progress has only its START)."""
        ol, export = self.ol, self.export
        job = self.job(run)
        facets: dict[str, Any] = {
            "processing_engine": self.engine(run),
            "flowledger_status": ol.Status(
                uid=run.uid, status=run.status, cached=run.status == "cached", producer=PRODUCER
            ),
        }
        if run.reference:
            facets["flowledger_reference"] = ol.Reference(
                reference=run.reference, referenceType=run.reference_type or "", producer=PRODUCER
            )
        parent = export.parent(run)
        if parent is not None:
            facets["parent"] = self.parent(parent)
        inputs = [self.dataset(export.artifacts[a], "input", run) for a in run.inputs]
        started = ol.Run(runId=run_id(run.uid, run.started_at), facets=facets)
        start = ol.RunEvent(
            eventType=ol.RunState.START,
            eventTime=_time(run.started_at),
            run=started,
            job=job,
            inputs=inputs,
            outputs=[],
            producer=PRODUCER,
        )
        state = END_STATES.get(run.status)
        if state is None:
            return [start]
        ended = started
        if state != "COMPLETE":
            end_facets = dict(facets)
            message = run.error or f"the run {run.status}" + (
                f" with exit code {run.exit_code}" if run.exit_code else ""
            )
            end_facets["errorMessage"] = ol.facets.error_message_run.ErrorMessageRunFacet(
                message=message, programmingLanguage=language(run, export), producer=PRODUCER
            )
            ended = ol.Run(runId=started.runId, facets=end_facets)
        made = [self.dataset(export.artifacts[a], "output", run) for a in run.outputs]
        made += [self.dataset(export.artifacts[a], "replicated", run) for a in run.replicated]
        end = ol.RunEvent(
            eventType=getattr(ol.RunState, state),
            eventTime=_time(run.finished_at or run.started_at),
            run=ended,
            job=job,
            inputs=inputs,
            outputs=made,
            producer=PRODUCER,
        )
        return [start, end]

    def job(self, run: Run) -> Any:
        root, namespace = self.export.root(run), self.namespace(run)
        key = (namespace, run.transform.id if root is run else -run.transform.id)
        if key not in self._jobs:
            f = self.ol.facets
            kind = "DAG" if run is root and run.transform.type == "pipeline" else "TASK" if run is not root else "JOB"
            facets: dict[str, Any] = {
                "jobType": f.job_type_job.JobTypeJobFacet(
                    processingType="BATCH",
                    integration=self.export.manager(run).name.upper(),
                    jobType=kind,
                    producer=PRODUCER,
                )
            }
            if run.transform.source_code:
                facets["sourceCode"] = f.source_code_job.SourceCodeJobFacet(
                    language=language(run, self.export), sourceCode=run.transform.source_code, producer=PRODUCER
                )
            self._jobs[key] = self.ol.Job(namespace=namespace, name=job_name(self.export, run), facets=facets)
        return self._jobs[key]

    def namespace(self, run: Run) -> str:
        return f"{self.export.manager(run).name}://{self.export.host(run)}"

    def engine(self, run: Run) -> Any:
        manager = self.export.manager(run)
        key = (manager.name, manager.version)
        if key not in self._engines:
            self._engines[key] = self.ol.facets.processing_engine_run.ProcessingEngineRunFacet(
                version=manager.version, name=manager.name, openlineageAdapterVersion=__version__, producer=PRODUCER
            )
        return self._engines[key]

    def parent(self, parent: Run) -> Any:
        """The `parent` facet of `parent`'s job runs: one object for all of them (serialized once)."""
        if parent.id in self._parents:
            return self._parents[parent.id]
        p, root = self.ol.facets.parent_run, self.export.root(parent)
        self._parents[parent.id] = p.ParentRunFacet(
            run=p.Run(runId=run_id(parent.uid, parent.started_at)),
            job=p.Job(namespace=self.namespace(parent), name=job_name(self.export, parent)),
            root=p.Root(
                run=p.RootRun(runId=run_id(root.uid, root.started_at)),
                job=p.RootJob(namespace=self.namespace(root), name=job_name(self.export, root)),
            ),
            producer=PRODUCER,
        )
        return self._parents[parent.id]

    def dataset(self, artifact: Artifact, role: str, run: Run) -> Any:
        key = (artifact.id, role)
        if key not in self._datasets:
            f = self.ol.facets
            namespace = f"file://{artifact.storage_host}" if artifact.storage_host else "file"
            facets: dict[str, Any] = {
                "dataSource": f.datasource_dataset.DatasourceDatasetFacet(
                    name=namespace, uri=namespace, producer=PRODUCER
                )
            }
            if artifact.hash:
                facets["version"] = f.dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=artifact.content_id, producer=PRODUCER
                )
            cls = self.ol.InputDataset if role == "input" else self.ol.OutputDataset
            if role == "output":
                change = f.lifecycle_state_change_dataset.LifecycleStateChange
                state = change.CREATE if artifact.version == 1 else change.OVERWRITE
                facets["lifecycleStateChange"] = f.lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
                    lifecycleStateChange=state, producer=PRODUCER
                )
            self._datasets[key] = cls(namespace=namespace, name=artifact.path, facets=facets)
        return self._datasets[key]


def job_name(export: Export, run: Run) -> str:
    """The workflow's name for a workflow run; `<workflow>.<step>` for a job run."""
    root = export.root(run)
    if run is root:
        return run.transform.name
    name, workflow = run.transform.name, root.transform.name
    return name if name.startswith((f"{workflow}.", f"{workflow}:")) else f"{workflow}.{name}"


@functools.lru_cache(maxsize=1 << 16)
def run_id(uid: str, started_at: str | None) -> str:
    """A UUID that only this run has, the same whenever it is computed (the spec's advice, as Airflow does)."""
    from datetime import datetime

    from openlineage.client.uuid import generate_static_uuid

    started = datetime.fromisoformat(started_at) if started_at else datetime.fromtimestamp(0).astimezone()
    return str(generate_static_uuid(started, f"flowledger.{uid}".encode()))


SUFFIX_LANGUAGES = {".py": "python", ".ipynb": "python", ".r": "R", ".rmd": "R", ".jl": "julia", ".sh": "bash"}


def language(run: Run, export: Export) -> str:
    """The language of a run's code: of its script when it names one, else what its manager runs."""
    transform, manager = run.transform, export.manager(run).name
    suffix = os.path.splitext(transform.reference or "")[1].lower()
    if transform.reference_type in ("script", "notebook") and suffix in SUFFIX_LANGUAGES:
        return SUFFIX_LANGUAGES[suffix]
    if manager in ("snakemake", "nextflow"):
        if transform.type == "pipeline":
            return manager
        return "python" if "(run)" in (transform.description or "") else "bash"
    return "python" if manager in ("redun", "python") else "unknown"


def to_json(event: Any, memo: dict[int, Any]) -> str:
    """What `Serde.to_json(event)` gives, faster: the jobs and datasets events share are converted once, and
    attrs objects are walked directly (Serde's `asdict` + `remove_nulls_and_enums` is most of an export's time)."""

    def part(obj: Any) -> Any:
        hit = memo.get(id(obj))
        if hit is None:
            hit = memo[id(obj)] = (obj, plain(obj))  # keeps `obj` alive, so its id stays its own
        return hit[1]

    data = {
        "eventTime": event.eventTime,
        "eventType": event.eventType.value,
        "producer": event.producer,
        "schemaURL": event.schemaURL,
        "run": {"runId": event.run.runId, "facets": {k: part(v) for k, v in event.run.facets.items()}},
        "job": part(event.job),
        "inputs": [part(d) for d in event.inputs],
        "outputs": [part(d) for d in event.outputs],
    }
    return json.dumps(data, sort_keys=True)


_FIELDS: dict[type, list[str]] = {}


def plain(value: Any) -> Any:
    """Serde's conversion: attrs objects to dicts, enums to values, no None values, no empty dicts in lists."""
    kind = type(value)
    if kind in (str, int, float, bool):
        return value
    if kind is dict:
        pairs = ((k, plain(v)) for k, v in value.items() if v is not None)
        return {k: v for k, v in pairs if v is not None}
    if kind is list:
        items = (plain(v) for v in value if v is not None)
        return [v for v in items if v is not None and v != {}]
    names = _FIELDS.get(kind)
    if names is None:
        import attr

        names = _FIELDS[kind] = [field.name for field in attr.fields(kind)] if attr.has(kind) else []
    if not names:  # an enum, a date, a UUID: as Serde does
        from openlineage.client.serde import Serde

        return Serde.remove_nulls_and_enums(value)
    pairs = ((name, plain(getattr(value, name))) for name in names)
    return {name: v for name, v in pairs if v is not None}


def _time(stamp: str | None) -> str:
    from ..timestamps import now

    return stamp or now()


@functools.cache
def _classes() -> Any:
    """openlineage-python's classes, and flowledger's two custom run facets, imported on first use."""
    import attr
    from openlineage.client import event_v2, facet_v2

    @attr.define
    class FlowledgerStatusRunFacet(facet_v2.RunFacet):
        """flowledger's status of the run (`cached`: its outputs came from an earlier run) and its uid."""

        uid: str
        status: str
        cached: bool = False

        @staticmethod
        def _get_schema() -> str:
            return FACETS + "FlowledgerStatusRunFacet.json#/$defs/FlowledgerStatusRunFacet"

    @attr.define
    class FlowledgerReferenceRunFacet(facet_v2.RunFacet):
        """The workflow manager's own id of the run (`Run.reference`, `Run.reference_type`)."""

        reference: str
        referenceType: str

        @staticmethod
        def _get_schema() -> str:
            return FACETS + "FlowledgerReferenceRunFacet.json#/$defs/FlowledgerReferenceRunFacet"

    class OL:
        RunEvent, Run, Job, RunState = event_v2.RunEvent, event_v2.Run, event_v2.Job, event_v2.RunState
        InputDataset, OutputDataset, facets = event_v2.InputDataset, event_v2.OutputDataset, facet_v2
        Status, Reference = FlowledgerStatusRunFacet, FlowledgerReferenceRunFacet

    return OL


# ---- live emission -------------------------------------------------------------------------------------
def configured() -> bool:
    """Is OpenLineage configured here, as openlineage-python looks for it (and not disabled)?"""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OPENLINEAGE_URL") or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ):
        return True
    files = [
        os.environ.get("OPENLINEAGE_CONFIG", ""),
        "openlineage.yml",
        os.path.expanduser("~/.openlineage/openlineage.yml"),
    ]
    return any(path and os.path.isfile(path) for path in files)


class LiveEmitter:
    """Sends each recorded run's START and end event, on the thread that recorded it, never raising.

    A failed send is one warning; events are then dropped for `PAUSE_S`, so an unreachable endpoint costs
    the transport's own timeout and retries once a minute at most, not once per run. The ledger is
    written before the hooks fire: nothing here can lose a record.
    """

    def __init__(self, client: Any = None, warn: WarnOnce | None = None):
        self._client = client
        self.warn = warn or WarnOnce()
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.sent = 0

    @hookimpl
    def run_started(self, run: Any) -> None:
        self._send(run, final=False)

    @hookimpl
    def run_finished(self, run: Any) -> None:
        self._send(run, final=True)

    def _send(self, record: Any, final: bool) -> None:
        if time.monotonic() < self._paused_until:
            return
        try:
            from ..exporting import gather_run

            export = gather_run(record)
            events = Events(export).of(export.runs[record.id])
            event = events[-1] if final else events[0]
            with self._lock:
                if self._client is None:
                    from openlineage.client import OpenLineageClient

                    self._client = OpenLineageClient()
                self._client.emit(event)
                self.sent += 1
        except Exception as error:  # a lineage consumer being down must never reach the pipeline
            self._paused_until = time.monotonic() + PAUSE_S
            self.warn(
                f"flowledger could not send OpenLineage events ({type(error).__name__}: {error}); the pipeline "
                "and the ledger are not affected. Further sending errors are not shown."
            )


LIVE = LiveEmitter() if configured() else None  # the process's emitter, when OpenLineage is configured
if LIVE is not None:  # pluggy registers this module: only then does it implement the two hooks
    run_started = LIVE.run_started
    run_finished = LIVE.run_finished
