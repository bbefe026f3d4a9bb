"""The Earth Engine emulator, driven by the real (unmodified) earthengine-api client."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ee
import numpy as np
import pytest
import rasterio

from satsr.testing.ee_assets import build_l8s2_assets, build_synthetic_assets
from satsr.testing.ee_emulator import EEEmulator, Faults, ee_session, request_size_bytes

PROJECT = "test-project"


@pytest.fixture(scope="module")
def assets(l8s2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("ee-assets")
    real = build_l8s2_assets(l8s2_dir, root)
    synth = build_synthetic_assets(root)
    return root, real, synth


def _band(root: Path, asset_id: str, band: str) -> np.ndarray:
    with rasterio.open(root / asset_id / f"{band}.tif") as ds:
        return ds.read(1)


def _grid(root: Path, asset_id: str, band: str) -> dict:
    meta = json.loads((root / asset_id / "asset.json").read_text())
    return next(b["grid"] for b in meta["bands"] if b["id"] == band)


def test_real_client_initialises_against_discovery_document(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu, ee_session(emu, PROJECT):
        kinds = [r.endpoint for r in emu.records()]
        assert "discovery" in kinds and "algorithms" in kinds
        alg = emu.records("algorithms")[0]
        assert alg.status == 200 and alg.user_project == PROJECT
        assert ee.data.is_initialized()


def test_bad_token_is_refused(assets):
    root, real, _ = assets
    import google.auth.exceptions
    import requests
    from google.oauth2.credentials import Credentials

    with EEEmulator(root) as emu:
        url = f"{emu.url}/v1/projects/{PROJECT}/assets/{real['landsat']}"
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
            resp = requests.get(url, headers=headers, timeout=10)
            assert resp.status_code == 401
            assert resp.json()["error"]["status"] == "UNAUTHENTICATED"
        ok = requests.get(url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["id"] == real["landsat"]
        # the real client: a 401 makes google-auth try (and fail) to refresh the token
        ee.Reset()
        try:
            with pytest.raises(google.auth.exceptions.RefreshError):
                ee.Initialize(Credentials(token="wrong-token"), url=emu.url, project=PROJECT)
                ee.data.getAsset(real["landsat"])
        finally:
            ee.Reset()
        assert emu.records()[-1].status == 401  # the client was refused, then gave up


def test_get_asset_mirrors_rest_image_resource(assets):
    root, real, _ = assets
    with EEEmulator(root) as emu, ee_session(emu):
        asset = ee.data.getAsset(real["sentinel2"])
        assert asset["type"] == "IMAGE" and asset["id"] == real["sentinel2"]
        assert asset["name"].endswith("/assets/" + real["sentinel2"])
        bands = {b["id"]: b for b in asset["bands"]}
        assert set(bands) == {"B2", "B3", "B4", "B8", "SCL"}
        assert bands["B2"]["grid"]["crsCode"] == "EPSG:32603"
        assert bands["SCL"]["grid"]["affineTransform"]["scaleX"] == 20.0
        assert asset["properties"]["CLOUDY_PIXEL_PERCENTAGE"] == 0.0
        assert asset["geometry"]["type"] == "Polygon"
        with pytest.raises(ee.EEException, match="does not exist"):
            ee.data.getAsset("COPERNICUS/S2_SR_HARMONIZED/nope")


def test_list_images_filters_and_paginates(assets):
    root, real, synth = assets
    alaska = {"type": "Point", "coordinates": [-160.8, 63.88]}
    with EEEmulator(root, page_size=1) as emu, ee_session(emu):
        hit = ee.data.listImages({"parent": "LANDSAT/LC09/C02/T1_L2", "startTime": "2023-06-30T00:00:00Z",
                                  "endTime": "2023-07-01T00:00:00Z", "region": alaska,
                                  "filter": "properties.CLOUD_COVER <= 10"})
        assert [i["id"] for i in hit["images"]] == [real["landsat"]]
        assert ee.data.listImages({"parent": "LANDSAT/LC09/C02/T1_L2", "startTime": "2023-07-01T00:00:00Z",
                                   "endTime": "2023-08-01T00:00:00Z"})["images"] == []
        assert ee.data.listImages({"parent": "LANDSAT/LC09/C02/T1_L2",
                                   "filter": "properties.CLOUD_COVER > 10"})["images"] == []
        # the synthetic Landsat-8 scene is in Europe: not in the Alaska region
        assert ee.data.listImages({"parent": "LANDSAT/LC08/C02/T1_L2", "region": alaska})["images"] == []
        # pages of one image, followed through pageToken
        s2 = ee.data.listImages({"parent": "COPERNICUS/S2_SR_HARMONIZED", "pageSize": 5})
        assert len(s2["images"]) == 1 and "nextPageToken" in s2
        rest = ee.data.listImages({"parent": "COPERNICUS/S2_SR_HARMONIZED", "pageSize": 5,
                                   "pageToken": s2["nextPageToken"]})
        ids = {s2["images"][0]["id"], rest["images"][0]["id"]}
        assert ids == {real["sentinel2"], synth["sentinel2"]} and "nextPageToken" not in rest
        flt = emu.records("listAssets")[0].query["filter"]
        assert "startTime >=" in flt and "intersects(" in flt and "properties.CLOUD_COVER <= 10" in flt


@pytest.mark.parametrize("fmt", ["NUMPY_NDARRAY", "GEO_TIFF"])
def test_get_pixels_returns_the_geotiff_values(assets, fmt):
    root, real, _ = assets
    asset = real["landsat"]
    grid = _grid(root, asset, "SR_B4")
    with EEEmulator(root) as emu, ee_session(emu):
        out = ee.data.getPixels({"assetId": asset, "fileFormat": fmt, "bandIds": ["SR_B4", "QA_PIXEL"],
                                 "grid": grid})
        if fmt == "GEO_TIFF":
            with rasterio.MemoryFile(out) as mem, mem.open() as ds:
                b4, qa = ds.read()
                assert ds.crs.to_string() == "EPSG:32604"
        else:
            b4, qa = out["SR_B4"], out["QA_PIXEL"]
        np.testing.assert_array_equal(b4, _band(root, asset, "SR_B4"))
        np.testing.assert_array_equal(qa, _band(root, asset, "QA_PIXEL"))
        rec = emu.records("getPixels")[0]
        assert rec.request_bytes == request_size_bytes(grid["dimensions"]["width"],
                                                       grid["dimensions"]["height"], ["uint16"] * 2)


def test_get_pixels_window_outside_is_zero_and_coarse_band_is_nearest(assets):
    root, real, _ = assets
    asset = real["sentinel2"]
    g = _grid(root, asset, "B2")
    t = g["affineTransform"]
    shifted = {"crsCode": g["crsCode"], "dimensions": {"width": 30, "height": 20},
               "affineTransform": {**t, "translateX": t["translateX"] - 50, "translateY": t["translateY"]}}
    with EEEmulator(root) as emu, ee_session(emu):
        out = ee.data.getPixels({"assetId": asset, "fileFormat": "NUMPY_NDARRAY",
                                 "bandIds": ["B8", "SCL"], "grid": shifted})
    b8 = _band(root, asset, "B8")
    assert (out["B8"][:, :5] == 0).all()
    np.testing.assert_array_equal(out["B8"][:, 5:], b8[:20, :25])
    scl = _band(root, asset, "SCL")
    np.testing.assert_array_equal(out["SCL"][:, 5:], np.repeat(np.repeat(scl, 2, 0), 2, 1)[:20, :25])


def test_limits_answer_with_the_real_ee_errors(assets):
    root, real, _ = assets
    asset = real["sentinel2"]
    g = _grid(root, asset, "B2")
    with EEEmulator(root, assert_max_bytes=100_000) as emu, ee_session(emu):
        huge = {**g, "dimensions": {"width": 4000, "height": 4000}}
        with pytest.raises(ee.EEException, match=r"Total request size \(\d+ bytes\) must be less "
                                                 r"than or equal to 50331648 bytes"):
            ee.data.getPixels({"assetId": asset, "fileFormat": "NUMPY_NDARRAY",
                               "bandIds": ["B2", "B3", "B4", "B8"], "grid": huge})
        wide = {**g, "dimensions": {"width": 40000, "height": 1}}
        with pytest.raises(ee.EEException, match=r"Pixel grid dimensions \(40000x1\) must be less "
                                                 "than or equal to 32768"):
            ee.data.getPixels({"assetId": asset, "fileFormat": "NUMPY_NDARRAY", "bandIds": ["B2"],
                               "grid": wide})
        with pytest.raises(ee.EEException, match="did not match any bands"):
            ee.data.getPixels({"assetId": asset, "fileFormat": "NUMPY_NDARRAY", "bandIds": ["B9"],
                               "grid": g})
        assert emu.oversized == []
        ee.data.getPixels({"assetId": asset, "fileFormat": "NUMPY_NDARRAY", "bandIds": ["B2"], "grid": g})
        assert len(emu.oversized) == 1     # 439*439*3 bytes > 100 kB: served, but recorded


def test_faults_schedule_and_malformed_bodies(assets):
    root, real, _ = assets
    asset = real["landsat"]
    g = _grid(root, asset, "SR_B2")
    req = {"assetId": asset, "fileFormat": "NUMPY_NDARRAY", "bandIds": ["SR_B2"], "grid": g}
    faults = Faults(schedule={0: 429, 1: 500, 2: "malformed"}, endpoints=("getPixels",))
    with EEEmulator(root, faults=faults) as emu, ee_session(emu):
        ee.data.setMaxRetries(0)
        with pytest.raises(ee.EEException, match="Too Many Requests"):
            ee.data.getPixels(req)
        with pytest.raises(ee.EEException, match="internal error"):
            ee.data.getPixels(req)
        with pytest.raises((ValueError, EOFError)):
            ee.data.getPixels(req)
        good = ee.data.getPixels(req)
        np.testing.assert_array_equal(good["SR_B2"], _band(root, asset, "SR_B2"))
        assert [r.fault for r in emu.records("getPixels")] == ["429", "500", "malformed", None]


def test_fault_rate_is_deterministic():
    f = Faults(rate=0.3, seed=7)
    actions = [f.action(i) for i in range(2000)]
    assert actions == [Faults(rate=0.3, seed=7).action(i) for i in range(2000)]
    share = sum(a is not None for a in actions) / len(actions)
    assert 0.25 < share < 0.35
    assert {a for a in actions if a is not None} == {429, 500}


def test_token_endpoint_serves_service_account_keys(assets, tmp_path):
    root, real, _ = assets
    import google.auth.exceptions
    import google.auth.transport.requests

    with EEEmulator(root) as emu:
        key_file = emu.write_service_account_file(tmp_path / "key.json")
        creds = ee.ServiceAccountCredentials(None, key_file=str(key_file))
        ee.Initialize(creds, url=emu.url, project=PROJECT)
        try:
            assert ee.data.getAsset(real["landsat"])["id"] == real["landsat"]
        finally:
            ee.data.reset()
        assert creds.token == emu.token
        assert "BEGIN PRIVATE KEY" in json.loads(key_file.read_text())["private_key"]
        from google.oauth2 import service_account

        other = {**emu.service_account_info(), "client_email": "intruder@example.com"}
        bad = service_account.Credentials.from_service_account_info(other, scopes=["x"])
        with pytest.raises(google.auth.exceptions.RefreshError):
            bad.refresh(google.auth.transport.requests.Request())


def test_npy_body_is_a_structured_array(assets):
    """What NUMPY_NDARRAY sends on the wire is fileFormat NPY; the body is a .npy file."""
    root, real, _ = assets
    asset = real["sentinel2"]
    with EEEmulator(root) as emu, ee_session(emu):
        raw = ee.data.getPixels({"assetId": asset, "fileFormat": "NPY", "bandIds": ["B2", "SCL"],
                                 "grid": _grid(root, asset, "B2")})
    arr = np.load(io.BytesIO(raw))
    assert arr.dtype.names == ("B2", "SCL") and arr.dtype["SCL"] == np.uint8


def test_long_list_queries_arrive_as_method_override_posts(assets):
    """googleapiclient sends GETs with URLs over 2 kB as POST + X-HTTP-Method-Override."""
    root, real, _ = assets
    import shapely
    import shapely.geometry

    ring = shapely.Point(-160.8, 63.88).buffer(0.02, quad_segs=100)
    with EEEmulator(root) as emu, ee_session(emu):
        hit = ee.data.listImages({"parent": "LANDSAT/LC09/C02/T1_L2",
                                  "region": shapely.geometry.mapping(ring)})
        assert [i["id"] for i in hit["images"]] == [real["landsat"]]
        rec = emu.records("listAssets")[0]
        assert rec.method_override and "intersects(" in rec.query["filter"]
