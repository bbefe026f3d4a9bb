"""Store integrity: chunk checksums, content hashes, missing chunks, guarded reads, ``verify``.

Every sample-schema Zarr store that :func:`satsr.schema.save_dataset` writes carries two
layers of protection:

- a **crc32c** codec at the end of every array's codec pipeline, so zarr itself rejects a
  truncated, bit-flipped or random chunk file when it decodes it;
- a **content hash** (sha256 of the decoded values) of every chunk, recorded in the array's
  ``zarr.json`` attribute ``_satsr_chunk_sha256`` (chunk key → hex). A chunk file replaced by
  another *valid* chunk (e.g. ``hr/c/1/…`` copied over ``hr/c/0/…``) passes its crc32c but not
  the hash of its position. A chunk holds a block of whole scenes, so this is a per-scene-block
  content hash that stays valid whatever the chunking.

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

from satsr.errors import CorruptFileError

log = logging.getLogger(__name__)

#: Array attribute holding ``{chunk key: sha256 hex of the decoded chunk}``.
HASH_ATTR = "_satsr_chunk_sha256"

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
    """Decode every chunk of every array of ``store`` and record its content hash."""
    import zarr

    store = Path(store)
    group = zarr.open_group(store, mode="r+")
    for name, folder in _arrays(store):
        meta = _meta(folder)
        shape, chunks = _grid(meta)
        arr: Any = group[name]
        hashes = {_chunk_key(meta, i): content_hash(arr[_slices(i, shape, chunks)])
                  for i in _chunk_indices(shape, chunks)}
        arr.attrs[HASH_ATTR] = hashes


def has_hashes(store: str | os.PathLike[str]) -> bool:
    """True when every array of ``store`` records content hashes (written by this satsr)."""
    return all(HASH_ATTR in _meta(folder).get("attributes", {}) for _, folder in _arrays(Path(store)))


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
        if HASH_ATTR not in meta.get("attributes", {}):
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
        want = meta["attributes"][HASH_ATTR]
        shape, chunks = _grid(meta)
        arr: Any = group[name]
        for index in _chunk_indices(shape, chunks):
            key = _chunk_key(meta, index)
            try:
                got = content_hash(arr[_slices(index, shape, chunks)])
            except Exception as exc:  # crc32c mismatch, zstd errors, bad lengths ...
                problems.append(f"{store}: variable {name!r} chunk {key} cannot be decoded "
                                f"({type(exc).__name__}); {FIX}")
                continue
            if got != want.get(key):
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
    """A zarr array whose reads decode whole chunks, verify their recorded content hashes and
    raise one-line :class:`CorruptFileError` on any decode failure (crc32c, zstd, length).

    ``__getitem__`` accepts what dask passes (slices, integers, or other indexers after graph
    fusion): the chunk-aligned region around the request is read and checked, then sliced.
    """

    def __init__(self, array: Any, store: Path, name: str, meta: dict[str, Any]) -> None:
        self.array, self.store, self.name, self.meta = array, store, name, meta
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.grid = _grid(meta)[1]
        self.hashes: dict[str, str] = meta["attributes"][HASH_ATTR]

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

    def _check(self, values: np.ndarray, region: tuple[slice, ...]) -> None:
        firsts = [r.start // c if c else 0 for r, c in zip(region, self.grid, strict=True)]
        counts = [-(-(r.stop - r.start) // c) if c else 1
                  for r, c in zip(region, self.grid, strict=True)]
        for offset in itertools.product(*(range(n) for n in counts)):
            index = tuple(f + o for f, o in zip(firsts, offset, strict=True))
            part = values[tuple(slice(o * c, (o + 1) * c) for o, c in
                                zip(offset, self.grid, strict=True))]
            chunk = _chunk_key(self.meta, index)
            if content_hash(part) != self.hashes.get(chunk):
                raise CorruptFileError(f"store {self.store} variable {self.name!r} chunk {chunk}"
                                       f" does not match its content hash (replaced or "
                                       f"altered); {FIX}")

    def __getitem__(self, key: Any) -> np.ndarray:
        region, local = self._plan(key)
        try:
            values = np.asarray(self.array[region])
        except Exception as exc:
            raise CorruptFileError(f"store {self.store} variable {self.name!r} has a chunk that "
                                   f"cannot be decoded ({type(exc).__name__}: checksum or "
                                   f"compression error); {FIX}") from None
        self._check(values, region)
        return values[local]


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
    data = ds[name].data
    if hasattr(data, "dask"):
        import dask.array as da

        if data.chunks != da.core.normalize_chunks(arr.chunks, arr.shape):
            return None
        return da.from_array(guarded, chunks=data.chunks, name=f"satsr-guarded-{name}-"
                             f"{guarded.store}", asarray=False, fancy=False,
                             meta=np.empty((0,) * arr.ndim, ds[name].dtype))
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
        if HASH_ATTR not in meta.get("attributes", {}) or any(
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
    """``ds`` without the internal hash attribute on its variables (kept in the store only)."""
    for name in ds.variables:
        ds[name].attrs.pop(HASH_ATTR, None)
    return ds


__all__ = ["HASH_ATTR", "GuardedArray", "check_chunks_present", "content_hash", "find_stores",
           "guard", "has_hashes", "record_hashes", "strip_hash_attrs", "verify_store"]
