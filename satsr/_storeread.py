"""Open a store written by satsr (format 2) without xarray's Zarr backend.

``xr.open_zarr`` plus wrapping every large variable in a verified reader cost more than
reading and decompressing a prepared PROBA-V band store (``benchmarks/bench_probav_loading.py``).
A store that :func:`satsr.schema.save_dataset` wrote is simple enough to assemble directly:
every array carries its chunk checksums, a codec pipeline :mod:`satsr._chunkio` decodes and
no CF encoding beyond a NaN fill value on floats. :func:`open_store` builds the
``xr.Dataset`` from the ``zarr.json`` files, reads the small arrays (coordinates, ``norm``)
eagerly and backs the large ones with :class:`satsr.integrity.GuardedArray` (lazy, every chunk
verified when read). Any other store returns ``None`` and is opened by xarray as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satsr import _chunkio
from satsr.integrity import _INTERNAL_ATTRS, CRC_ATTR, GuardedArray, lazy_guarded

#: Attributes that need xarray's CF decoding (their stores take the xarray path).
_CF_ATTRS = frozenset({"units", "calendar", "scale_factor", "add_offset", "missing_value",
                       "dtype", "_Unsigned", "_Encoding", "flag_values", "valid_range"})
_INTERNAL = frozenset({*_INTERNAL_ATTRS, "coordinates", "_FillValue"})


def _arrays(path: Path) -> dict[str, dict[str, Any]] | None:
    """``{name: zarr.json}`` of the store's arrays, or None when one is not simple enough."""
    metas: dict[str, dict[str, Any]] = {}
    for child in sorted(path.iterdir()):
        meta_file = child / "zarr.json"
        if not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text())
        if meta.get("node_type") != "array":
            return None  # nested groups: not a satsr store
        attrs = meta.get("attributes", {})
        kind = np.dtype(_chunkio.numpy_dtype(meta)).kind
        if (CRC_ATTR not in attrs or _chunkio.fast_codecs(meta) is None
                or _CF_ATTRS & attrs.keys() or ("_FillValue" in attrs and kind != "f")
                or meta.get("dimension_names") is None or not meta.get("shape")
                or meta["chunk_grid"].get("name") != "regular"):
            return None
        metas[child.name] = meta
    return metas


def open_store(path: Path, large: tuple[str, ...], *, dask: bool) -> xr.Dataset | None:
    """The store as a lazily loaded dataset (``large`` variables lazy, the rest in memory),
    or None when it is not a format-2 satsr store."""
    if not (path / "zarr.json").is_file():
        return None
    root = json.loads((path / "zarr.json").read_text())
    metas = _arrays(path)
    if root.get("node_type") != "group" or not metas:
        return None
    coords = {n for n, m in metas.items() if tuple(m["dimension_names"]) == (n,)}
    for meta in metas.values():
        coords.update(meta.get("attributes", {}).get("coordinates", "").split())
    variables: dict[str, xr.Variable] = {}
    for name, meta in metas.items():
        guarded = GuardedArray(None, path, name, meta)
        attrs = {k: v for k, v in meta.get("attributes", {}).items() if k not in _INTERNAL}
        if name in large and name not in coords:
            data = lazy_guarded(guarded, guarded.grid if dask else None)  # a task per chunk
        else:
            data = guarded[(slice(None),) * guarded.ndim]
        variables[name] = xr.Variable(tuple(meta["dimension_names"]), data, attrs)
    data_vars = {n: v for n, v in variables.items() if n not in coords}
    coord_vars = {n: v for n, v in variables.items() if n in coords}
    return xr.Dataset(data_vars, coords=coord_vars, attrs=root.get("attributes", {}))


__all__ = ["open_store"]
