"""Validating a crate with roc-validator offline: its JSON-LD contexts served from local copies.

`rocrate-validator validate -p provenance-run-crate` fetches the two contexts a Workflow Run Crate names
from w3id.org. Offline, the validator's own HTTP cache (`--cache-path`, `--offline`) serves them: the cache
is filled here from data/contexts/ through a `requests` adapter that answers for w3id.org, and the real
command then runs with `--offline`, so anything else it tried to fetch would fail the check.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "contexts"
SERVED = {
    "https://w3id.org/ro/crate/1.1/context": DATA / "ro-crate-1.1.jsonld",
    "https://w3id.org/ro/terms/workflow-run/context": DATA / "workflow-run.jsonld",
}
VALIDATOR = Path(sys.executable).with_name("rocrate-validator")


def context_cache(where: Path) -> Path:
    """A requests-cache database holding the two contexts, as `rocrate-validator --cache-path` reads it."""
    from requests.adapters import HTTPAdapter
    from requests_cache import CachedSession
    from urllib3 import HTTPResponse

    class LocalContexts(HTTPAdapter):
        def send(self, request, **kwargs):
            body = SERVED[request.url].read_bytes()
            raw = HTTPResponse(
                body=io.BytesIO(body),
                headers={"Content-Type": "application/ld+json"},
                status=200,
                preload_content=False,
                request_url=request.url,
            )
            return self.build_response(request, raw)

    cache = where / "validator-cache"
    session = CachedSession(
        cache_name=str(cache), backend="sqlite", expire_after=-1, allowable_methods=("GET",), allowable_codes=(200,)
    )
    session.mount("https://w3id.org/", LocalContexts())
    for url in SERVED:
        assert session.get(url, headers={"Accept": "application/ld+json, application/json"}).status_code == 200
    session.close()
    return cache


def validate(crate: Path, cache: Path, profile: str = "provenance-run-crate", severity: str = "required") -> dict:
    """The validator's JSON report of `crate` (`passed`, `issues`, `statistics`)."""
    done = subprocess.run(
        [
            str(VALIDATOR),
            "-y",
            "--disable-color",
            "validate",
            "--offline",
            "--cache-path",
            str(cache),
            "-p",
            profile,
            "-l",
            severity,
            "-f",
            "json",
            str(crate),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stdout.strip(), f"no report from the validator (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout)
