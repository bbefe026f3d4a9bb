"""Store integrity: chunk checksums, content hashes, missing chunks, guarded reads, ``verify``.

Every sample-schema Zarr store that :func:`satsr.schema.save_dataset` writes carries two
layers of protection:

- a **crc32c** codec at the end of every array's codec pipeline, so zarr itself rejects a
  truncated, bit-flipped or random chunk file when it decodes it;
- the **checksum of every chunk at its position**, recorded in the array's ``zarr.json``:
  ``_satsr_chunk_crc32c`` (chunk key → crc32c of the chunk file's payload) and
  ``_satsr_chunk_file_sha256`` (chunk key → sha256 of the whole chunk file). A chunk file
  replaced by another *valid* chunk (e.g. ``hr/c/1/…`` copied over ``hr/c/0/…``) passes its own
  crc32c trailer but not the values recorded for its position.

Every read (:class:`GuardedArray`) recomputes the crc32c of each chunk it touches over the stored
bytes, before decoding them, and compares it with the recorded value: a 32-bit check computed in
hardware, ~7x cheaper than a sha256 of the same bytes (``read_checks`` in
``benchmarks/bench_probav_loading.py``; hashing the decoded values with sha256, as format 1
did, made whole loads 1.4x slower). It catches any accidental damage or misplaced chunk
except with probability 2**-32 per damaged chunk, as the crc32c codec alone does. :func:`verify_store` (``satsr datasets verify``) also recomputes every
sha256 and decodes every chunk. This is store format 2; format-1 stores recorded the sha256 of
the *decoded values* (``_satsr_chunk_sha256``) and are still read and verified that way.

:func:`check_chunks_present` (cheap, run by :func:`satsr.schema.open_dataset`) treats a missing
chunk file as an error instead of zarr's fill values; :func:`guard` makes every later read of
the large variables verify the hash of each chunk it decodes and turns any decode failure into
one :class:`~satsr.errors.CorruptFileError` line naming the store, the variable and the fix;
:func:`verify_store` (``satsr datasets verify PATH``) recomputes every hash of every array.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from xarray.backends import BackendArray

from satsr import _chunkio
from satsr.errors import CorruptFileError

log = logging.getLogger(__name__)

#: Array attribute holding ``{chunk key: sha256 hex of the chunk file's bytes}`` (format 2).
FILE_HASH_ATTR = "_satsr_chunk_file_sha256"
#: Array attribute holding ``{chunk key: crc32c of the chunk file's payload}`` (format 2).
CRC_ATTR = "_satsr_chunk_crc32c"
#: Array attribute of format-1 stores: ``{chunk key: sha256 hex of the decoded chunk}``.
HASH_ATTR = "_satsr_chunk_sha256"
#: Array attribute: values are stored as uint16 ``k`` and read as float32 ``k / peak``.
PEAK_ATTR = "_satsr_uint16_peak"
_INTERNAL_ATTRS = (FILE_HASH_ATTR, CRC_ATTR, HASH_ATTR, PEAK_ATTR)

FIX = ("the store is damaged: re-create it with the command that wrote it (`satsr datasets "
       "prepare NAME --overwrite`, `satsr fetch` or `satsr datasets make` into a new --out) or "
       "copy it again")


def _meta(array_dir: Path) -> dict[str, Any]:
    return dict(json.loads((array_dir / "zarr.json").read_text()))


def _grid(meta: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape, chunk shape) of a Zarr v3 array with a regular chunk grid."""
    shape = tuple(int(n) for n in meta["shape"])
    chunks = tuple(int(n) for n in meta["chunk_grid"]["configuration"]["chunk_shape"])
    return shape, chunks


def _chunk_indices(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    counts = [math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True)]
    return itertools.product(*(range(n) for n in counts))


def _chunk_key(meta: dict[str, Any], index: tuple[int, ...]) -> str:
    """The chunk's file path relative to the array folder (``c/0/1`` or ``0.1``)."""
    enc = meta.get("chunk_key_encoding", {"name": "default"})
    sep = enc.get("configuration", {}).get("separator", "/" if enc["name"] == "default" else ".")
    parts = [str(i) for i in index] or ["0"]
    if enc["name"] == "default":
        return sep.join(["c", *parts])
    return sep.join(parts)


def _slices(index: tuple[int, ...], shape: tuple[int, ...], chunks: tuple[int, ...]
            ) -> tuple[slice, ...]:
    return tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape,
                                                                      strict=True))


def content_hash(values: np.ndarray) -> str:
    """sha256 of an array's decoded values (C order; strings as NUL-joined UTF-8)."""
    arr = np.asarray(values)
    if arr.dtype.kind in ("O", "U", "T", "S"):
        return hashlib.sha256("\0".join(str(v) for v in arr.ravel().tolist()).encode("utf-8")
                              ).hexdigest()
    raw = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)  # bytes without a copy
    return hashlib.sha256(raw.data).hexdigest()


def _arrays(store: Path) -> Iterator[tuple[str, Path]]:
    for child in sorted(store.iterdir()):
        if (child / "zarr.json").is_file() and _meta(child).get("node_type") == "array":
            yield child.name, child


def record_hashes(store: str | os.PathLike[str]) -> None:
    """Record the crc32c and sha256 of every chunk file of every array of ``store``."""
    import zarr

    store = Path(store)
    group = zarr.open_group(store, mode="r+")
    for name, folder in _arrays(store):
        meta = _meta(folder)
        shape, chunks = _grid(meta)
        hashes, crcs = {}, {}
        for index in _chunk_indices(shape, chunks):
            key = _chunk_key(meta, index)
            data = _chunkio.read_chunk(folder / key)
            hashes[key], crcs[key] = _chunkio.sha256_hex(data), _chunkio.crc32c(data)
        group[name].attrs.update({FILE_HASH_ATTR: hashes, CRC_ATTR: crcs})


def _hashed(meta: dict[str, Any]) -> bool:
    attrs = meta.get("attributes", {})
    return FILE_HASH_ATTR in attrs or HASH_ATTR in attrs


def store_format(store: str | os.PathLike[str]) -> int:
    """2 when every array records per-position crc32c/sha256 (read fast), 1 when some array
    records only format-1 hashes of decoded values, 0 when some array has no hashes."""
    attrs = [_meta(folder).get("attributes", {}) for _, folder in _arrays(Path(store))]
    if all(CRC_ATTR in a for a in attrs):
        return 2
    return 1 if all(CRC_ATTR in a or HASH_ATTR in a for a in attrs) else 0


def has_hashes(store: str | os.PathLike[str]) -> bool:
    """True when every array of ``store`` records content hashes (written by satsr)."""
    return all(_hashed(_meta(folder)) for _, folder in _arrays(Path(store)))


def check_chunks_present(store: str | os.PathLike[str], *, require_hashes: bool = True
                         ) -> list[str]:
    """Problems found without decoding anything: chunk files that are missing (zarr would read
    them as fill values) or empty, and (``require_hashes``) arrays without content hashes.
    Arrays without hashes (older stores, which skipped all-fill chunks) are not checked for
    presence. One line each."""
    store = Path(store)
    problems: list[str] = []
    for name, folder in _arrays(store):
        meta = _meta(folder)
        if not _hashed(meta):
            if require_hashes:
                problems.append(f"{store}: variable {name!r} has no content hashes (written by "
                                f"an older satsr or another tool); {FIX}")
            continue
        shape, chunks = _grid(meta)
        for index in _chunk_indices(shape, chunks):
            key = _chunk_key(meta, index)
            path = folder / key
            if not path.is_file():
                problems.append(f"{store}: variable {name!r} chunk {key} is missing (it would "
                                f"read as fill values); {FIX}")
            elif path.stat().st_size == 0:
                problems.append(f"{store}: variable {name!r} chunk {key} is empty; {FIX}")
    return problems


def verify_store(store: str | os.PathLike[str]) -> list[str]:
    """Every problem of ``store``, one line each (empty when intact): missing chunks, chunks
    that fail their crc32c or cannot be decoded, and chunks whose content hash differs."""
    import zarr

    store = Path(store)
    problems = check_chunks_present(store)
    if problems:
        return problems
    group = zarr.open_group(store, mode="r")
    for name, folder in _arrays(store):
        meta = _meta(folder)
        attrs = meta["attributes"]
        shape, chunks = _grid(meta)
        arr: Any = group[name]
        for index in _chunk_indices(shape, chunks):
            key = _chunk_key(meta, index)
            try:  # decode every chunk (crc32c, zstd, length) whatever the hash says
                values = arr[_slices(index, shape, chunks)]
            except Exception as exc:  # crc32c mismatch, zstd errors, bad lengths ...
                problems.append(f"{store}: variable {name!r} chunk {key} cannot be decoded "
                                f"({type(exc).__name__}); {FIX}")
                continue
            if FILE_HASH_ATTR in attrs:
                got = _chunkio.sha256_hex(_chunkio.read_chunk(folder / key))
                want = attrs[FILE_HASH_ATTR].get(key)
            else:
                got, want = content_hash(values), attrs[HASH_ATTR].get(key)
            if got != want:
                problems.append(f"{store}: variable {name!r} chunk {key} does not match its "
                                f"content hash (replaced or altered); {FIX}")
    return problems


def find_stores(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself when it is a Zarr store, else the stores directly inside it (sorted)."""
    from satsr.errors import DatasetNotFoundError

    path = Path(path).expanduser()
    if (path / "zarr.json").is_file():
        return [path]
    stores = sorted(p for p in path.glob("*.zarr") if (p / "zarr.json").is_file()) \
        if path.is_dir() else []
    if not stores:
        raise DatasetNotFoundError(f"{path} is not a Zarr store nor a folder of stores; pass "
                                   "a store written by satsr (e.g. OUT/chips.zarr or "
                                   "ROOT/satsr/probav_RED.zarr)")
    return stores


class GuardedArray:
    """A zarr array whose reads verify every chunk they touch and raise one-line
    :class:`CorruptFileError` on any failure (missing file, hash mismatch, decode error).

    Format-2 stores (:data:`CRC_ATTR`) are read chunk file by chunk file: the payload's crc32c
    is compared with the value recorded for the chunk's position, then the bytes are decoded
    directly (:mod:`satsr._chunkio`); uint16 arrays
    with :data:`PEAK_ATTR` read as float32 ``k / peak`` (what the PNG reader returns). Older
    stores (:data:`HASH_ATTR`) are read by zarr and the decoded values hashed.

    ``__getitem__`` accepts what dask passes (slices, integers, or other indexers after graph
    fusion): the chunk-aligned region around the request is read and checked, then sliced.
    """

    def __init__(self, array: Any, store: Path, name: str, meta: dict[str, Any]) -> None:
        self._array, self.store, self.name, self.meta = array, store, name, meta
        attrs = meta.get("attributes", {})
        self.crcs: dict[str, int] | None = attrs.get(CRC_ATTR)
        self.hashes: dict[str, str] = attrs.get(HASH_ATTR, {})
        self.peak: float | None = attrs.get(PEAK_ATTR)
        self.shape, self.grid = _grid(meta)
        self.ndim = len(self.shape)
        self.disk_dtype = np.dtype(_chunkio.numpy_dtype(meta))
        self.dtype = np.dtype(np.float32) if self.peak else self.disk_dtype
        self.codecs = _chunkio.fast_codecs(meta) if self.crcs is not None else None

    @property
    def array(self) -> Any:
        """The zarr array (opened on first use: fallback decoding and error diagnosis)."""
        if self._array is None:
            import zarr

            self._array = zarr.open_array(self.store / self.name, mode="r")
        return self._array

    def _plan(self, key: Any) -> tuple[tuple[slice, ...], tuple[Any, ...]]:
        """(chunk-aligned region to read, index into that region) for an indexer ``key``."""
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        region: list[slice] = []
        local: list[Any] = []
        for k, n, c in zip(key, self.shape, self.grid, strict=True):
            if isinstance(k, int | np.integer):
                i = int(k) + n if int(k) < 0 else int(k)
                lo, hi, sub = i, i + 1, None
            elif isinstance(k, slice) and k.indices(n)[2] == 1:
                lo, hi, _ = k.indices(n)
                sub = slice(0, max(hi - lo, 0))
            else:  # stepped slice or array indexer: read the whole dimension
                region.append(slice(0, n))
                local.append(k)
                continue
            a = (lo // c) * c if c else 0
            b = min(-(-max(hi, lo + 1) // c) * c, n) if c else n
            region.append(slice(a, b))
            local.append(lo - a if sub is None else slice(lo - a, lo - a + sub.stop))
        return tuple(region), tuple(local)

    def _indices(self, region: tuple[slice, ...]) -> Iterator[tuple[int, ...]]:
        """Chunk indices covering a chunk-aligned ``region``."""
        return itertools.product(*(range(r.start // c, -(-r.stop // c)) if c else range(1)
                                   for r, c in zip(region, self.grid, strict=True)))

    def _fail(self, key: str, problem: str) -> CorruptFileError:
        return CorruptFileError(f"{self.store}: variable {self.name!r} chunk {key} "
                                f"{problem}; {FIX}")

    def _undecodable(self, key: str, exc: Exception) -> CorruptFileError:
        return self._fail(key, f"cannot be decoded ({type(exc).__name__}: checksum or "
                          "compression error)")

    def _verified(self, index: tuple[int, ...], key: str) -> bytes:
        """The chunk file's bytes, checked against the crc32c recorded for ``key``."""
        assert self.crcs is not None
        try:
            data = _chunkio.read_chunk(self.store / self.name / key)
        except OSError:
            raise self._fail(key, "is missing (it would read as fill values)") from None
        if _chunkio.crc32c(data) != self.crcs.get(key):
            try:  # tell a damaged file from a valid chunk put at the wrong place
                self.array.get_block_selection(index)
            except Exception as exc:
                raise self._undecodable(key, exc) from None
            raise self._fail(key, "does not match its content hash (replaced or altered)")
        return data

    def _read_files(self, region: tuple[slice, ...]) -> np.ndarray:
        """``region`` read chunk file by chunk file, each verified before it is decoded, in
        final form (float32 ``k / peak`` for uint16 arrays)."""
        out = np.empty(tuple(r.stop - r.start for r in region), self.dtype)
        for index in self._indices(region):
            self._read_one(index, out=out, region=region)
        return out

    def _read_one(self, index: tuple[int, ...], *, out: np.ndarray, region: tuple[slice, ...]
                  ) -> None:
        """Verify, decode and store one chunk into its part of ``out``."""
        key = _chunk_key(self.meta, index)
        data = self._verified(index, key)
        part = _slices(index, self.shape, self.grid)
        dest = out[tuple(slice(p.start - r.start, p.stop - r.start)
                         for p, r in zip(part, region, strict=True))]
        inside = tuple(slice(0, p.stop - p.start) for p in part)
        try:
            if self.codecs is None:
                block = np.asarray(self.array[part])
            elif (not self.peak and dest.shape == self.grid and dest.flags.c_contiguous
                  and self.disk_dtype.kind != "O"):
                _chunkio.decode(data, self.meta, *self.codecs, out=dest)
                return
            else:
                zstd = self.codecs[0]  # raw chunks are read in place, not copied to scratch
                buf = (_chunkio.scratch(self.grid, self.disk_dtype)
                       if zstd and self.disk_dtype.kind != "O" else None)
                block = _chunkio.decode(data, self.meta, *self.codecs, out=buf)[inside]
        except Exception as exc:
            raise self._undecodable(key, exc) from None
        if self.peak:  # exactly the PNG reader's float32(k) / float32(peak)
            np.divide(block, np.float32(self.peak), out=dest, dtype=np.float32)
        else:
            dest[...] = block

    def _read_legacy(self, region: tuple[slice, ...]) -> np.ndarray:
        """``region`` read by zarr, each chunk's decoded values checked (older stores)."""
        try:
            values = np.asarray(self.array[region])
        except Exception as exc:
            raise CorruptFileError(f"store {self.store} variable {self.name!r} has a chunk that "
                                   f"cannot be decoded ({type(exc).__name__}: checksum or "
                                   f"compression error); {FIX}") from None
        for index in self._indices(region):
            part = _slices(index, self.shape, self.grid)
            local = tuple(slice(p.start - r.start, p.stop - r.start)
                          for p, r in zip(part, region, strict=True))
            key = _chunk_key(self.meta, index)
            if content_hash(values[local]) != self.hashes.get(key):
                raise self._fail(key, "does not match its content hash (replaced or altered)")
        return values

    def __getitem__(self, key: Any) -> np.ndarray:
        region, local = self._plan(key)
        if self.crcs is not None:
            return self._read_files(region)[local]
        values = self._read_legacy(region)[local]
        if self.peak:
            return np.divide(values, np.float32(self.peak), dtype=np.float32)
        return np.asarray(values)


class _LazyGuarded(BackendArray):
    """xarray backend-array adapter over :class:`GuardedArray` (for ``dask=False`` opens):
    xarray keeps it lazy and asks for basic (slice/integer) selections only."""

    def __init__(self, guarded: GuardedArray) -> None:
        self.guarded, self.shape, self.dtype = guarded, guarded.shape, guarded.dtype

    def __getitem__(self, key: Any) -> Any:
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.BASIC,
                                                  self.guarded.__getitem__)


def _guarded_data(ds: Any, name: str, arr: Any, guarded: GuardedArray) -> Any | None:
    """The guarded replacement of ``ds[name]``'s data (dask or lazily indexed, as opened), or
    None when the variable cannot be guarded without changing its values or chunks."""
    if ds[name].chunks is not None:  # dask-backed (``.data`` of a lazy array would load it)
        import dask.array as da

        chunks = ds[name].data.chunks
        if chunks != da.core.normalize_chunks(arr.chunks, arr.shape):
            return None
        return lazy_guarded(guarded, chunks)
    return lazy_guarded(guarded, None)


def lazy_guarded(guarded: GuardedArray, chunks: Any) -> Any:
    """A lazy array over ``guarded``: dask with ``chunks`` (one task per chunk), or xarray's
    lazily indexed array when ``chunks`` is None."""
    if chunks is not None:
        import dask.array as da

        return da.from_array(guarded, chunks=chunks, name=f"satsr-guarded-{guarded.name}-"
                             f"{guarded.store}", asarray=False, fancy=False,
                             meta=np.empty((0,) * guarded.ndim, guarded.dtype))
    from xarray.core import indexing

    return indexing.LazilyIndexedArray(_LazyGuarded(guarded))


def guard(ds: Any, store: str | os.PathLike[str], names: tuple[str, ...]) -> Any:
    """``ds`` with the data of ``names`` re-read through :class:`GuardedArray`.

    Works on stores opened with dask (chunks must equal the Zarr chunks) and without (lazily
    indexed arrays). Only variables whose values need no decoding (no scale/offset/units; a
    NaN fill value reads as NaN either way) are guarded, so the values are identical to what
    xarray reads.
    """
    import xarray as xr
    import zarr

    store = Path(store)
    group = zarr.open_group(store, mode="r")
    out = ds
    for name in names:
        if name not in ds.data_vars:
            continue
        meta = _meta(store / name)
        enc = ds[name].encoding
        fill = meta.get("attributes", {}).get("_FillValue")
        if not _hashed(meta) or any(
                k in enc for k in ("scale_factor", "add_offset", "units")) or (
                fill is not None and ds[name].dtype.kind != "f"):
            continue
        arr: Any = group[name]
        data = _guarded_data(ds, name, arr, GuardedArray(arr, store, name, meta))
        if data is None:
            continue
        out = out.assign({name: xr.Variable(ds[name].dims, data, ds[name].attrs)})
        out[name].encoding = enc
    return out


def strip_hash_attrs(ds: Any) -> Any:
    """``ds`` without satsr's internal attributes on its variables (kept in the store only)."""
    for name in ds.variables:
        for attr in _INTERNAL_ATTRS:
            ds[name].attrs.pop(attr, None)
    return ds


__all__ = [
    "CRC_ATTR",
    "FILE_HASH_ATTR",
    "HASH_ATTR",
    "PEAK_ATTR",
    "GuardedArray",
    "check_chunks_present",
    "content_hash",
    "find_stores",
    "guard",
    "has_hashes",
    "lazy_guarded",
    "record_hashes",
    "store_format",
    "strip_hash_attrs",
    "verify_store",
]
