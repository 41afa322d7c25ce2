"""base62 uids, as lamindb makes them: random ones, so records stay unique across ledgers, and stable ones,
derived from a workflow manager's own ids, so every recorder of the same run gives it the same uid."""

import hashlib
import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, length: int) -> str:
    """The last `length` base62 digits of `number`, least significant first."""
    digits = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(digits)


def new_uid(length: int = 16) -> str:
    """A random uid; one system call for the whole of it (16 `secrets.choice` calls cost 15 % of a job)."""
    return base62(secrets.randbelow(62**length), length)


def stable_uid(*parts: object, length: int = 16) -> str:
    """A uid derived from `parts` (the sha256 of their text): the same parts give the same uid everywhere."""
    return base62(int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest(), "big"), length)


def version_suffix(number: int) -> str:
    """The 4-character base62 suffix of a versioned uid: version 1 is `0000`, version 2 `0001`, ..."""
    return base62(number - 1, 4)[::-1]
