"""User: who ran it."""

from ..registry import Record


class User(Record):
    _table = "users"
    _fields = ("uid", "handle", "name", "created_at")

    @classmethod
    def current(cls) -> "User | None":
        from ..identity import current_handle

        return cls.filter(handle=current_handle()).one_or_none()
