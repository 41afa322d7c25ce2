"""flowledger: data lineage for workflow managers, in an embedded SQLite ledger.

    import flowledger as fl
    transform = fl.Transform(name="Cell Ranger", version="7.2.0", type="pipeline").save()
    run = fl.Run(transform, reference="https://example.org/run/1", reference_type="url").save()
    fl.track(transform=transform); ...; fl.finish()

The public API is what this module exports (`__all__`), `flowledger.plugin_api` for plugins, the
`flowledger` command (`flowledger.cli.cli`, which plugins extend through a hook) and the pytest fixtures
in `flowledger.testing`. Every other module is internal: it may change in any release.
"""

from . import lineage
from .context import context, finish, track
from .errors import DoesNotExist, FlowledgerError, LedgerError, MultipleResultsFound
from .models import Artifact, Collection, Run, Transform, User

__version__ = "0.1.0"
__all__ = [
    "Artifact",
    "Collection",
    "DoesNotExist",
    "FlowledgerError",
    "LedgerError",
    "MultipleResultsFound",
    "Run",
    "Transform",
    "User",
    "context",
    "finish",
    "hookimpl",
    "lineage",
    "track",
]


def __getattr__(name: str):
    """`fl.hookimpl` and `fl.export`, imported on first use: `import flowledger` stays light."""
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    if name == "export":  # fl.export(run_or_uid_or_path, "openlineage" | "prov-json" | ... , out=None)
        from .exporting import export

        return export
    raise AttributeError(f"module 'flowledger' has no attribute {name!r}")
