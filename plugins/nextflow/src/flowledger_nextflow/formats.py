"""Nextflow's value formats (epoch ms, OffsetDateTime bean dumps, human sizes and durations) as Python values.

Every parser returns None for "no value" (`-`, `null`, the exit sentinel) instead of raising, because a
trace row with one odd cell must still be recorded; callers decide what is fatal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

EXIT_UNSET = 2147483647  # Integer.MAX_VALUE: the `exit` of a task that has not completed

_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5, "EB": 1024**6}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_DURATION_FACTOR = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTPE]?B)", re.IGNORECASE)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "-", "null"))


def exit_code(value: Any) -> int | None:
    """The task exit status (a Java int); None while unset (the 2147483647 sentinel) or unparsable."""
    code = integer(value)
    return code if code is not None and -EXIT_UNSET <= code < EXIT_UNSET else None


def epoch_ms(value: Any) -> datetime | None:
    """Epoch milliseconds (trace `submit`/`start`/`complete`) as an aware UTC datetime; 0 means unset."""
    if is_missing(value):
        return None
    try:
        ms = int(float(value))
        return datetime.fromtimestamp(ms / 1000, UTC) if ms > 0 else None
    except (TypeError, ValueError, OverflowError, OSError):  # `inf`, a year past 9999
        return None


def offset_datetime(bean: Any) -> datetime | None:
    """A Java OffsetDateTime as Groovy's JsonGenerator dumps it (a bean of its getters), or an ISO string."""
    if is_missing(bean):
        return None
    if isinstance(bean, str):
        try:
            return datetime.fromisoformat(bean.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(bean, (int, float)):
        return epoch_ms(bean)
    if not isinstance(bean, dict):
        return None
    try:
        offset = (bean.get("offset") or {}).get("totalSeconds") or 0
        return datetime(
            int(bean["year"]),
            int(bean["monthValue"]),
            int(bean["dayOfMonth"]),
            int(bean["hour"]),
            int(bean["minute"]),
            int(bean["second"]),
            int(bean.get("nano") or 0) // 1000,
            timezone(timedelta(seconds=int(offset))),
        )
    except (KeyError, TypeError, ValueError):
        return None


def local_datetime(text: Any) -> datetime | None:
    """A human trace date `yyyy-MM-dd HH:mm:ss.SSS` (JVM time zone, taken as this machine's) as aware."""
    if is_missing(text):
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f").astimezone()
    except ValueError:
        try:
            return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").astimezone()
        except ValueError:
            return None


def _raw_or_units(text: Any, with_units: Callable[[str], int | None]) -> int | None:
    """A raw number (`trace.raw = true`, weblog) as an int, else `with_units(text)` for the human form."""
    if is_missing(text):
        return None
    text = str(text).strip()
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return with_units(text)


def _duration_units(text: str) -> int | None:
    parts = _DURATION_PART.findall(text)
    return int(sum(float(n) * _DURATION_FACTOR[unit] for n, unit in parts)) if parts else None


def _memory_units(text: str) -> int | None:
    m = _MEMORY.fullmatch(text)
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()]) if m else None


def duration_ms(text: Any) -> int | None:
    """`620ms`, `1.2s`, `1m 5s`, `2h 3m 4s`, `1d 2h` or raw milliseconds, as integer milliseconds."""
    return _raw_or_units(text, _duration_units)


def memory_bytes(text: Any) -> int | None:
    """`3.2 MB` (binary units, as Nextflow's MemoryUnit prints) or raw bytes, as integer bytes."""
    return _raw_or_units(text, _memory_units)


def percent(text: Any) -> float | None:
    """`74.3%` or a raw float."""
    if is_missing(text):
        return None
    try:
        return float(str(text).strip().rstrip("%"))
    except ValueError:
        return None


def integer(value: Any) -> int | None:
    if is_missing(value):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)
