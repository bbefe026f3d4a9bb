"""The work folder of a raster prediction: a Zarr array filled tile by tile, and a ledger.

``.<out name>.partial/`` next to the output holds ``sr.zarr`` (band, Y, X) float32 with one
chunk per tile core, and ``state.json`` (what decides the output, and the finished tiles).
A tile's chunk is written before the tile is recorded, and the ledger is replaced atomically,
so after Ctrl-C or a crash the folder is a valid, readable partial result and the next run
(``--resume``, the default) computes only the missing tiles. A folder left by a run with other
inputs or options is an error, never silently mixed. Finishing streams the array into a tiled
GeoTIFF (through rioxarray) under a temporary name and renames it onto the output.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satsr._atomic import write_text
from satsr.errors import ConfigError
from satsr.predict.raster import Grid

STATE = "state.json"
ARRAY = "sr.zarr"


def partial_dir(out: Path) -> Path:
    """The work folder of output ``out`` (hidden sibling)."""
    return out.with_name(f".{out.name}.partial")


@dataclass
class Partial:
    """An open work folder: ``write`` a tile's core, ``done`` the finished tile indexes."""

    folder: Path
    fingerprint: dict[str, Any]
    done: set[int] = field(default_factory=set)
    _array: Any = None

    @property
    def array_path(self) -> Path:
        return self.folder / ARRAY

    def write(self, index: int, y0: int, x0: int, block: np.ndarray) -> None:
        """Store ``block`` (C, h, w) at SR pixel (y0, x0); the caller then calls :meth:`commit`."""
        self._array[:, y0:y0 + block.shape[1], x0:x0 + block.shape[2]] = block
        self.done.add(index)

    def commit(self) -> None:
        """Record the finished tiles (atomic replace of the ledger)."""
        write_text(self.folder / STATE, json.dumps(
            {"fingerprint": self.fingerprint, "done": sorted(self.done)}, sort_keys=True))


def open_partial(out: Path, fingerprint: dict[str, Any], *, shape: tuple[int, int, int],
                 chunk: int, fill_value: float, resume: bool) -> Partial:
    """Open the work folder of ``out`` for ``fingerprint`` (create it, resume it or fail)."""
    import zarr

    folder = partial_dir(out)
    state_path = folder / STATE
    if folder.exists() and resume and state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("fingerprint") != fingerprint:
            raise ConfigError(f"{folder} holds an unfinished prediction with other inputs or "
                              "options; rerun with those, or pass --no-resume to start over")
        array = zarr.open_array(str(folder / ARRAY), mode="r+")
        return Partial(folder, fingerprint, set(state.get("done", [])), array)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    array = zarr.create_array(store=str(folder / ARRAY), shape=shape, dtype="float32",
                              chunks=(shape[0], chunk, chunk), fill_value=fill_value)
    part = Partial(folder, fingerprint, set(), array)
    part.commit()
    return part


def finish(part: Partial, out: Path, grid: Grid, *, bands: list[str], nodata: float,
           tags: dict[str, str], cog: bool = False) -> Path:
    """Stream the finished array into ``out`` (tiled, deflate GeoTIFF, or COG) atomically."""
    import dask
    import dask.array as da
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    from satsr._atomic import write_via

    data = da.from_zarr(str(part.array_path))
    arr = xr.DataArray(data, dims=("band", "y", "x"),
                       coords={"band": np.arange(1, data.shape[0] + 1)})
    arr = arr.rio.write_crs(grid.crs).rio.write_transform(_affine(grid))
    arr = arr.rio.write_nodata(nodata, encoded=False)
    arr.attrs.update(tags)
    arr.attrs["long_name"] = tuple(bands)

    def write(tmp: Path) -> None:
        target = tmp.with_name(tmp.name + ".gtiff.tif") if cog else tmp
        # one chunk at a time, in order: the file layout (and so its bytes) is reproducible
        with dask.config.set(scheduler="synchronous"):
            arr.rio.to_raster(target, driver="GTiff", tiled=True, blockxsize=256,
                              blockysize=256, compress="deflate", lock=threading.Lock(),
                              windowed=True, BIGTIFF="IF_SAFER")
        if cog:
            from rasterio.shutil import copy

            try:
                copy(target, tmp, driver="COG", COMPRESS="DEFLATE", BIGTIFF="IF_SAFER")
            finally:
                target.unlink(missing_ok=True)

    write_via(out, write)
    shutil.rmtree(part.folder, ignore_errors=True)
    return out


def _affine(grid: Grid) -> Any:
    from affine import Affine

    a, b, c, d, e, f = grid.transform
    return Affine(a, b, c, d, e, f)
