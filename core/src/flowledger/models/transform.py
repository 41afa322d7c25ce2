"""Transform: what is run (a pipeline, a rule, a task, a process, a script, a notebook)."""

from ..contract import TransformSpec
from ..recorder import recorder_for
from ..registry import Record


class Transform(Record):
    _table = "transforms"
    _fields = (
        "uid",
        "name",
        "version",
        "type",
        "description",
        "reference",
        "reference_type",
        "source_code",
        "hash",
        "created_at",
    )
    _foreign = {"created_by": ("created_by_id", "User")}

    def __init__(self, name: str | None = None, **fields):
        fields.setdefault("type", "pipeline")
        super().__init__(name=name, **fields)

    def save(self) -> "Transform":
        """Insert once per (name, version); saving again returns the existing record."""
        if self.id is not None:
            return self
        ledger = self._store
        spec = TransformSpec(
            name=self.name,
            type=self.type,
            version=self.version,
            source_code=self.source_code,
            reference=self.reference,
            reference_type=self.reference_type,
            description=self.description,
        )
        return self._become(recorder_for(ledger).save_transform(spec), ledger)

    @property
    def runs(self):
        from .run import Run

        return Run.using(self._store).filter(transform=self)

    @property
    def versions(self):
        return Transform.using(self._store).filter(name=self.name)
