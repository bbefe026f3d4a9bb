"""``local`` source: a folder of GeoTIFF/COG files described by a small manifest.

``manifest.json`` (or ``manifest.csv`` with the same column names, bands separated by spaces)::

    {"items": [
      {"file": "s2.tif", "collection": "sentinel2", "sensor": "sentinel2a",
       "datetime": "2023-10-09T22:28:02Z", "bands": ["B2", "B3", "B4", "B8", "CLP"],
       "scale": 0.0001, "offset": 0.0, "nodata": 0, "cloud_cover": 0.0},
      {"file": "l9.tif", "collection": "landsat", "sensor": "landsat9",
       "datetime": "2023-06-30T22:01:55Z", "bands": ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6"],
       "kind": "reflectance"}
    ]}

Fields: ``file`` (relative to the folder), ``collection`` (``landsat``/``sentinel2``), ``sensor``,
``datetime`` (ISO 8601, UTC if no zone), ``bands`` (names of the file's bands in order, using the
source-native names of :mod:`satsr.fetch.sensors`), optional ``id`` (default: file stem),
``cloud_cover`` (%, default 0), ``kind`` (``"dn"`` default or ``"reflectance"``), ``scale``/
``offset`` (reflectance = DN*scale + offset; default: the collection's standard scaling),
``nodata`` (default: the file's nodata), ``processing_baseline``, ``harmonized`` and any other
property. Files without QA bands are treated as clear wherever they hold valid data.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from satsr.errors import ConfigError, DatasetNotFoundError
from satsr.fetch.types import COLLECTIONS, SENSORS, Acquisition, Grid

MANIFEST_NAMES = ("manifest.json", "manifest.csv")
_RESERVED = {"file", "collection", "sensor", "datetime", "bands", "id", "cloud_cover"}


def _parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class LocalSource:
    """Acquisitions from GeoTIFFs listed in ``<root>/manifest.json`` (or ``.csv``)."""

    name = "local"

    def __init__(self, root: str | os.PathLike[str] | None = None, **_: Any) -> None:
        if root is None:
            raise ConfigError("the local source needs a folder: pass --local-dir DIR (with a "
                              "manifest.json inside)")
        self.root = Path(root).expanduser().resolve()
        self._items: list[Acquisition] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "_items": None}

    def _manifest_rows(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            raise DatasetNotFoundError(f"local source folder {self.root} does not exist; check "
                                       "--local-dir")
        for name in MANIFEST_NAMES:
            path = self.root / name
            if not path.exists():
                continue
            try:
                if name.endswith(".json"):
                    data = json.loads(path.read_text(encoding="utf-8"))
                    rows = data.get("items") if isinstance(data, dict) else data
                    if not isinstance(rows, list):
                        raise ConfigError(f"{path} must hold a list of items (or {{'items': [...]}})")
                    return [dict(r) for r in rows]
                with path.open(newline="", encoding="utf-8") as fh:
                    out = []
                    for row in csv.DictReader(fh):
                        rec: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
                        rec["bands"] = str(rec.get("bands", "")).replace(";", " ").split()
                        for key in ("scale", "offset", "nodata", "cloud_cover"):
                            if key in rec:
                                rec[key] = float(rec[key])
                        out.append(rec)
                    return out
            except (json.JSONDecodeError, ValueError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"cannot parse {path} ({exc}); fix the manifest") from None
        raise DatasetNotFoundError(f"{self.root} has no manifest.json or manifest.csv; write one "
                                   "(see satsr.fetch.sources.local)")

    def items(self) -> list[Acquisition]:
        """Every acquisition in the manifest (files opened once to read their grids)."""
        if self._items is not None:
            return self._items
        import rasterio
        from rasterio.warp import transform_geom

        items = []
        for k, row in enumerate(self._manifest_rows()):
            where = f"manifest item {k} ({row.get('file', '?')})"
            for key in ("file", "collection", "sensor", "datetime", "bands"):
                if key not in row:
                    raise ConfigError(f"{where} lacks {key!r}; see satsr.fetch.sources.local")
            if row["collection"] not in COLLECTIONS:
                raise ConfigError(f"{where}: collection {row['collection']!r} is not one of {COLLECTIONS}")
            if row["sensor"] not in SENSORS:
                raise ConfigError(f"{where}: sensor {row['sensor']!r} is not one of {SENSORS}")
            path = self.root / str(row["file"])
            if not path.exists():
                raise DatasetNotFoundError(f"{where}: file {path} does not exist")
            with rasterio.open(path) as ds:
                bands = [str(b) for b in row["bands"]]
                if len(bands) != ds.count:
                    raise ConfigError(f"{where}: manifest lists {len(bands)} bands, file has {ds.count}")
                crs = ds.crs.to_string()
                transform = tuple(ds.transform)[:6]
                width, height = ds.width, ds.height
                file_nodata = ds.nodata
                foot = transform_geom(ds.crs, "EPSG:4326",
                                      shapely.geometry.mapping(shapely.box(*ds.bounds)),
                                      antimeridian_cutting=True, precision=9)
            props = {k: v for k, v in row.items() if k not in _RESERVED}
            props["bands"] = bands
            props["file"] = str(row["file"])
            if "nodata" not in props and file_nodata is not None:
                props["nodata"] = float(file_nodata)
            items.append(Acquisition(
                id=str(row.get("id") or Path(str(row["file"])).stem),
                collection=str(row["collection"]), sensor=str(row["sensor"]),
                time=_parse_time(str(row["datetime"])),
                cloud_cover=float(row.get("cloud_cover", 0.0)), crs=crs,
                transform=transform, width=width, height=height,
                properties=props, footprint=dict(foot)))
        self._items = sorted(items, key=lambda a: (a.time, a.id))
        return self._items

    def search(self, geometry: shapely.Geometry, start: date, end: date, collection: str, *,
               max_cloud: float = 100.0) -> list[Acquisition]:
        """Manifest items of ``collection`` intersecting ``geometry`` within [start, end] (UTC dates)
        with cloud cover ≤ ``max_cloud``."""
        out = []
        for acq in self.items():
            if acq.collection != collection or acq.cloud_cover > max_cloud:
                continue
            if not start <= acq.time.date() <= end:
                continue
            if acq.footprint is not None and not shapely.geometry.shape(acq.footprint).intersects(geometry):
                continue
            out.append(acq)
        return out

    def read(self, acq: Acquisition, bands: Sequence[str], grid: Grid) -> np.ndarray:
        """Raw values of ``bands`` on ``grid`` (a window of the file's grid: a plain windowed read,
        filled with nodata outside the file; any other grid: nearest-neighbour warp)."""
        import rasterio
        from rasterio.warp import Resampling, reproject
        from rasterio.windows import Window

        names = list(acq.properties.get("bands", []))
        missing = [b for b in bands if b not in names]
        if missing:
            raise ConfigError(f"{acq.id} has no band(s) {missing}; it has {names}")
        indexes = [names.index(b) + 1 for b in bands]
        path = self.root / str(acq.properties["file"])
        with rasterio.open(path) as ds:
            fill = ds.nodata if ds.nodata is not None else 0
            native = acq.grid
            aligned = (grid.crs == native.crs and grid.resolution == native.resolution)
            if aligned:
                col = (grid.transform[2] - native.transform[2]) / native.transform[0]
                row = (grid.transform[5] - native.transform[5]) / native.transform[4]
                aligned = abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6
            if aligned:
                r0, c0 = round(row), round(col)
                out = np.full((len(indexes), grid.height, grid.width), fill, dtype=ds.dtypes[0])
                rs, cs = max(0, r0), max(0, c0)
                re_, ce = min(ds.height, r0 + grid.height), min(ds.width, c0 + grid.width)
                if re_ > rs and ce > cs:
                    out[:, rs - r0:re_ - r0, cs - c0:ce - c0] = ds.read(
                        indexes, window=Window(cs, rs, ce - cs, re_ - rs))
                return out
            out = np.full((len(indexes), grid.height, grid.width), fill, dtype=ds.dtypes[0])
            for k, idx in enumerate(indexes):
                reproject(rasterio.band(ds, idx), out[k], dst_transform=grid.to_affine(),
                          dst_crs=grid.crs, dst_nodata=fill, resampling=Resampling.nearest)
            return out


__all__ = ["MANIFEST_NAMES", "LocalSource"]
