"""Times as ISO 8601 strings in UTC, whatever a workflow manager hands us."""

from datetime import UTC, datetime

from .errors import InputError


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def to_iso(value) -> str | None:
    """Accept a datetime, epoch seconds, or an ISO string; naive datetimes are taken as local time."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat(timespec="microseconds")
        except (OverflowError, OSError, ValueError):  # NaN, infinities, years past 9999
            raise InputError(f"{value!r} is not a time (seconds since 1970)") from None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{value!r} is not an ISO 8601 time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise InputError(f"{value!r} is not a time")
