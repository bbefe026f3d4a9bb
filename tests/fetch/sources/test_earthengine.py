"""EarthEngineSource against the loopback emulator (real earthengine-api client, no mocks)."""

from __future__ import annotations

import json
import logging
import pickle
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely

from satsr.errors import ConfigError, SatsrError
from satsr.fetch.sources import get_source
from satsr.fetch.sources.base import Source
from satsr.fetch.sources.earthengine import EarthEngineError, EarthEngineSource, scrub
from satsr.fetch.types import Acquisition, Grid
from satsr.testing.ee_assets import build_l8s2_assets, build_synthetic_assets, write_image_asset
from satsr.testing.ee_emulator import EEEmulator, Faults

PROJECT = "test-project"
#: over the real pair (Unalakleet, Alaska)
ALASKA = shapely.box(-160.84, 63.865, -160.77, 63.895)


@pytest.fixture(scope="module")
def assets(l8s2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("ee-assets")
    real = build_l8s2_assets(l8s2_dir, root)
    synth = build_synthetic_assets(root)
    # a cloudy Landsat-8 scene over Alaska, to be filtered out by max_cloud
    src = root / real["landsat"]
    with rasterio.open(src / "SR_B2.tif") as ds:
        band = ds.read(1)
        crs, tf = ds.crs.to_string(), tuple(ds.transform)[:6]
    from datetime import UTC, datetime

    from satsr.testing.ee_assets import BandData

    write_image_asset(root, "LANDSAT/LC08/C02/T1_L2/LC08_077015_20230622", {
        "SR_B2": BandData(band, crs, tf, 0)}, datetime(2023, 6, 22, 22, 0, tzinfo=UTC),
        {"SPACECRAFT_ID": "LANDSAT_8", "CLOUD_COVER": 87.5})
    return root, real, synth


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient Google credentials or project: empty HOME, no ADC, no GCE metadata probe."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "EE_PROJECT", "GOOGLE_CLOUD_PROJECT",
                "SATSR_EE_API_URL", "SATSR_EE_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    return home


def _source(emu: EEEmulator, **kw) -> EarthEngineSource:
    kw.setdefault("backoff_s", 0.005)
    kw.setdefault("max_backoff_s", 0.05)
    return EarthEngineSource(PROJECT, credentials=emu.credentials(), url=emu.url, **kw)


def _tif(root: Path, asset_id: str, band: str) -> np.ndarray:
    with rasterio.open(root / asset_id / f"{band}.tif") as ds:
        return ds.read(1)


def test_registry_builds_an_ee_source_that_satisfies_the_protocol():
    src = get_source("ee", project=PROJECT)
    assert isinstance(src, EarthEngineSource) and isinstance(src, Source)
    assert src.name == "ee"


def test_search_landsat_and_sentinel2(assets):
    root, real, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        landsat = src.search(ALASKA, date(2023, 6, 1), date(2023, 6, 30), "landsat", max_cloud=50)
        assert [a.id for a in landsat] == [real["landsat"]]
        acq = landsat[0]
        assert acq.collection == "landsat" and acq.sensor == "landsat9"
        assert acq.time.isoformat() == "2023-06-30T22:01:55+00:00"
        assert acq.crs == "EPSG:32604" and acq.transform[0] == 30.0 and acq.transform[4] == -30.0
        assert acq.transform[2] % 30 == 15 and acq.transform[5] % 30 == 15   # odd multiples of 15 m
        assert (acq.width, acq.height) == (141, 141) and acq.cloud_cover == 0.0
        assert acq.footprint is not None and acq.footprint["type"] == "Polygon"
        assert acq.properties["band_dtypes"]["SR_B4"] == "uint16"
        # the cloudy L8 scene is there without the cloud limit, and sorted by time
        every = src.search(ALASKA, date(2023, 6, 1), date(2023, 6, 30), "landsat")
        assert [(a.sensor, a.cloud_cover) for a in every] == [("landsat8", 87.5), ("landsat9", 0.0)]
        # cloud filter went to the server; both Landsat collections were queried
        filters = [r.query.get("filter", "") for r in emu.records("listAssets")]
        assert any("properties.CLOUD_COVER <= 50.0" in f for f in filters)
        assert {r.asset for r in emu.records("listAssets")} >= {"LANDSAT/LC08/C02/T1_L2",
                                                                "LANDSAT/LC09/C02/T1_L2"}
        s2 = src.search(ALASKA, date(2023, 10, 9), date(2023, 10, 9), "sentinel2", max_cloud=20)
        assert [a.id for a in s2] == [real["sentinel2"]]
        s = s2[0]
        assert s.sensor == "sentinel2a" and s.crs == "EPSG:32603" and s.transform[0] == 10.0
        assert s.properties["cloud_score_id"] == real["cloud_score"]
        assert s.properties["processing_baseline"] == "05.09"
        assert s.properties["band_dtypes"]["cs"] == "float32"
        assert s.properties["harmonized"] is True          # S2_SR_HARMONIZED: DN/10000, no offset
        assert s.properties["bands"] == ["B2", "B3", "B4", "B8", "SCL", "cs", "cs_cdf"]
        assert "harmonized" not in acq.properties
        assert src.search(ALASKA, date(2023, 10, 10), date(2023, 12, 1), "sentinel2") == []


def test_search_paginates(assets):
    root, real, synth = assets
    with EEEmulator(root, page_size=1) as emu:
        src = _source(emu)
        world = shapely.box(-179, -60, 179, 80)
        acqs = src.search(world, date(2023, 1, 1), date(2023, 12, 31), "sentinel2")
        assert [a.id for a in acqs] == [synth["sentinel2"], real["sentinel2"]]
        assert all("cloud_score_id" in a.properties for a in acqs)
        assert any("pageToken" in r.query for r in emu.records("listAssets"))


def test_search_rejects_bad_input(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        with pytest.raises(ConfigError, match="unknown collection"):
            src.search(ALASKA, date(2023, 1, 1), date(2023, 2, 1), "modis")
        with pytest.raises(ConfigError, match="before the start"):
            src.search(ALASKA, date(2023, 2, 1), date(2023, 1, 1), "landsat")


def _s2(src: EarthEngineSource) -> Acquisition:
    return src.search(ALASKA, date(2023, 10, 1), date(2023, 10, 31), "sentinel2")[0]


def _l9(src: EarthEngineSource) -> Acquisition:
    return src.search(ALASKA, date(2023, 6, 30), date(2023, 6, 30), "landsat")[-1]


@pytest.mark.parametrize("file_format", ["NPY", "GEO_TIFF"])
def test_read_native_grid_equals_geotiff_values(assets, file_format):
    root, real, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu, file_format=file_format)
        l9 = _l9(src)
        bands = ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "QA_PIXEL", "QA_RADSAT"]
        arr = src.read(l9, bands, l9.grid)
        assert arr.shape == (6, 141, 141) and arr.dtype == np.uint16
        for i, b in enumerate(bands):
            np.testing.assert_array_equal(arr[i], _tif(root, real["landsat"], b))
        s2 = _s2(src)
        arr = src.read(s2, ["B8", "SCL", "cs"], s2.grid)
        assert arr.shape == (3, 439, 439) and arr.dtype == np.float32
        np.testing.assert_array_equal(arr[0], _tif(root, real["sentinel2"], "B8"))
        scl10 = np.repeat(np.repeat(_tif(root, real["sentinel2"], "SCL"), 2, 0), 2, 1)[:439, :439]
        np.testing.assert_array_equal(arr[1][:438, :438], scl10[:438, :438])   # 20 m band, nearest
        np.testing.assert_array_equal(arr[2], _tif(root, real["cloud_score"], "cs"))
        only_scl = src.read(s2, ["SCL"], s2.grid.window(10, 20, 30, 40))
        assert only_scl.dtype == np.uint8
        np.testing.assert_array_equal(only_scl[0], scl10[10:40, 20:60])
        # each getPixels asked for an explicit grid in the native CRS
        assert all(r.status == 200 for r in emu.records("getPixels"))


def test_read_window_extending_past_the_image(assets):
    root, real, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        l9 = _l9(src)
        win = src.read(l9, ["SR_B4"], l9.grid.window(-5, 130, 20, 20))
        ref = _tif(root, real["landsat"], "SR_B4")
        assert (win[0, :5] == 0).all() and (win[0, :, 11:] == 0).all()
        np.testing.assert_array_equal(win[0, 5:, :11], ref[:15, 130:])


def test_requests_stay_under_the_byte_limit_and_results_are_identical(assets):
    root, _, _ = assets
    limit = 50_000
    with EEEmulator(root, assert_max_bytes=limit) as emu:
        big = _source(emu)
        s2 = _s2(big)
        whole = big.read(s2, ["B2", "B3", "B4", "B8"], s2.grid)
        assert len(emu.oversized) == 1            # 439*439*12 bytes in one request
        emu.reset_log()
        small = _source(emu, max_request_bytes=limit)
        tiled = small.read(s2, ["B2", "B3", "B4", "B8"], s2.grid)
        np.testing.assert_array_equal(tiled, whole)
        pix = emu.records("getPixels")
        assert len(pix) > 10 and emu.oversized == []
        assert max(r.request_bytes for r in pix) <= limit


def test_default_limit_splits_a_large_grid_under_32_mib(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        s2 = _s2(src)
        big = s2.grid.window(-1500, -1500, 3400, 3400)   # 139 MB of 4 uint16 bands (+ mask bytes)
        arr = src.read(s2, ["B2", "B3", "B4", "B8"], big)
        pix = emu.records("getPixels")
        assert len(pix) >= 5 and emu.oversized == []
        assert max(r.request_bytes for r in pix) <= 32 * 2**20
        ref = src.read(s2, ["B2", "B3", "B4", "B8"], s2.grid)
        np.testing.assert_array_equal(arr[:, 1500:1939, 1500:1939], ref)
        assert arr[:, :1500].max() == 0


@pytest.mark.parametrize("kind", ["size", "memory"])
def test_size_and_memory_errors_split_instead_of_retrying(assets, kind):
    root, _, _ = assets
    if kind == "size":
        emu_kw = {"request_limit_bytes": 60_000}
    else:
        emu_kw = {"faults": Faults(memory_limit_pixels=7_000)}
    with EEEmulator(root) as ref_emu:
        s2 = _s2(_source(ref_emu))
        grid = s2.grid.window(100, 150, 200, 200)
        ref = _source(ref_emu).read(s2, ["B2", "B8", "SCL"], grid)
    with EEEmulator(root, **emu_kw) as emu:
        src = _source(emu)
        s2 = _s2(src)
        arr = src.read(s2, ["B2", "B8", "SCL"], grid)
        np.testing.assert_array_equal(arr, ref)
        pix = emu.records("getPixels")
        windows = [(r.origin, r.width, r.height) for r in pix]
        refused = [w for w, r in zip(windows, pix, strict=True) if r.status == 400]
        assert refused, "the emulator never refused a request"
        assert pix[0].status == 400 and (pix[0].width, pix[0].height) == (200, 200)
        # a refused window is never requested again: split, not retried
        assert all(windows.count(w) == 1 for w in refused)
        assert all(r.width * r.height < 200 * 200 for r in pix[1:])


def test_transient_faults_are_retried_with_identical_results(assets):
    root, _, _ = assets
    bands = ["B2", "B3", "B4", "B8", "SCL", "cs"]
    with EEEmulator(root) as emu:
        src = _source(emu, max_request_bytes=40_000)
        acqs = src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "sentinel2")
        ref = src.read(acqs[0], bands, acqs[0].grid)
    faults = Faults(rate=0.3, malformed_rate=0.05, seed=3)
    with EEEmulator(root, faults=faults) as emu:
        src = _source(emu, max_request_bytes=40_000, retries=12)
        got = src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "sentinel2")
        assert [a.id for a in got] == [a.id for a in acqs]
        arr = src.read(got[0], bands, got[0].grid)
        assert arr.tobytes() == ref.tobytes() and arr.dtype == ref.dtype
        faulted = [r.fault for r in emu.records() if r.fault]
        assert {"429", "500", "malformed"} <= set(faulted) and len(faulted) >= 10


def test_timeouts_are_retried(assets):
    root, _, _ = assets
    with EEEmulator(root, faults=Faults(schedule={1: "delay:3"}, endpoints=("getPixels",))) as emu:
        src = _source(emu, timeout_s=0.5)
        l9 = _l9(src)
        a = src.read(l9, ["SR_B2"], l9.grid)
        b = src.read(l9, ["SR_B2"], l9.grid)
        np.testing.assert_array_equal(a, b)
        assert len(emu.records("getPixels")) == 3


def test_persistent_failure_is_one_clear_error(assets):
    root, _, _ = assets
    with EEEmulator(root, faults=Faults(rate=1.0, statuses=(503,), endpoints=("getPixels",))) as emu:
        src = _source(emu, retries=2)
        l9 = _l9(src)
        with pytest.raises(EarthEngineError) as err:
            src.read(l9, ["SR_B2"], l9.grid)
        msg = str(err.value)
        assert "\n" not in msg and "after 2 retries" in msg and "getPixels" in msg
        assert len(emu.records("getPixels")) == 3


@pytest.mark.parametrize("endpoint", ["listAssets", "getPixels"])
def test_cut_json_and_pixel_bodies_are_retried_alike(assets, endpoint):
    """A 200 whose body is cut in half: on a listing call (ee.data.listImages goes to
    listAssets) just as on getPixels, two in a row are retried and the results are unchanged."""
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        want = [a.id for a in src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "landsat")]
        l9 = _l9(src)
        ref = src.read(l9, ["SR_B2"], l9.grid)
    with EEEmulator(root, faults=Faults(schedule={0: "malformed", 1: "malformed"},
                                        endpoints=(endpoint,))) as emu:
        src = _source(emu)
        got = src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "landsat")
        assert [a.id for a in got] == want
        l9 = next(a for a in got if a.id == l9.id)
        assert src.read(l9, ["SR_B2"], l9.grid).tobytes() == ref.tobytes()
        assert [r.fault for r in emu.records(endpoint)][:3] == ["malformed", "malformed", None]


def test_cut_listing_bodies_that_persist_are_one_short_line(assets):
    root, _, _ = assets
    with EEEmulator(root, faults=Faults(malformed_rate=1.0, endpoints=("listAssets",))) as emu:
        src = _source(emu, retries=2)
        with pytest.raises(EarthEngineError) as err:
            src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "landsat")
        msg = str(err.value)
        assert "\n" not in msg and "after 2 retries" in msg and len(msg) < 500
        assert len(emu.records("listAssets")) == 3


@pytest.mark.parametrize("url", ["closed-port", "http://no-such-host.invalid"])
def test_unreachable_endpoint_fails_fast(assets, url):
    """Nothing listens there (or no such host): two quick retries, then one line — not minutes
    of backoff (default retries=6) for an error that retrying cannot fix."""
    import socket
    import time

    root, _, _ = assets
    if url == "closed-port":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with EEEmulator(root) as emu:  # only for credentials: its URL is not used
        src = EarthEngineSource(PROJECT, credentials=emu.credentials(), url=url)
    start = time.monotonic()
    with pytest.raises(EarthEngineError) as err:
        src.search(ALASKA, date(2023, 1, 1), date(2023, 12, 31), "landsat")
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "\n" not in msg and "cannot reach the Earth Engine endpoint" in msg and url in msg
    assert ("connection refused" if "127.0.0.1" in url else "host not found") in msg


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com", "http://", "http://h:x"])
def test_endpoint_that_is_not_an_http_url_is_refused_at_once(url, monkeypatch):
    with pytest.raises(ConfigError, match=r"\(from --ee-url\) is not an http\(s\) URL"):
        EarthEngineSource(PROJECT, url=url)
    monkeypatch.setenv("SATSR_EE_API_URL", url)
    with pytest.raises(ConfigError, match="from \\$SATSR_EE_API_URL"):
        EarthEngineSource(PROJECT)


def test_unknown_band_is_a_clear_error(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        l9 = _l9(src)
        with pytest.raises(EarthEngineError, match="did not match any bands"):
            src.read(l9, ["B99"], l9.grid)
        no_cs = l9.with_properties(cloud_score_id=None)
        with pytest.raises(EarthEngineError, match="no matched Cloud Score"):
            src.read(no_cs, ["cs"], l9.grid)


def test_concurrency_limit_across_threads(assets):
    root, _, _ = assets
    with EEEmulator(root, faults=Faults(delay=0.02, endpoints=("getPixels",))) as emu:
        src = _source(emu, max_concurrent=3, max_request_bytes=30_000)
        s2 = _s2(src)
        results: list[np.ndarray] = []

        grid = s2.grid.window(0, 0, 240, 240)

        def work() -> None:
            results.append(src.read(s2, ["B2", "B8"], grid))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 4 and all(np.array_equal(r, results[0]) for r in results)
        assert len(emu.records("getPixels")) >= 40
        assert 2 <= emu.max_in_flight <= 3


@pytest.mark.slow
def test_concurrency_limit_across_dask_worker_processes(assets):
    """Workers are separate processes: each initialises ee lazily from the pickled source and
    they share one distributed.Semaphore."""
    distributed = pytest.importorskip("distributed")
    root, real, _ = assets
    with EEEmulator(root, faults=Faults(delay=0.05, endpoints=("getPixels",))) as emu:
        src = _source(emu, max_concurrent=2)
        l9 = _l9(src)
        windows = [l9.grid.window(r, c, 47, 47) for r in (0, 47, 94) for c in (0, 47, 94)]
        with distributed.LocalCluster(n_workers=2, threads_per_worker=3, processes=True,
                                      dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as client:
            futures = client.map(lambda g: src.read(l9, ["SR_B4"], g), windows, pure=False)
            parts = client.gather(futures)
        ref = _tif(root, real["landsat"], "SR_B4")
        for g, part in zip(windows, parts, strict=True):
            r, c = round((g.transform[5] - l9.transform[5]) / -30), round((g.transform[2] - l9.transform[2]) / 30)
            np.testing.assert_array_equal(part[0], ref[r:r + 47, c:c + 47])
        assert len(emu.records("getPixels")) == 9
        assert emu.max_in_flight <= 2


def test_source_pickles_without_client_state(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        _l9(src)
        clone = pickle.loads(pickle.dumps(src))
        assert repr(clone) == repr(src)
        l9 = _l9(clone)
        assert clone.read(l9, ["SR_B2"], l9.grid).shape == (1, 141, 141)


def test_no_credentials_is_one_clear_line(isolated_env):
    src = EarthEngineSource(PROJECT, url="http://127.0.0.1:9")
    with pytest.raises(EarthEngineError) as err:
        src.search(ALASKA, date(2023, 1, 1), date(2023, 2, 1), "landsat")
    msg = str(err.value)
    assert "\n" not in msg and "earthengine authenticate" in msg


def test_no_project_is_one_clear_line(isolated_env, assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = EarthEngineSource(credentials=emu.credentials(), url=emu.url)
        assert src.project is None
        with pytest.raises(EarthEngineError) as err:
            src.search(ALASKA, date(2023, 1, 1), date(2023, 2, 1), "landsat")
        msg = str(err.value)
        assert "\n" not in msg and "--project" in msg
        assert isinstance(err.value, SatsrError)


def test_project_and_url_from_environment(isolated_env, assets, monkeypatch):
    root, _real, _ = assets
    with EEEmulator(root) as emu:
        monkeypatch.setenv("EE_PROJECT", "env-project")
        monkeypatch.setenv("SATSR_EE_API_URL", emu.url)
        src = EarthEngineSource(credentials=emu.credentials(), backoff_s=0.01)
        assert src.project == "env-project" and src.url == emu.url
        assert src.search(ALASKA, date(2023, 6, 30), date(2023, 6, 30), "landsat")
        assert {r.user_project for r in emu.records("listAssets")} == {"env-project"}


@pytest.mark.parametrize("how", ["argument", "SATSR_EE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"])
def test_service_account_key_file(isolated_env, assets, monkeypatch, tmp_path, how):
    root, real, _ = assets
    with EEEmulator(root) as emu:
        key = emu.write_service_account_file(tmp_path / "sa.json")
        if how == "argument":
            src = EarthEngineSource(PROJECT, credentials=key, url=emu.url)
        else:
            monkeypatch.setenv(how, str(key))
            src = EarthEngineSource(PROJECT, url=emu.url)
        assert "PRIVATE" not in repr(src)
        acqs = src.search(ALASKA, date(2023, 6, 30), date(2023, 6, 30), "landsat")
        assert [a.id for a in acqs] == [real["landsat"]]
        assert emu.records("listAssets")[0].status == 200


def test_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(EarthEngineError, match="does not exist"):
        EarthEngineSource(PROJECT, credentials=tmp_path / "nope.json")


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="40 concurrent"):
        EarthEngineSource(PROJECT, max_concurrent=41)
    with pytest.raises(ConfigError, match="48 MiB"):
        EarthEngineSource(PROJECT, max_request_bytes=64 * 2**20)
    with pytest.raises(ConfigError, match="file_format"):
        EarthEngineSource(PROJECT, file_format="PNG")


def test_tokens_never_reach_logs_errors_or_repr(assets, caplog, tmp_path):
    root, _, _ = assets
    caplog.set_level(logging.DEBUG)
    with EEEmulator(root, faults=Faults(rate=0.3, seed=11)) as emu:
        key = emu.write_service_account_file(tmp_path / "sa.json")
        private_key = json.loads(key.read_text())["private_key"]
        src = EarthEngineSource(PROJECT, credentials=key, url=emu.url, backoff_s=0.005,
                                max_backoff_s=0.02, retries=15, max_request_bytes=40_000)
        s2 = _s2(src)
        src.read(s2, ["B2", "cs"], s2.grid)
        failing = EarthEngineSource(PROJECT, credentials=key, url=emu.url, retries=0)
        with pytest.raises(EarthEngineError) as err:
            for _ in range(20):
                failing.read(s2, ["B2"], s2.grid.window(0, 0, 8, 8))
        texts = [caplog.text, str(err.value), repr(src), json.dumps(src.describe()),
                 json.dumps(s2.properties, default=str)]
        assert any("retry" in t for t in texts)       # the retries were logged
        for text in texts:
            assert emu.token not in text
            assert private_key.splitlines()[1] not in text


def test_scrub_masks_token_shapes():
    text = ('Authorization: Bearer ya29.a0AfH6SMB-secret_value {"access_token": "abc123456789", '
            '"refresh_token":"1//0gsecretsecret"} -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----')
    out = scrub(text)
    for secret in ("ya29.a0AfH6SMB-secret_value", "abc123456789", "1//0gsecretsecret", "MIIE"):
        assert secret not in out


def test_grid_type_is_the_shared_one(assets):
    root, _, _ = assets
    with EEEmulator(root) as emu:
        l9 = _l9(_source(emu))
        assert isinstance(l9.grid, Grid) and l9.grid.resolution == (30.0, 30.0)


def test_sequential_in_process_clusters_get_fresh_semaphores(assets):
    """A process that runs two dask clusters one after the other (two fetches in one notebook)
    must not reuse the first cluster's distributed.Semaphore."""
    import distributed

    root, real, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu, max_concurrent=2)
        l9 = _l9(src)
        for _ in range(2):
            with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                          dashboard_address=":0") as cluster, \
                    distributed.Client(cluster) as client:
                parts = client.gather(client.map(lambda g: src.read(l9, ["SR_B4"], g),
                                                 [l9.grid.window(0, 0, 20, 20),
                                                  l9.grid.window(20, 0, 20, 20)], pure=False))
            np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]),
                                          _tif(root, real["landsat"], "SR_B4")[:40, :20])


def test_synthetic_assets_read_through_the_source_carry_the_known_shift(tmp_path):
    """Landsat read through EE equals the synthetic field displaced by the declared shift: the
    S2 image, cubic-sampled at the Landsat pixel centres minus the shift, matches best."""
    from scipy.ndimage import map_coordinates

    info = build_synthetic_assets(tmp_path, shift_m=(45.0, -30.0))
    dx, dy = info["shift_m"]
    with EEEmulator(tmp_path) as emu:
        src = _source(emu)
        box = shapely.box(15.51, 45.08, 15.54, 45.10)
        s2 = src.search(box, date(2023, 7, 1), date(2023, 7, 31), "sentinel2")[0]
        ls = src.search(box, date(2023, 7, 1), date(2023, 7, 31), "landsat")[0]
        assert ls.sensor == "landsat8" and s2.properties["cloud_score_id"] == info["cloud_score"]
        s = src.read(s2, ["B4"], s2.grid)[0].astype(np.float64) / 1e4
        lv = src.read(ls, ["SR_B4"], ls.grid)[0] * 2.75e-5 - 0.2
    a, _, c, _, e, f = ls.transform
    n = ls.width
    cx, cy = np.meshgrid(c + a * (np.arange(n) + 0.5), f + e * (np.arange(n) + 0.5))
    inner = (slice(10, n - 10),) * 2
    sa, _, sc, _, se, sf = s2.transform

    def ncc(sx: float, sy: float) -> float:
        cols = (cx - sx - sc) / sa - 0.5
        rows = (cy - sy - sf) / se - 0.5
        v = map_coordinates(s, [rows[inner].ravel(), cols[inner].ravel()], order=3)
        return float(np.corrcoef(v, lv[inner].ravel())[0, 1])

    assert ncc(dx, dy) > 0.999
    assert ncc(dx, dy) > max(ncc(dx + ox, dy + oy) for ox, oy in ((10, 0), (-10, 0), (0, 10), (0, -10)))
    assert ncc(0.0, 0.0) < ncc(dx, dy) - 0.01


def test_detailed_aoi_outline_is_sent_as_its_bbox(assets):
    root, real, _ = assets
    wiggly = shapely.Point(-160.8, 63.88).buffer(0.02, quad_segs=200)    # 800 vertices
    with EEEmulator(root) as emu:
        acqs = _source(emu).search(wiggly, date(2023, 6, 30), date(2023, 6, 30), "landsat")
        assert [a.id for a in acqs] == [real["landsat"]]
        flt = emu.records("listAssets")[0].query["filter"]
        assert len(flt) < 1000 and "intersects(" in flt


def test_reinitialises_when_someone_reset_the_ee_client(assets):
    import ee

    root, _, _ = assets
    with EEEmulator(root) as emu:
        src = _source(emu)
        l9 = _l9(src)
        ee.data.reset()                      # e.g. user code in the same notebook
        assert src.read(l9, ["SR_B2"], l9.grid.window(0, 0, 4, 4)).shape == (1, 4, 4)
