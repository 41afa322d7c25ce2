"""Random base62 uids, as lamindb makes them, so records stay unique across ledgers."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_uid(length: int = 16) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def version_suffix(number: int) -> str:
    """The 4-character base62 suffix of a versioned uid: version 1 is `0000`, version 2 `0001`, ..."""
    n, digits = number - 1, []
    for _ in range(4):
        n, rest = divmod(n, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))
