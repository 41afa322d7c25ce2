"""Validating RunEvents offline against the official OpenLineage schemas (spec 2-0-2, copied under data/),
facets included, as the reference README shows; flowledger's own facets against their schemas in
data/openlineage/flowledger/. A facet key that no schema owns is an error too."""

import json
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

DATA = Path(__file__).parent / "data" / "openlineage"
FILES = [DATA / "spec" / "OpenLineage.json", *sorted((DATA / "spec" / "facets").glob("*.json"))]
FILES += sorted((DATA / "flowledger").glob("*.json"))
SCHEMAS = [json.loads(path.read_text()) for path in FILES]
REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in SCHEMAS)
CORE = SCHEMAS[0]["$id"]
FACET_SCHEMA = {key: schema for schema in SCHEMAS[1:] for key in schema.get("properties", {})}


def _errors(instance, schema) -> list[str]:
    validator = Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def run_event_errors(event: dict) -> list[str]:
    errors = _errors(event, {"$ref": CORE + "#/$defs/RunEvent"})
    blocks = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        blocks += [dataset.get("facets", {}), dataset.get("inputFacets", {}), dataset.get("outputFacets", {})]
    for facets in blocks:
        for key, facet in facets.items():
            if key not in FACET_SCHEMA:
                errors.append(f"facet {key!r} has no schema")
                continue
            errors += _errors({key: facet}, FACET_SCHEMA[key])
            if facet.get("_schemaURL", "").split("#")[0] != FACET_SCHEMA[key]["$id"]:
                errors.append(f"facet {key!r} names schema {facet.get('_schemaURL')}")
    return errors
