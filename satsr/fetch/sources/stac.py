"""``stac`` source: a STAC API (default Earth Search v1) through pystac-client, read with odc-stac.

Collections: ``landsat-c2-l2`` (Landsat 8/9 Collection 2 Level-2) and ``sentinel-2-c1-l2a``
(Sentinel-2 L2A, Collection 1). Source-native band names map to Earth Search asset keys:

===========  ==========  ===========  ==========
Landsat      asset       Sentinel-2   asset
===========  ==========  ===========  ==========
SR_B2..B5    blue, green, red, nir08   B2, B3, B4  blue, green, red
QA_PIXEL     qa_pixel    B8, B8A      nir, nir08
QA_RADSAT    qa_radsat   SCL          scl
===========  ==========  ===========  ==========

Scaling comes from the assets' ``raster:bands`` ``scale``/``offset`` when the catalogue gives
them (Earth Search's Collection 1 states the −0.1 BOA offset there); otherwise from
``s2:processing_baseline`` (≥ 04.00 → (DN − 1000)/10000) via :mod:`satsr.fetch.sensors`.
Earth Search carries no Cloud Score+, so Sentinel-2 masks use SCL.

Reads go through ``odc.stac.load`` on the exact grid the pipeline asks for (nearest
neighbour), so 20 m assets (B8A, SCL) come out on the 10 m grid without interpolation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from satsr.errors import ConfigError, SatsrError
from satsr.fetch.types import Acquisition, Grid

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
DEFAULT_COLLECTIONS = {"landsat": "landsat-c2-l2", "sentinel2": "sentinel-2-c1-l2a"}
ASSET_KEYS: dict[str, dict[str, str]] = {
    "landsat": {"SR_B2": "blue", "SR_B3": "green", "SR_B4": "red", "SR_B5": "nir08",
                "QA_PIXEL": "qa_pixel", "QA_RADSAT": "qa_radsat"},
    "sentinel2": {"B2": "blue", "B3": "green", "B4": "red", "B8": "nir", "B8A": "nir08",
                  "SCL": "scl"},
}
_REFERENCE_ASSET = "red"


def _sensor(collection: str, platform: str) -> str:
    p = platform.lower().replace("_", "-")
    if collection == "landsat":
        for n in ("8", "9"):
            if p.endswith(n):
                return f"landsat{n}"
    else:
        for s in ("a", "b", "c"):
            if p.endswith(f"2{s}"):
                return f"sentinel2{s}"
    raise SatsrError(f"unknown {collection} platform {platform!r} in the STAC item")


def _epsg(item: dict[str, Any], asset: dict[str, Any]) -> str:
    for src in (asset, item["properties"]):
        if src.get("proj:code"):
            return str(src["proj:code"])
        if src.get("proj:epsg"):
            return f"EPSG:{int(src['proj:epsg'])}"
    raise SatsrError(f"STAC item {item.get('id')} has no proj:epsg/proj:code; cannot place its grid")



def _stac_module(name: str) -> Any:
    """Import one of the ``[stac]`` extra's packages, or say in one line how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--source stac needs the package {exc.name!r}, which is not "
                          "installed; install it with `pip install 'satsr[stac]'`") from None

class StacSource:
    """Search a STAC API and read assets with odc-stac. Picklable; the client opens lazily."""

    name = "stac"

    def __init__(self, url: str = EARTH_SEARCH, *, collections: dict[str, str] | None = None,
                 **_: Any) -> None:
        self.url = url
        self.collections = {**DEFAULT_COLLECTIONS, **(collections or {})}
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "collections": self.collections, "_client": None}

    def _open(self) -> Any:
        if self._client is None:
            pystac_client = _stac_module("pystac_client")

            try:
                self._client = pystac_client.Client.open(self.url)
            except Exception as exc:  # network / JSON / STAC errors of many types
                raise SatsrError(f"cannot open the STAC API at {self.url} ({type(exc).__name__}: "
                                 f"{exc}); check --stac-url and the network") from None
        return self._client

    def _acquisition(self, item: dict[str, Any], collection: str) -> Acquisition | None:
        keys = ASSET_KEYS[collection]
        assets = item.get("assets", {})
        ref = assets.get(_REFERENCE_ASSET)
        if ref is None or ("proj:transform" not in ref and "proj:transform" not in item["properties"]):
            return None
        props_in = item["properties"]
        transform = ref.get("proj:transform") or props_in["proj:transform"]
        shape = ref.get("proj:shape") or props_in["proj:shape"]
        props: dict[str, Any] = {
            "bands": [b for b, k in keys.items() if k in assets],
            "assets": {b: assets[k]["href"] for b, k in keys.items() if k in assets},
            "stac_item": item,
        }
        rb = (ref.get("raster:bands") or [{}])[0]
        if "scale" in rb or "offset" in rb:
            props["scale"] = float(rb.get("scale", 1.0))
            props["offset"] = float(rb.get("offset", 0.0))
        if rb.get("nodata") is not None:
            props["nodata"] = float(rb["nodata"])
        if "s2:processing_baseline" in props_in:
            props["processing_baseline"] = props_in["s2:processing_baseline"]
        when = datetime.fromisoformat(str(props_in["datetime"]).replace("Z", "+00:00")).astimezone(UTC)
        cloud = props_in.get("eo:cloud_cover", props_in.get("landsat:cloud_cover_land", 0.0))
        return Acquisition(
            id=str(item["id"]), collection=collection,
            sensor=_sensor(collection, str(props_in.get("platform", ""))), time=when,
            cloud_cover=float(cloud if cloud is not None else 0.0), crs=_epsg(item, ref),
            transform=tuple(float(v) for v in transform[:6]), width=int(shape[1]),
            height=int(shape[0]), properties=props, footprint=item.get("geometry"))

    def search(self, geometry: shapely.Geometry, start: date, end: date, collection: str, *,
               max_cloud: float = 100.0) -> list[Acquisition]:
        """Items of ``collection`` over ``geometry`` with start <= date <= end and cloud <= max."""
        if collection not in self.collections:
            raise ConfigError(f"unknown collection {collection!r}; choose {list(self.collections)}")
        client = self._open()
        try:
            search = client.search(
                collections=[self.collections[collection]],
                intersects=shapely.geometry.mapping(geometry),
                datetime=f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z",
                query={"eo:cloud_cover": {"lte": max_cloud}} if max_cloud < 100 else None)
            items = [it.to_dict() for it in search.items()]
        except Exception as exc:
            raise SatsrError(f"STAC search at {self.url} failed ({type(exc).__name__}: {exc}); "
                             "check --stac-url and the network") from None
        out = []
        for item in items:
            acq = self._acquisition(item, collection)
            if acq is None or acq.cloud_cover > max_cloud or not start <= acq.time.date() <= end:
                continue
            out.append(acq)
        return sorted(out, key=lambda a: (a.time, a.id))

    def read(self, acq: Acquisition, bands: Sequence[str], grid: Grid) -> np.ndarray:
        """Raw values of ``bands`` on ``grid`` (nearest), native dtype, shape (band, H, W)."""
        pystac = _stac_module("pystac")
        _stac_module("odc.stac")
        from affine import Affine
        from odc.geo.geobox import GeoBox
        from odc.stac import load

        keys = ASSET_KEYS[acq.collection]
        missing = [b for b in bands if b not in acq.properties.get("bands", [])]
        if missing:
            raise ConfigError(f"STAC item {acq.id} has no asset for band(s) {missing}")
        item = pystac.Item.from_dict(acq.properties["stac_item"])
        geobox = GeoBox((grid.height, grid.width), Affine(*grid.transform), grid.crs)
        assets = [keys[b] for b in bands]
        # not under quiet_raster_calls: its process-wide lock would serialise the (network)
        # reads. odc-geo 0.5's calls to deprecated shapely/affine APIs only raise
        # (Pending)DeprecationWarnings, which Python hides outside __main__.
        ds = load([item], bands=assets, geobox=geobox, resampling="nearest", chunks=None,
                  groupby="id", fail_on_error=True)
        return np.stack([np.asarray(ds[a].values[0]) for a in assets])


__all__ = ["ASSET_KEYS", "DEFAULT_COLLECTIONS", "EARTH_SEARCH", "StacSource"]
