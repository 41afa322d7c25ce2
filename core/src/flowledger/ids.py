"""Random base62 uids, as lamindb makes them, so records stay unique across ledgers."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_uid(length: int = 16) -> str:
    """One system call for the whole uid (16 `secrets.choice` calls cost 15 % of recording a job)."""
    number, digits = secrets.randbelow(62**length), []
    for _ in range(length):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(digits)


def version_suffix(number: int) -> str:
    """The 4-character base62 suffix of a versioned uid: version 1 is `0000`, version 2 `0001`, ..."""
    n, digits = number - 1, []
    for _ in range(4):
        n, rest = divmod(n, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))
