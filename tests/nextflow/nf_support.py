"""Helpers the Nextflow tests import by name (conftest.py is not importable: every test folder has one)."""

import base64
import urllib.error
import urllib.request


def post(url: str, body, token: str | None = None, headers: dict | None = None) -> tuple[int, str]:
    """POST over real HTTP; returns (status, body) also for 4xx answers."""
    data = body if isinstance(body, bytes) else body.encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": "Nextflow/26.04.6", **(headers or {})}
    if token:
        all_headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
    request = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def snapshot(root) -> dict:
    """The recorded lineage, independent of uids and of when it was recorded: per run (reference), its
    transform, status, exit code, parent, and input / output / replicated paths relative to `root`."""
    from flowledger.models import Run

    root = str(root)

    def rel(artifacts):
        return sorted(a.path.replace(root, "ROOT") for a in artifacts)

    out = {}
    for run in Run.filter(reference_type__in=["nextflow_id", "nextflow_task_hash"]).all():
        parent = run.initiated_by_run
        out[run.reference] = {
            "transform": (run.transform.name, run.transform.version, run.transform.type),
            "status": run.status,
            "exit_code": run.exit_code,
            "parent": parent.reference if parent else None,
            "inputs": rel(run.inputs.all()),
            "outputs": rel(run.outputs.all()),
            "replicated": rel(run.replicated_output_artifacts.all()),
        }
    return out
