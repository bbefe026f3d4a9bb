"""Content digests: the one helper satsr uses to checksum files (weights, archives, stores)."""

from __future__ import annotations

import hashlib
import os

#: Bytes read per block while hashing a file (1 MiB).
BLOCK = 1 << 20


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Lower-case hex digest of a file's bytes (``sha256``, ``md5``, ...), read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["file_digest"]
