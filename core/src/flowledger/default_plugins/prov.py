"""W3C PROV (PROV-JSON, PROV-N, PROV-O Turtle) of an export, built with the `prov` library.

The mapping of the reference sample: runs are activities (a job run `wasInformedBy` its workflow run),
artifacts entities (`alternateOf` their content, an entity named by its hash), transforms plans, users
`prov:Person` agents and workflow managers `prov:SoftwareAgent`s acting on their behalf; `used`,
`wasGeneratedBy` and `wasAssociatedWith(run, manager, plan)`. Where the sample names an entity by its
path, an artifact here is named by its uid: a path can hold several versions, and each is an entity.
A cached run's reproduced outputs are `wasInfluencedBy` it (typed `fl:Replicated`): PROV lets only the
run that made them generate them.

Identifiers and attribute names are built once as `QualifiedName`s (parsing prefixed strings is most of
prov's cost), and relations have identifiers (`fl:used/<run>/<artifact>`, ...): prov would otherwise hash
every anonymous relation, attributes and all, to number it. An export of 10,000 jobs must take seconds.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import IO, Any

from ..exporting import Export, output, progress_bar

FL = "https://example.org/flowledger/ns#"  # flowledger's vocabulary, as in the reference sample
HASHES = "urn:hash::"  # content entities: urn:hash::sha256:<hex>


def document(export: Export, progress: bool = False) -> Any:
    """The export as one `prov.model.ProvDocument`."""
    from prov.model import PROV, PROV_LABEL, PROV_TYPE, ProvDocument

    doc = ProvDocument()
    fl = doc.add_namespace("fl", FL)
    name = {key: fl[key] for key in ("path", "size", "version", "status", "reference", "reference_type", "error")}
    name.update({key: fl[key] for key in ("exit_code", "name", "type", "code_hash", "uid")})
    kinds = {"file": fl["File"], "folder": fl["Folder"]}
    hash_prefixes: dict[str, Any] = {}
    entities: dict[int, Any] = {}
    artifacts = {artifact.id: artifact.uid for artifact in export.artifacts.values()}
    for artifact in export.artifacts.values():
        attributes: list[tuple[Any, Any]] = [(PROV_TYPE, kinds.get(artifact.kind, fl["Artifact"]))]
        attributes += [(name["path"], artifact.path), (name["version"], artifact.version)]
        if artifact.size is not None:
            attributes.append((name["size"], artifact.size))
        entity = entities[artifact.id] = doc.entity(fl[f"artifact/{artifact.uid}"], attributes)
        if artifact.hash:
            kind = artifact.hash_type or "hash"
            if kind not in hash_prefixes:
                hash_prefixes[kind] = doc.add_namespace(kind.replace("-", "_"), f"{HASHES}{kind}:")
            doc.alternateOf(entity, doc.entity(hash_prefixes[kind][artifact.hash]))
    plans: dict[int, Any] = {}
    agents: dict[str, Any] = {}
    delegations: set[tuple[str, str]] = set()
    activities: dict[int, Any] = {}
    with progress_bar(len(export.runs), "PROV", progress) as advance:
        for run in export.runs.values():
            transform = run.transform
            if transform.id not in plans:
                attributes = [(PROV_TYPE, PROV["Plan"]), (name["name"], transform.name), (name["type"], transform.type)]
                attributes += [(name["version"], transform.version)] if transform.version else []
                attributes += [(name["code_hash"], transform.hash)] if transform.hash else []
                plans[transform.id] = doc.entity(fl[f"transform/{transform.uid}"], attributes)
            manager, user = export.manager(run), run.user
            software = f"software/{manager.name}-{manager.version}"
            if software not in agents:
                label = f"{manager.label} {manager.version}"
                agents[software] = doc.agent(fl[software], [(PROV_TYPE, PROV["SoftwareAgent"]), (PROV_LABEL, label)])
            if user and f"user/{user}" not in agents:
                agents[f"user/{user}"] = doc.agent(fl[f"user/{user}"], [(PROV_TYPE, PROV["Person"])])
            if user and (software, user) not in delegations:
                delegations.add((software, user))
                doc.actedOnBehalfOf(agents[software], agents[f"user/{user}"])
            parent = export.parent(run)
            run_kind = fl["JobRun"] if parent is not None else fl["WorkflowRun"]
            attributes = [(PROV_TYPE, run_kind), (name["status"], run.status)]
            for field in ("reference", "reference_type", "error", "exit_code"):
                if getattr(run, field) is not None:
                    attributes.append((name[field], getattr(run, field)))
            started, finished = _time(run.started_at), _time(run.finished_at)
            activity = activities[run.id] = doc.activity(fl[f"run/{run.uid}"], started, finished, attributes)
            uid = run.uid
            if parent is not None:
                doc.wasInformedBy(activity, activities[parent.id], identifier=fl[f"informed/{uid}"])
            elif user:
                doc.wasAssociatedWith(activity, agents[f"user/{user}"], identifier=fl[f"association/{uid}/user"])
            doc.wasAssociatedWith(activity, agents[software], plans[transform.id], identifier=fl[f"association/{uid}"])
            for artifact_id in run.inputs:
                used = fl[f"used/{uid}/{artifacts[artifact_id]}"]
                doc.used(activity, entities[artifact_id], started, identifier=used)
            for artifact_id in run.outputs:
                made = fl[f"generation/{artifacts[artifact_id]}"]
                doc.wasGeneratedBy(entities[artifact_id], activity, finished, identifier=made)
            for artifact_id in run.replicated:
                replicated = fl[f"replicated/{uid}/{artifacts[artifact_id]}"]
                doc.wasInfluencedBy(entities[artifact_id], activity, replicated, [(PROV_TYPE, fl["Replicated"])])
            advance()
    return doc


def write_json(export: Export, out: str | os.PathLike | IO[str] | None, *, progress: bool = False) -> str | None:
    """PROV-JSON, encoded by prov and written compactly by the C JSON encoder (prov's own writer is pure Python)."""
    from prov.serializers.provjson import encode_json_document

    text = json.dumps(encode_json_document(document(export, progress)))
    return _write(text, out)


def write_provn(export: Export, out: str | os.PathLike | IO[str] | None, *, progress: bool = False) -> str | None:
    return _write(document(export, progress).get_provn(), out)


def write_turtle(export: Export, out: str | os.PathLike | IO[str] | None, *, progress: bool = False) -> str | None:
    """PROV-O in Turtle (prov's RDF serializer, rdflib underneath)."""
    return _write(document(export, progress).serialize(format="rdf", rdf_format="turtle"), out)


def _write(text: str, out: str | os.PathLike | IO[str] | None) -> str | None:
    with output(out) as (handle, result):
        handle.write(text if text.endswith("\n") else text + "\n")
        return result()


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None
