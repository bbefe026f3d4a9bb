"""The ``stac`` source through the real pystac-client and odc-stac, against a loopback STAC API
(``/``, ``/collections``, ``/search``) whose assets are GeoTIFFs served over http on 127.0.0.1
(with HTTP Range). The assets are made from the REAL Unalakleet pair: Sentinel-2 DN with the
processing-baseline-05.09 offset (+1000) and 20 m B8A/SCL; Landsat-9 reflectance turned into
Collection-2 DN on a true Landsat 30 m grid (edges on odd multiples of 15 m) with QA bands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import rasterio
import shapely
import shapely.geometry
from rasterio.warp import Resampling, reproject, transform_geom

from satsr.datasets import open_dataset
from satsr.fetch.pipeline import FetchConfig, fetch
from satsr.fetch.sensors import HLS_COEFFICIENTS
from satsr.fetch.sources import get_source
from satsr.fetch.sources.local import LocalSource
from satsr.testing.real_pair import L9_FILE, S2_FILE, write_local_manifest

REPO = Path(__file__).resolve().parents[3]
AOI = REPO / "datasets" / "aoi" / "unalakleet.geojson"


def _write_tif(path: Path, arr: np.ndarray, crs: str, transform: tuple[float, ...], nodata: float) -> None:
    from affine import Affine

    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype, crs=crs, transform=Affine(*transform), nodata=nodata,
                       tiled=True, blockxsize=64, blockysize=64) as ds:
        ds.write(arr, 1)


def _item(iid: str, coll: str, when: str, platform: str, crs: str, assets: dict[str, Any],
          footprint: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    geom = shapely.geometry.shape(footprint)
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": coll,
            "geometry": footprint, "bbox": list(geom.bounds), "links": [],
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
            "properties": {"datetime": when, "platform": platform, "eo:cloud_cover": 3.0,
                           "proj:epsg": int(crs.split(":")[1]), **extra},
            "assets": assets}


def build_catalog(folder: Path, l8s2_dir: Path, base: str) -> list[dict[str, Any]]:
    """Write asset GeoTIFFs into ``folder`` and return the STAC items pointing at ``base``."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    with rasterio.open(l8s2_dir / S2_FILE) as ds:
        s2 = ds.read([1, 2, 3, 4])
        t10 = tuple(ds.transform)[:6]
        s2_crs = ds.crs.to_string()
        foot = transform_geom(ds.crs, "EPSG:4326", shapely.geometry.mapping(shapely.box(*ds.bounds)))
    valid = (s2 > 0).all(axis=0)
    assets: dict[str, Any] = {}
    for k, key in enumerate(["blue", "green", "red", "nir"]):
        dn = np.where(valid, s2[k].astype(np.uint32) + 1000, 0).astype(np.uint16)
        _write_tif(folder / f"s2_{key}.tif", dn, s2_crs, t10, 0)
        assets[key] = {"href": f"{base}/files/s2_{key}.tif", "type": "image/tiff",
                       "proj:shape": list(dn.shape), "proj:transform": list(t10)}
    t20 = (20.0, 0.0, t10[2], 0.0, -20.0, t10[5])
    h20, w20 = s2.shape[1] // 2, s2.shape[2] // 2
    b8a = s2[3, :2 * h20, :2 * w20].reshape(h20, 2, w20, 2).mean(axis=(1, 3)) + 1000
    v20 = valid[:2 * h20, :2 * w20].reshape(h20, 2, w20, 2).all(axis=(1, 3))
    _write_tif(folder / "s2_nir08.tif", np.where(v20, b8a, 0).astype(np.uint16), s2_crs, t20, 0)
    _write_tif(folder / "s2_scl.tif", np.where(v20, 4, 0).astype(np.uint8), s2_crs, t20, 0)
    for key in ("nir08", "scl"):
        assets[key] = {"href": f"{base}/files/s2_{key}.tif", "type": "image/tiff",
                       "proj:shape": [h20, w20], "proj:transform": list(t20)}
    items.append(_item("S2A_3VVK_20231009_0_L2A", "sentinel-2-c1-l2a", "2023-10-09T22:28:02Z",
                       "sentinel-2a", s2_crs, assets, foot, {"s2:processing_baseline": "05.09"}))
    # Landsat: 30 m grid whose edges sit on odd multiples of 15 m, inside the L9 file
    lt = (30.0, 0.0, 409305.0, 0.0, -30.0, 7086945.0)
    lw = lh = 139
    with rasterio.open(l8s2_dir / L9_FILE) as ds:
        refl = np.full((4, lh, lw), np.nan, np.float32)
        for k in range(4):
            src = ds.read(k + 1)
            src[~np.isfinite(src)] = np.nan
            reproject(src, refl[k], src_transform=ds.transform, src_crs=ds.crs, src_nodata=np.nan,
                      dst_transform=rasterio.Affine(*lt), dst_crs=ds.crs, dst_nodata=np.nan,
                      resampling=Resampling.average)
        l_crs = ds.crs.to_string()
    lvalid = np.isfinite(refl).all(axis=0)
    lfoot = transform_geom(l_crs, "EPSG:4326", shapely.geometry.mapping(
        shapely.box(lt[2], lt[5] - 30 * lh, lt[2] + 30 * lw, lt[5])))
    rb = [{"nodata": 0, "data_type": "uint16", "scale": 2.75e-05, "offset": -0.2}]
    assets = {}
    for k, key in enumerate(["blue", "green", "red", "nir08"]):
        dn = np.where(lvalid, np.round((np.nan_to_num(refl[k]) + 0.2) / 2.75e-5), 0).astype(np.uint16)
        _write_tif(folder / f"l9_{key}.tif", dn, l_crs, lt, 0)
        assets[key] = {"href": f"{base}/files/l9_{key}.tif", "type": "image/tiff",
                       "proj:shape": [lh, lw], "proj:transform": list(lt), "raster:bands": rb}
    qa = np.where(lvalid, 21824, 1).astype(np.uint16)  # clear | fill
    _write_tif(folder / "l9_qa_pixel.tif", qa, l_crs, lt, 1)
    _write_tif(folder / "l9_qa_radsat.tif", np.zeros((lh, lw), np.uint16), l_crs, lt, 65535)
    for key in ("qa_pixel", "qa_radsat"):
        assets[key] = {"href": f"{base}/files/l9_{key}.tif", "type": "image/tiff",
                       "proj:shape": [lh, lw], "proj:transform": list(lt)}
    items.append(_item("LC09_L2SP_077015_20230630_02_T1", "landsat-c2-l2", "2023-06-30T22:01:55Z",
                       "landsat-9", l_crs, assets, lfoot, {}))
    return items


class _Api(BaseHTTPRequestHandler):
    items: ClassVar[list[dict[str, Any]]] = []
    files: ClassVar[Path] = Path()
    base: ClassVar[str] = ""
    searches: ClassVar[list[dict[str, Any]]] = []
    # file GETs: an optional delay, and the most requests in flight at once
    file_delay: ClassVar[float] = 0.0
    in_flight: ClassVar[list[int]] = [0, 0]  # [now, max]
    flight_lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, obj: Any, ctype: str = "application/json") -> None:
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _landing(self) -> dict[str, Any]:
        b = self.base
        return {"type": "Catalog", "id": "loopback", "stac_version": "1.0.0",
                "description": "loopback STAC API for satsr tests",
                "conformsTo": ["https://api.stacspec.org/v1.0.0/core",
                               "https://api.stacspec.org/v1.0.0/item-search",
                               "https://api.stacspec.org/v1.0.0/item-search#query",
                               "https://api.stacspec.org/v1.0.0/collections"],
                "links": [{"rel": "self", "href": f"{b}/", "type": "application/json"},
                          {"rel": "root", "href": f"{b}/", "type": "application/json"},
                          {"rel": "data", "href": f"{b}/collections", "type": "application/json"},
                          {"rel": "search", "href": f"{b}/search", "type": "application/geo+json",
                           "method": "GET"},
                          {"rel": "search", "href": f"{b}/search", "type": "application/geo+json",
                           "method": "POST"}]}

    def _collections(self) -> dict[str, Any]:
        cols = sorted({i["collection"] for i in self.items})
        return {"collections": [{"type": "Collection", "id": c, "stac_version": "1.0.0",
                                 "description": c, "license": "proprietary",
                                 "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                            "temporal": {"interval": [[None, None]]}},
                                 "links": []} for c in cols], "links": []}

    def _search(self, params: dict[str, Any]) -> dict[str, Any]:
        type(self).searches.append(params)
        cols = params.get("collections") or []
        if isinstance(cols, str):
            cols = cols.split(",")
        start, _, end = str(params.get("datetime", "../..")).partition("/")
        geom = params.get("intersects")
        if isinstance(geom, str):
            geom = json.loads(geom)
        feats = []
        for it in self.items:
            when = it["properties"]["datetime"]
            if cols and it["collection"] not in cols:
                continue
            if (start not in ("", "..") and when < start) or (end not in ("", "..") and when > end):
                continue
            if geom and not shapely.geometry.shape(geom).intersects(shapely.geometry.shape(it["geometry"])):
                continue
            feats.append(it)
        return {"type": "FeatureCollection", "features": feats, "links": []}

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        if url.path in ("", "/"):
            return self._json(self._landing())
        if url.path == "/collections":
            return self._json(self._collections())
        if url.path == "/search":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            return self._json(self._search(q), "application/geo+json")
        if url.path.startswith("/files/"):
            return self._file(url.path[len("/files/"):], head=False)
        self.send_error(404)

    def do_HEAD(self) -> None:
        if self.path.startswith("/files/"):
            return self._file(self.path[len("/files/"):], head=True)
        self.send_error(404)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", 0))
        params = json.loads(self.rfile.read(n) or b"{}")
        if self.path.startswith("/search"):
            return self._json(self._search(params), "application/geo+json")
        self.send_error(404)

    def _file(self, name: str, head: bool) -> None:
        path = self.files / name
        if not path.is_file():
            return self.send_error(404)
        data = path.read_bytes()
        if not head:
            with self.flight_lock:
                self.in_flight[0] += 1
                self.in_flight[1] = max(self.in_flight[1], self.in_flight[0])
            time.sleep(self.file_delay)
            with self.flight_lock:
                self.in_flight[0] -= 1
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            lo, hi = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
            chunk = data[lo:hi + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(data)}")
        else:
            chunk = data
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if not head:
            self.wfile.write(chunk)


@pytest.fixture(scope="module")
def stac_api(tmp_path_factory: pytest.TempPathFactory, l8s2_dir: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    files = tmp_path_factory.mktemp("stac")
    handler = type("Api", (_Api,), {"items": build_catalog(files, l8s2_dir, base), "files": files,
                                    "base": base, "searches": []})
    server.RequestHandlerClass = handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_search_reads_and_scaling(stac_api: str) -> None:
    src = get_source("stac", url=stac_api)
    aoi = shapely.box(-160.845, 63.862, -160.762, 63.897)
    s2 = src.search(aoi, date(2023, 10, 1), date(2023, 10, 31), "sentinel2")
    ls = src.search(aoi, date(2023, 6, 1), date(2023, 7, 31), "landsat")
    assert [a.sensor for a in s2] == ["sentinel2a"] and [a.sensor for a in ls] == ["landsat9"]
    assert src.search(aoi, date(2023, 11, 1), date(2023, 11, 30), "sentinel2") == []
    assert src.search(aoi, date(2023, 10, 1), date(2023, 10, 31), "sentinel2", max_cloud=1.0) == []
    assert s2[0].properties["processing_baseline"] == "05.09"
    assert ls[0].properties["scale"] == pytest.approx(2.75e-5)
    # odc-stac reads on the asked grid: the 20 m SCL/B8A come out on the 10 m grid by nearest
    win = s2[0].grid.window(100, 100, 40, 30)
    raw = src.read(s2[0], ["B4", "B8A", "SCL"], win)
    assert raw.shape == (3, 40, 30)
    with rasterio.open(_api_files(stac_api) / "s2_red.tif") as ds:
        ref = ds.read(1)[100:140, 100:130]
    np.testing.assert_array_equal(raw[0], ref)
    assert set(np.unique(raw[2]).tolist()) <= {0, 4}
    lr = src.read(ls[0], ["SR_B4", "QA_PIXEL"], ls[0].grid)
    assert lr.shape == (2, 139, 139) and (lr[1][lr[0] > 0] == 21824).all()


def _handler(base: str) -> type[_Api]:
    for obj in _Api.__subclasses__():
        if obj.base == base:
            return obj
    raise AssertionError("no handler for " + base)


def test_reads_do_not_hold_the_process_wide_raster_lock(stac_api: str) -> None:
    """While a read waits on the network, the lock that serialises warning-filtered raster
    calls (:mod:`satsr.fetch._quiet`) is free: reads from several threads run concurrently."""
    from satsr.fetch import _quiet

    src = get_source("stac", url=stac_api)
    aoi = shapely.box(-160.845, 63.862, -160.762, 63.897)
    s2 = src.search(aoi, date(2023, 10, 1), date(2023, 10, 31), "sentinel2")[0]
    handler = _handler(stac_api)
    handler.file_delay, handler.in_flight[:] = 0.5, [0, 0]
    try:
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(src.read, s2, ["B4"], s2.grid.window(100, 100, 40, 40))
            deadline = time.monotonic() + 30
            while handler.in_flight[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert handler.in_flight[0] >= 1, "the read never reached the server"
            free = _quiet._LOCK.acquire(blocking=False)
            if free:
                _quiet._LOCK.release()
            assert fut.result(timeout=60).shape == (1, 40, 40)
    finally:
        handler.file_delay = 0.0
    assert free, "a STAC read holds the process-wide raster lock while waiting on the network"


def _api_files(base: str) -> Path:
    import urllib.request

    # the handler class knows its folder; find it through a HEAD-less lookup of one file
    with urllib.request.urlopen(f"{base}/") as resp:
        assert json.loads(resp.read())["id"] == "loopback"
    for obj in _Api.__subclasses__():
        if obj.base == base:
            return obj.files
    raise AssertionError("no handler for " + base)


def test_fetch_through_stac_matches_local(tmp_path: Path, stac_api: str, l8s2_dir: Path) -> None:
    common = dict(start=date(2023, 10, 1), end=date(2023, 10, 31), aoi=AOI, pair_days=120.0,
                  chip=32, tile_chips=4, progress=False, coregister="record")
    res = fetch(FetchConfig(out=tmp_path / "stac", source="stac",
                            source_options={"url": stac_api}, **common))  # type: ignore[arg-type]
    ds = open_dataset(res.out)
    assert ds.sizes["scene"] >= 4
    prov = json.loads((res.out / "provenance.json").read_text())
    assert prov["sensors"]["sentinel2"]["offset"] == pytest.approx(-0.1)
    assert prov["sensors"]["landsat"]["mask_bands"] == ["QA_PIXEL", "QA_RADSAT"]
    # the same S2 pixels through the local source (no offset in those files): the −1000 DN
    # baseline offset must have been removed, so HR reflectance agrees to float precision
    local = fetch(FetchConfig(out=tmp_path / "local", source="local",
                              source_options={"root": write_local_manifest(tmp_path / "src", l8s2_dir)},
                              **common))  # type: ignore[arg-type]
    dl = open_dataset(local.out)
    shared = sorted(set(s.split("__")[1] for s in ds["scene"].values) &
                    set(s.split("__")[1] for s in dl["scene"].values))
    assert shared
    for chip in shared[:3]:
        a = ds.sel(scene=next(s for s in ds["scene"].values if s.endswith(chip)))
        b = dl.sel(scene=next(s for s in dl["scene"].values if s.endswith(chip)))
        m = a["hr_mask"].values & b["hr_mask"].values
        np.testing.assert_allclose(a["hr"].values[:, m], b["hr"].values[:, m], atol=1e-6)
    assert isinstance(get_source("local", root=tmp_path / "src"), LocalSource)
    # --harmonize: NIR from the 20 m B8A asset and the HLS S2A coefficients on every band
    harm = fetch(FetchConfig(out=tmp_path / "harm", source="stac", harmonize=True,
                             source_options={"url": stac_api}, **common))  # type: ignore[arg-type]
    dh = open_dataset(harm.out)
    assert json.loads((harm.out / "provenance.json").read_text())["sensors"]["sentinel2"]["bands"][3] == "B8A"
    scene = str(ds["scene"].values[0])
    a, h = ds.sel(scene=scene), dh.sel(scene=scene)
    m = a["hr_mask"].values & h["hr_mask"].values
    slope, off = HLS_COEFFICIENTS["sentinel2a"]["red"]
    np.testing.assert_allclose(h["hr"].values[2][m], slope * a["hr"].values[2][m] + off, atol=1e-5)
    assert not np.allclose(h["hr"].values[3][m], a["hr"].values[3][m], atol=1e-3)
