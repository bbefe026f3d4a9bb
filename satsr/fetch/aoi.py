"""Areas of interest: parse and validate GeoJSON / bbox input, pick the UTM zone.

Accepted input: a GeoJSON ``FeatureCollection``, ``Feature``, ``Polygon`` or ``MultiPolygon``
(a file path or an already-parsed mapping), or a ``minlon,minlat,maxlon,maxlat`` bounding box.
Coordinates must be WGS84 longitude/latitude (RFC 7946). Every problem raises
:class:`AOIError` with one line that names the problem and the fix.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
import shapely.validation

from satsr.errors import SatsrError

#: default upper limit of the AOI area (km²); ``--max-area-km2`` raises it
DEFAULT_MAX_AREA_KM2 = 2500.0

_WGS84_CRS_NAMES = {
    "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326", "CRS84", "OGC:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
}


class AOIError(SatsrError, ValueError):
    """The area of interest cannot be used (unparseable, invalid, not WGS84, empty, too large)."""


@dataclass(frozen=True)
class AOI:
    """A validated area of interest.

    ``geometry`` is a (Multi)Polygon in WGS84 lon/lat; ``utm_crs`` the UTM zone of its centroid
    (``"EPSG:326zz"`` north, ``"EPSG:327zz"`` south); ``area_km2`` its area measured in that zone.
    """

    name: str
    geometry: shapely.Geometry
    utm_crs: str
    area_km2: float

    def to_utm(self) -> shapely.Geometry:
        """The geometry projected to :attr:`utm_crs` (metres)."""
        return project(self.geometry, "EPSG:4326", self.utm_crs)


def utm_crs_for(lon: float, lat: float) -> str:
    """The WGS84 UTM zone CRS (``EPSG:326zz``/``EPSG:327zz``) containing a lon/lat point.

    Standard 6° zones from the centroid (the Norway/Svalbard exceptions are ignored on purpose:
    any zone works for a grid, and the plain rule is what users can check by hand)."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def project(geom: shapely.Geometry, src_crs: str, dst_crs: str) -> shapely.Geometry:
    """Reproject a shapely geometry between CRSs (always x=lon/easting, y=lat/northing order)."""
    if src_crs == dst_crs:
        return geom
    from pyproj import Transformer

    tr = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(geom, tr.transform, interleaved=False)


def _load(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, Mapping):
        return source, "aoi"
    path = Path(source)
    if not path.exists():
        raise AOIError(f"AOI file {path} does not exist; pass a GeoJSON file path (--aoi) or use "
                       "--bbox minlon,minlat,maxlon,maxlat")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AOIError(f"AOI file {path} is not valid GeoJSON ({exc}); fix the JSON syntax"
                       ) from None
    except RecursionError:
        raise AOIError(f"AOI file {path} nests JSON arrays/objects too deeply to be GeoJSON; "
                       "fix the file") from None
    if not isinstance(data, Mapping):
        raise AOIError(f"AOI file {path} holds a JSON {type(data).__name__}, not a GeoJSON object")
    return data, path.stem


def _check_crs(obj: Mapping[str, Any]) -> None:
    crs = obj.get("crs")
    if crs is None:
        return
    props = crs.get("properties") if isinstance(crs, Mapping) else None
    name = props.get("name") if isinstance(props, Mapping) else (props if props is not None
                                                                  else crs)
    if str(name) not in _WGS84_CRS_NAMES:
        raise AOIError(f"AOI declares crs {name!r}; satsr needs WGS84 longitude/latitude "
                       "(RFC 7946): reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`")


def _geometries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise AOIError("AOI FeatureCollection has no 'features' list; fix the GeoJSON")
        out: list[Mapping[str, Any]] = []
        for feat in feats:
            if not isinstance(feat, Mapping):
                raise AOIError("AOI FeatureCollection holds a non-object feature; fix the GeoJSON")
            out.extend(_geometries(feat))
        return out
    if kind == "Feature":
        geom = obj.get("geometry")
        if not isinstance(geom, Mapping):
            raise AOIError("AOI Feature has no geometry; give it a Polygon or MultiPolygon")
        return [geom]
    if kind in ("Polygon", "MultiPolygon"):
        return [obj]
    if kind == "GeometryCollection":
        return [g for g in obj.get("geometries", []) if isinstance(g, Mapping)]
    raise AOIError(f"AOI GeoJSON type {kind!r} is not supported; use a FeatureCollection, Feature, "
                   "Polygon or MultiPolygon")


def parse_bbox(text: str) -> shapely.Polygon:
    """``"minlon,minlat,maxlon,maxlat"`` → a WGS84 box polygon."""
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4:
        raise AOIError(f"--bbox {text!r} is not four numbers; use --bbox minlon,minlat,maxlon,maxlat")
    minx, miny, maxx, maxy = vals
    if not (minx < maxx and miny < maxy):
        raise AOIError(f"--bbox {text!r} is empty or inverted; use minlon < maxlon and minlat < maxlat")
    return shapely.box(minx, miny, maxx, maxy)


def load_aoi(
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    bbox: str | tuple[float, float, float, float] | None = None,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    name: str | None = None,
) -> AOI:
    """Parse and validate an AOI from a GeoJSON file/mapping or a bbox; see module docstring."""
    if (source is None) == (bbox is None):
        raise AOIError("give exactly one of --aoi FILE.geojson or --bbox minlon,minlat,maxlon,maxlat")
    if bbox is not None:
        geom: shapely.Geometry = (parse_bbox(bbox) if isinstance(bbox, str)
                                  else shapely.box(*[float(v) for v in bbox]))
        stem = "bbox"
    else:
        assert source is not None
        data, stem = _load(source)
        _check_crs(data)
        if data.get("type") == "FeatureCollection":
            for feat in data.get("features") or []:
                if isinstance(feat, Mapping):
                    _check_crs(feat)
        parts = []
        for gj in _geometries(data):
            if gj.get("type") not in ("Polygon", "MultiPolygon"):
                raise AOIError(f"AOI holds a {gj.get('type')} geometry; only Polygon and "
                               "MultiPolygon areas are supported")
            try:
                parts.append(shapely.geometry.shape(gj))
            except Exception as exc:  # shapely raises several types for bad coordinates
                raise AOIError(f"AOI geometry cannot be read ({type(exc).__name__}: {exc}); "
                               "check its coordinate arrays") from None
        if not parts:
            raise AOIError("AOI has no polygon; add a Polygon or MultiPolygon feature")
        for part in parts:
            _check_part(part)
        geom = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    _check_part(geom)
    centroid = geom.centroid
    utm = utm_crs_for(centroid.x, centroid.y)
    area = project(geom, "EPSG:4326", utm).area / 1e6
    if area > max_area_km2:
        raise AOIError(f"AOI covers {area:,.1f} km², more than the limit of {max_area_km2:,.0f} km²; "
                       "split it or raise the limit with --max-area-km2")
    return AOI(name=name or stem, geometry=geom, utm_crs=utm, area_km2=float(area))


def _check_part(geom: shapely.Geometry) -> None:
    if geom.is_empty:
        raise AOIError("AOI geometry is empty; draw a polygon with at least three distinct corners")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise AOIError(f"AOI coordinates {geom.bounds} are outside longitude/latitude range; the "
                       "file is probably not WGS84 (reproject it to EPSG:4326)")
    if maxx - minx > 180:
        raise AOIError("AOI spans more than 180° of longitude (antimeridian crossing?); split it "
                       "into parts on each side of ±180°")
    if not geom.is_valid:
        reason = shapely.validation.explain_validity(geom)
        raise AOIError(f"AOI geometry is invalid: {reason}; fix it (e.g. shapely make_valid or "
                       "QGIS 'Fix geometries')")
    if geom.area == 0:
        raise AOIError("AOI geometry is empty (no area); draw a polygon with at least three "
                       "distinct corners")


__all__ = ["AOI", "DEFAULT_MAX_AREA_KM2", "AOIError", "load_aoi", "parse_bbox", "project",
           "utm_crs_for"]
