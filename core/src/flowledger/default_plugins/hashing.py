"""sha256 of the content: the checksum Snakemake records and `sha256sum` prints.

`trylast`, so that a plugin can choose another algorithm by answering `compute_hash` first.
"""

import hashlib

from ..hookspecs import hookimpl

CHUNK = 1 << 20


@hookimpl(trylast=True)
def compute_hash(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), "sha256"
