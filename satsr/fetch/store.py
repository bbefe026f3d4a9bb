"""Writing fetched chips: one atomic sample-schema store per tile, assembled at the end.

Work layout under the output folder::

    OUT/.work/tiles/<tile>.zarr   chips of one tile (absent when the tile yielded none)
    OUT/.work/tiles/<tile>.json   the tile's record; written last, so its presence = tile done
    OUT/chips.zarr                the assembled store (satsr.schema), written atomically
    OUT/footprints.geojson        chip footprints (WGS84) with scene id, split and dates
    OUT/provenance.json           source, acquisitions, Δt, shifts, parameters, satsr version

A killed run leaves complete tiles (and at most a hidden temporary folder); rerunning skips the
tiles whose ``.json`` exists. Every step is deterministic, so the result is byte-identical to an
uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from satsr import schema
from satsr._atomic import write_text
from satsr.errors import ConfigError

STORE_NAME = "chips.zarr"
FOOTPRINTS_NAME = "footprints.geojson"
PROVENANCE_NAME = "provenance.json"
WORK_NAME = ".work"


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temporary file and ``os.replace`` (sorted keys, stable)."""
    write_text(path, json.dumps(obj, sort_keys=True, indent=1, default=str) + "\n")


class TileStore:
    """Per-tile results under ``<out>/.work/tiles``."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.dir = self.out / WORK_NAME / "tiles"

    def done(self, tile_id: str) -> bool:
        """True when the tile was completed by an earlier (or this) run."""
        return (self.dir / f"{tile_id}.json").exists()

    def record(self, tile_id: str) -> dict[str, Any]:
        """The tile's JSON record."""
        return dict(json.loads((self.dir / f"{tile_id}.json").read_text(encoding="utf-8")))

    def write(self, tile_id: str, ds: xr.Dataset | None, record: Mapping[str, Any]) -> None:
        """Save the tile's chips (if any), then its record: the record marks completion."""
        self.dir.mkdir(parents=True, exist_ok=True)
        store = self.dir / f"{tile_id}.zarr"
        if ds is not None:
            import dask  # here: a --dry-run never writes and need not import it

            # a tile's chips are in memory and this runs inside a dask task: computing them on
            # the cluster's scheduler would need the client from the worker thread, which a
            # closing client can withdraw mid-task ("no Client active"); the chips are small
            with dask.config.set(scheduler="synchronous"):
                schema.save_dataset(ds, store, overwrite=True)
        elif store.exists():
            shutil.rmtree(store)
        write_json_atomic(self.dir / f"{tile_id}.json", {**record, "has_chips": ds is not None})

    def open(self, tile_id: str) -> xr.Dataset:
        """The tile's chips (lazy)."""
        return xr.open_zarr(self.dir / f"{tile_id}.zarr", consolidated=False)


#: Top-level entries of a Zarr store (v2 and v3 metadata); anything else is not satsr's.
_ZARR_META = {"zarr.json", ".zgroup", ".zattrs", ".zmetadata", ".zarray"}


def _own_provenance(path: Path) -> bool:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(obj, dict) and "fingerprint" in obj and "satsr_version" in obj


def _foreign_in_store(store: Path) -> list[str]:
    """Entries at the top of ``store`` that a satsr Zarr store does not hold."""
    odd = []
    for entry in sorted(store.iterdir()):
        if entry.is_dir():
            if not any((entry / m).exists() for m in _ZARR_META):
                odd.append(entry.name)
        elif entry.name not in _ZARR_META:
            odd.append(entry.name)
    return odd


def check_outputs(out: Path) -> None:
    """Refuse to touch a ``provenance.json`` or ``chips.zarr`` in ``out`` that satsr did not
    write: a fetch replaces its own outputs only, and never deletes a user's files."""
    prov, store = out / PROVENANCE_NAME, out / STORE_NAME
    if prov.exists() and not _own_provenance(prov):
        raise ConfigError(f"{prov} was not written by satsr fetch; move it away or choose "
                          "another --out (satsr never overwrites files it did not write)")
    if not store.exists():
        return
    unfinished = (out / WORK_NAME / "fingerprint.json").exists()
    if not store.is_dir() or not (prov.exists() or unfinished):
        raise ConfigError(f"{store} exists but was not written by satsr fetch (no provenance."
                          "json beside it); move it away or choose another --out")
    odd = _foreign_in_store(store)
    if odd:
        raise ConfigError(f"{store} holds {', '.join(odd[:3])} that satsr did not write; move "
                          "them away or choose another --out")


def assemble(tiles: TileStore, tile_ids: Sequence[str], provenance: Mapping[str, Any]) -> Path:
    """Concatenate the tiles' chips (in ``tile_ids`` order) into ``<out>/chips.zarr`` atomically."""
    parts = [tiles.open(t) for t in tile_ids if tiles.record(t).get("has_chips")]
    if not parts:
        raise ValueError("no tile produced chips")
    ds = xr.concat(parts, dim="scene", data_vars="all", coords="different", compat="equals",
                   join="exact") if len(parts) > 1 else parts[0]
    for name in ("scene", "band", "split", "crs", "hr_id", "lr_id", "coreg_status"):
        if name in ds.coords:
            ds = ds.assign_coords({name: (ds[name].dims, ds[name].values.astype(object))})
    ds.attrs["provenance"] = json.dumps(dict(provenance), sort_keys=True, default=str)
    # a pair is only scoreable where both sensors saw the ground (see satsr.bench.run)
    ds.attrs["score_mask"] = "hr&lr"
    return schema.save_dataset(ds, tiles.out / STORE_NAME, overwrite=True)


__all__ = ["FOOTPRINTS_NAME", "PROVENANCE_NAME", "STORE_NAME", "WORK_NAME", "TileStore",
           "assemble", "check_outputs", "write_json_atomic"]
