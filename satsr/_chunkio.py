"""Read one Zarr v3 chunk file of a satsr store: its bytes, their sha256, and a direct decode.

satsr writes every array with the codec pipeline ``bytes (little endian) → zstd → crc32c``
(:func:`satsr.schema.save_dataset`). Decoding that pipeline here, one whole chunk file at a
time, skips zarr's per-request async machinery and xarray's indexing layers, which cost more
than the decompression itself when a prepared PROBA-V store is loaded whole
(``benchmarks/bench_probav_loading.py``). Arrays with any other pipeline return ``None`` from
:func:`fast_codecs` and are decoded by zarr instead (same values, slower).

Integrity is the caller's job (:class:`satsr.integrity.GuardedArray`): the payload's crc32c
is compared with the value recorded for the chunk's position *before* the bytes are decoded,
so the crc32c trailer is stripped here, not checked again.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np


def fast_codecs(meta: dict[str, Any]) -> tuple[bool] | None:
    """``(zstd,)`` when ``meta``'s pipeline is one :func:`decode` handles, else None:
    ``bytes`` (little endian) or ``vlen-utf8`` (strings), optional ``zstd``, then ``crc32c``."""
    names = [c.get("name") for c in meta.get("codecs", [])]
    first = "vlen-utf8" if numpy_dtype(meta) == "O" else "bytes"
    if meta.get("data_type") not in _DTYPES and meta.get("data_type") != "string":
        return None
    if names not in ([first, "crc32c"], [first, "zstd", "crc32c"]):
        return None
    endian = (meta["codecs"][0].get("configuration") or {}).get("endian", "little")
    if first == "bytes" and endian != "little" and np.dtype(numpy_dtype(meta)).itemsize > 1:
        return None
    return (names[1] == "zstd",)


_DTYPES = {"bool": "?", "uint8": "u1", "int8": "i1", "uint16": "<u2", "int16": "<i2",
           "uint32": "<u4", "int32": "<i4", "uint64": "<u8", "int64": "<i8",
           "float32": "<f4", "float64": "<f8"}


def numpy_dtype(meta: dict[str, Any]) -> str:
    """The numpy dtype of an array's values (``"O"`` for strings)."""
    return _DTYPES.get(str(meta.get("data_type")), "O")


_LOCAL = threading.local()


def scratch(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """A reusable per-thread buffer of ``shape`` (its values are overwritten by the caller):
    decoding uint16 chunks into it before scaling them into the output avoids a fresh
    allocation (and its page faults) per chunk."""
    want = int(np.prod(shape)) * dtype.itemsize
    buf: np.ndarray | None = getattr(_LOCAL, "buf", None)
    if buf is None or buf.nbytes < want:
        buf = _LOCAL.buf = np.empty(want, np.uint8)
    return buf[:want].view(dtype).reshape(shape)


def read_chunk(path: Path) -> bytes:
    """The chunk file's bytes (``FileNotFoundError`` when it is missing)."""
    with open(path, "rb") as fh:
        return fh.read()


def crc32c(data: bytes) -> int:
    """crc32c of a chunk file's payload (without its 4-byte crc32c trailer)."""
    import google_crc32c  # zarr's crc32c codec dependency

    return int(google_crc32c.value(np.frombuffer(data, np.uint8)[:-4]))


def sha256_hex(data: bytes) -> str:
    """sha256 of a chunk file's bytes, lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, meta: dict[str, Any], zstd: bool, out: np.ndarray | None = None
           ) -> np.ndarray:
    """The full chunk (shape ``chunk_shape``, dtype on disk) from its file bytes.

    With ``out`` (C-contiguous, the chunk's shape and dtype) the values are decompressed into
    it without an intermediate copy. Raises ``ValueError`` when the bytes do not decode to
    exactly one chunk.
    """
    shape = tuple(int(n) for n in meta["chunk_grid"]["configuration"]["chunk_shape"])
    dtype = np.dtype(numpy_dtype(meta))
    payload = memoryview(data)[:-4]  # crc32c trailer (checked by the caller)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if zstd:
        from numcodecs import Zstd

        if out is not None and dtype.kind != "O":
            Zstd().decode(payload, out=out.reshape(-1).view(np.uint8))
            return out
        raw: Any = Zstd().decode(payload)
    else:
        raw = payload
    if dtype.kind == "O":  # vlen-utf8: count, then (length, bytes) per item
        from numcodecs import VLenUTF8

        return np.asarray(VLenUTF8().decode(bytes(raw)), dtype=object).reshape(shape)
    if len(raw) != nbytes:
        raise ValueError(f"chunk holds {len(raw)} bytes, expected {nbytes}")
    values = np.frombuffer(raw, dtype=dtype).reshape(shape)
    if out is not None:
        out[...] = values
        return out
    return values


__all__ = ["crc32c", "decode", "fast_codecs", "numpy_dtype", "read_chunk", "scratch", "sha256_hex"]
