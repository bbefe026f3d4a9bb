"""AOI parsing and validation: every kind of bad input is one clear AOIError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satsr.fetch.aoi import AOIError, load_aoi, utm_crs_for

REPO = Path(__file__).resolve().parents[2]
BOX = [[[-160.845, 63.862], [-160.762, 63.862], [-160.762, 63.897], [-160.845, 63.897],
        [-160.845, 63.862]]]


def _write(tmp_path: Path, obj: object, name: str = "a.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


@pytest.mark.parametrize("wrap", ["polygon", "feature", "collection", "multi"])
def test_accepts_geojson_kinds(tmp_path: Path, wrap: str) -> None:
    poly = {"type": "Polygon", "coordinates": BOX}
    obj = {
        "polygon": poly,
        "feature": {"type": "Feature", "properties": {}, "geometry": poly},
        "collection": {"type": "FeatureCollection",
                       "features": [{"type": "Feature", "properties": {}, "geometry": poly}]},
        "multi": {"type": "MultiPolygon", "coordinates": [BOX]},
    }[wrap]
    aoi = load_aoi(_write(tmp_path, obj, "site.geojson"))
    assert aoi.name == "site"
    assert aoi.utm_crs == "EPSG:32604"
    assert 10 < aoi.area_km2 < 20


def test_example_aoi_and_bbox() -> None:
    aoi = load_aoi(REPO / "datasets" / "aoi" / "unalakleet.geojson")
    box = load_aoi(bbox="-160.845,63.862,-160.762,63.897")
    assert aoi.utm_crs == box.utm_crs == "EPSG:32604"
    assert aoi.area_km2 == pytest.approx(box.area_km2, rel=1e-9)
    # inside the Landsat-9 footprint of the real pair (PROVENANCE.md)
    minx, miny, maxx, maxy = aoi.geometry.bounds
    assert minx > -160.84786 and maxx < -160.75999 and miny > 63.86038 and maxy < 63.89912


@pytest.mark.parametrize(("lon", "lat", "crs"), [
    (-160.8, 63.9, "EPSG:32604"), (0.5, 45.0, "EPSG:32631"), (-179.99, -10.0, "EPSG:32701"),
    (179.99, 10.0, "EPSG:32660"), (13.4, 52.5, "EPSG:32633")])
def test_utm_zone(lon: float, lat: float, crs: str) -> None:
    assert utm_crs_for(lon, lat) == crs


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "not valid GeoJSON"),
    ({"type": "Point", "coordinates": [0, 0]}, "not supported"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
     "invalid: Self-intersection"),
    ({"type": "Polygon", "coordinates": []}, "empty"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0], [0, 0]]]}, "invalid|empty"),
    ({"type": "Polygon", "coordinates": [[[500000, 7000000], [510000, 7000000],
                                          [510000, 7010000], [500000, 7000000]]]},
     "outside longitude/latitude"),
    ({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::32604"}}, "features": []}, "WGS84"),
    ({"type": "FeatureCollection", "features": []}, "no polygon"),
    ({"type": "Polygon", "coordinates": [[[-10, -10], [10, -10], [10, 10], [-10, 10], [-10, -10]]]},
     "more than the limit"),
])
def test_bad_aoi_is_one_clear_line(tmp_path: Path, content: object, match: str) -> None:
    with pytest.raises(AOIError, match=match) as info:
        load_aoi(_write(tmp_path, content))
    assert "\n" not in str(info.value)


def test_area_limit_can_be_raised(tmp_path: Path) -> None:
    big = {"type": "Polygon", "coordinates": [[[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5], [0, 0]]]}
    with pytest.raises(AOIError, match="--max-area-km2"):
        load_aoi(_write(tmp_path, big))
    assert load_aoi(_write(tmp_path, big), max_area_km2=5000).area_km2 > 2500


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,0,3", "-200,0,-199,1"])
def test_bad_bbox(text: str) -> None:
    with pytest.raises(AOIError):
        load_aoi(bbox=text)


def test_missing_file_and_both_inputs(tmp_path: Path) -> None:
    with pytest.raises(AOIError, match="does not exist"):
        load_aoi(tmp_path / "nope.geojson")
    with pytest.raises(AOIError, match="exactly one"):
        load_aoi(tmp_path / "x.geojson", bbox="0,0,1,1")
