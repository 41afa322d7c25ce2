"""The registries: Transform, Run, Artifact, Collection, User."""

from ..registry import Query, Record
from .artifact import Artifact
from .collection import Collection
from .run import Run
from .transform import Transform
from .user import User

__all__ = ["Artifact", "Collection", "Query", "Record", "Run", "Transform", "User"]
