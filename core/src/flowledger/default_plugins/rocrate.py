"""A Workflow Run RO-Crate (Provenance Run Crate 0.5, RO-Crate 1.1) of an export, written with `rocrate`.

The reference crate's mapping: each outermost run's transform is a `ComputationalWorkflow` (its source
from the ledger, written into the crate), each rule, task or process run under it a tool with its
`HowToStep`; one `CreateAction` per run (`object` its inputs, `result` its outputs), a `ControlAction` per
job run, and an `OrganizeAction` for the workflow manager's invocation. Several outermost runs (a file
made by Snakemake, then redun, then a script) are several workflows; the main one made the target.

Data files are referenced by absolute `file://` URIs (a metadata-only, detached crate) or, with
`with_files`, copied in (an attached crate) when their bytes are still the recorded ones.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

from ..errors import FlowledgerError
from ..exporting import Artifact, Export, Run, progress_bar

WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/ro/wfrun/provenance/0.5": "Provenance Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
WROC = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
STATUS = {"completed": "Completed", "cached": "Completed", "errored": "Failed", "aborted": "Failed"}
FORMAL = "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"
NO_LICENSE = "not given: export with --license (a URL, such as https://spdx.org/licenses/CC-BY-4.0)"
UID_NAMESPACE = uuid.UUID("6b1f0c52-5f1e-4e0e-9a7e-2f6c9f1b3a10")  # action ids: uuid5 of the run uid


def write(
    export: Export,
    out: str | os.PathLike | IO[str] | None,
    *,
    with_files: bool = False,
    license: str | None = None,
    progress: bool = False,
) -> str | None:
    """Write the crate into the folder `out` (or `out.zip`); returns None. `license`: the data's, URL or text."""
    if out is None or hasattr(out, "write") or out == "-":
        raise FlowledgerError("an RO-Crate is a folder: give it one with -o DIR (or -o DIR.zip)")
    target = Path(os.fspath(out))
    if target.suffix == ".zip":
        with tempfile.TemporaryDirectory() as folder:
            write(export, folder, with_files=with_files, license=license, progress=progress)
            shutil.make_archive(str(target.with_suffix("")), "zip", folder)
        return None
    Crate(export, target, with_files, license or NO_LICENSE).build(progress)
    return None


class Crate:
    def __init__(self, export: Export, folder: Path, with_files: bool, license: str):
        from rocrate.rocrate import ROCrate  # type: ignore[import-untyped]

        self.export, self.folder, self.with_files, self.license = export, folder, with_files, license
        paths = [os.path.dirname(a.path) for a in export.artifacts.values()]
        self.common = os.path.commonpath(paths) if paths else "/"  # copied files keep their paths below it
        self.crate = ROCrate(version="1.1")
        self.crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
        self.sources: dict[str, str] = {}  # crate path -> source code, written after the crate
        self.workflows: dict[int, Any] = {}  # root run id -> its workflow entity
        self.tools: dict[tuple[int, int], tuple[Any, Any]] = {}  # (root id, transform id) -> (tool, step)
        self.files: dict[int, Any] = {}
        self.params: dict[str, Any] = {}
        self.orchestrated: set[int] = set()  # outermost runs that have job runs (set by `main_run`)

    def build(self, progress: bool) -> None:
        export, crate = self.export, self.crate
        root = crate.root_dataset
        main = self.main_run()
        root["name"] = f"{main.transform.name}: {export.subject}"
        root["description"] = f"Workflow Run Crate of {export.subject}, exported by flowledger from {export.ledger}"
        root["license"] = self.license
        crate.metadata["conformsTo"] = [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": WROC}]
        profiles = {url: name for url, name in PROFILES.items() if self.orchestrated or "provenance" not in url}
        root["conformsTo"] = [
            self.entity(url, "CreativeWork", name=n, version=url.rsplit("/", 1)[1]) for url, n in profiles.items()
        ]
        actions: dict[int, Any] = {}
        controls: dict[int, list[Any]] = {}
        with progress_bar(len(export.runs), "RO-Crate", progress) as advance:
            for run in export.runs.values():
                actions[run.id] = self.action(run)
                if export.parent(run) is not None:
                    step = self.tool(run)[1]
                    control = self.entity(
                        f"#control-{run.uid}",
                        "ControlAction",
                        name=f"orchestrate {run.transform.name}",
                        instrument=step,
                        object=actions[run.id],
                        actionStatus=actions[run.id]["actionStatus"],
                    )
                    controls.setdefault(export.root(run).id, []).append(control)
                advance()
        for run_id in controls:  # the workflow manager's invocation, for each run that orchestrated jobs
            run, manager = export.runs[run_id], export.manager(export.runs[run_id])
            engine = self.entity(manager.url, "SoftwareApplication", name=manager.label, url=manager.url)
            if manager.version != "unknown":
                engine["softwareVersion"] = manager.version
            self.entity(
                f"#organize-{run.uid}",
                "OrganizeAction",
                name=f"Run of {manager.label} {manager.version}",
                instrument=engine,
                object=controls[run_id],
                result=actions[run_id],
                **self.times(run),
            )
        crate.mainEntity = self.workflow(main)
        root["mentions"] = list(actions.values())
        crate.write(self.folder)
        for path, source in self.sources.items():
            (self.folder / path).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / path).write_text(source, encoding="utf-8")

    def main_run(self) -> Run:
        """The outermost run whose workflow is the crate's main entity: the one that made the target, if it
        orchestrated jobs, else the latest that did (a script reading a workflow's output), else that run."""
        export, target = self.export, self.export.target
        maker = target if isinstance(target, Run) else export.runs.get(target.run_id or -1)
        if maker is None:
            raise FlowledgerError(f"{export.subject} was made by no recorded run: there is no workflow run to describe")
        roots = [export.root(run) for run in export.runs.values() if run.parent_id is not None]
        self.orchestrated = {run.id for run in roots}  # outermost runs with job runs: workflows proper
        main = export.root(maker)
        if main.id not in self.orchestrated and roots:
            main = max(roots, key=lambda run: (run.started_at or "", run.id))
        return main

    def entity(self, identifier: str, kind: str | list[str], **properties: Any) -> Any:
        from rocrate.model.contextentity import ContextEntity  # type: ignore[import-untyped]

        found = self.crate.get(identifier)
        if found is not None:
            return found
        values = {k: v for k, v in properties.items() if v is not None and v != []}
        return self.crate.add(ContextEntity(self.crate, identifier, properties={"@type": kind, **values}))

    def workflow(self, root: Run) -> Any:
        if root.id not in self.workflows:
            transform, manager = root.transform, self.export.manager(root)
            name = (
                os.path.basename(transform.reference or "")
                if transform.reference_type in ("snakefile", "script", "notebook")
                else ""
            )
            path = f"workflow/{transform.uid}/{name or _safe(transform.name)}"
            self.sources[path] = transform.source_code or f"# {transform.name}: no source code was recorded\n"
            language = self.language(manager.name, manager.version)
            workflow_types = ["File", "SoftwareSourceCode", "ComputationalWorkflow"]
            if root.id in self.orchestrated:
                kinds = [*workflow_types, "HowTo"]
            else:  # a script or a notebook: a program, unless it is all there is (then the crate's main workflow)
                kinds = (
                    workflow_types if not self.orchestrated else ["File", "SoftwareSourceCode", "SoftwareApplication"]
                )
            self.workflows[root.id] = workflow = self.entity(
                path,
                kinds,
                name=transform.name,
                version=transform.version,
                programmingLanguage=language,
                input=self.param(f"{transform.uid}-in", "inputs"),
                output=self.param(f"{transform.uid}-out", "outputs"),
            )
            self.crate.root_dataset.append_to("hasPart", workflow)
        return self.workflows[root.id]

    def tool(self, run: Run) -> tuple[Any, Any]:
        root = self.export.root(run)
        key = (root.id, run.transform.id)
        if key not in self.tools:
            workflow, transform = self.workflow(root), run.transform
            tool = self.entity(
                f"#tool-{transform.uid}",
                "SoftwareApplication",
                name=transform.name,
                description=transform.description,
                softwareVersion=transform.version,
                input=self.param(f"{transform.uid}-tool-in", "inputs"),
                output=self.param(f"{transform.uid}-tool-out", "outputs"),
            )
            step = self.entity(
                f"#step-{root.uid}-{transform.uid}",
                "HowToStep",
                name=transform.name,
                position=str(len([k for k in self.tools if k[0] == root.id])),
                workExample=tool,
            )
            workflow.append_to("hasPart", tool)
            workflow.append_to("step", step)
            self.tools[key] = (tool, step)
        return self.tools[key]

    def action(self, run: Run) -> Any:
        export = self.export
        parent = export.parent(run)
        instrument = self.workflow(run) if parent is None else self.tool(run)[0]
        params = (instrument["input"], instrument["output"])
        inputs = [self.file(export.artifacts[a], params[0]) for a in run.inputs]
        outputs = [self.file(export.artifacts[a], params[1]) for a in [*run.outputs, *run.replicated]]
        status = STATUS.get(run.status, "Active")
        described = f"{run.reference_type}={run.reference}" if run.reference else f"flowledger run {run.uid}"
        if run.status == "cached":
            described += " (cached: its outputs were made by an earlier run)"
        return self.entity(
            f"#{uuid.uuid5(UID_NAMESPACE, run.uid)}",
            "CreateAction",
            name=f"Run of {run.transform.name} ({run.status}, flowledger run {run.uid})",
            description=described,
            instrument=instrument,
            object=inputs,
            result=outputs,
            actionStatus=f"http://schema.org/{status}ActionStatus",
            error=run.error,
            **self.times(run),
        )

    def file(self, artifact: Artifact, param: Any) -> Any:
        if artifact.id not in self.files:
            properties: dict[str, Any] = {
                "name": os.path.basename(artifact.path),
                "contentSize": str(artifact.size),
                "exampleOfWork": [param],
            }
            properties["encodingFormat"] = mimetypes.guess_type(artifact.path)[0] or "application/octet-stream"
            if artifact.hash_type == "sha256":
                properties["sha256"] = artifact.hash
            copied = self.with_files and artifact.kind == "file" and _same_bytes(artifact)
            if copied:
                dest = f"files/{os.path.relpath(artifact.path, self.common)}"
                entity = self.crate.add_file(artifact.path, dest, properties=properties)
            else:
                kind = "Dataset" if artifact.kind == "folder" else "File"
                entity = self.entity(Path(artifact.path).as_uri(), kind, **properties)
                self.crate.root_dataset.append_to("hasPart", entity)
            self.files[artifact.id] = entity
        elif param not in self.files[artifact.id]["exampleOfWork"]:
            self.files[artifact.id].append_to("exampleOfWork", param)
        return self.files[artifact.id]

    def param(self, key: str, name: str) -> Any:
        if key not in self.params:
            self.params[key] = self.entity(
                f"#param-{key}",
                "FormalParameter",
                name=name,
                additionalType="File",
                conformsTo={"@id": FORMAL},
                valueRequired=False,
            )
        return self.params[key]

    def language(self, manager: str, version: str) -> Any:
        if manager in ("snakemake", "nextflow"):
            from rocrate.model.computerlanguage import get_lang  # type: ignore[import-untyped]

            found = self.crate.get(f"https://w3id.org/workflowhub/workflow-ro-crate#{manager}")
            return found or self.crate.add(
                get_lang(self.crate, manager, version=None if version == "unknown" else version)
            )
        return self.entity("#python", "ComputerLanguage", name="Python", url="https://www.python.org")

    def times(self, run: Run) -> dict[str, Any]:
        """Start, end and who: what an action has besides its instrument."""
        person = self.entity(f"#user-{run.user}", "Person", name=run.user) if run.user else None
        return {"startTime": run.started_at, "endTime": run.finished_at, "agent": person}


def _same_bytes(artifact: Artifact) -> bool:
    """Is the file at the artifact's path still the recorded content? (Only then is it copied in.)"""
    if artifact.hash_type != "sha256":
        return False
    digest = hashlib.sha256()
    try:
        with open(artifact.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == artifact.hash


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "workflow"
