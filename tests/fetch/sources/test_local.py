"""The ``local`` source over the REAL Landsat-9 / Sentinel-2 pair (manifest points at the files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely

from satsr.errors import ConfigError, DatasetNotFoundError
from satsr.fetch.sources import get_source
from satsr.fetch.sources.local import LocalSource
from satsr.testing.real_pair import L9_FILE, S2_FILE, write_local_manifest


def test_search_and_read(tmp_path: Path, l8s2_dir: Path) -> None:
    src = get_source("local", root=write_local_manifest(tmp_path / "src", l8s2_dir))
    aoi = shapely.box(-160.845, 63.862, -160.762, 63.897)
    s2 = src.search(aoi, date(2023, 10, 1), date(2023, 10, 31), "sentinel2")
    ls = src.search(aoi, date(2023, 6, 1), date(2023, 7, 1), "landsat")
    assert [a.id for a in s2] == ["S2_20231009"] and [a.id for a in ls] == ["L9_20230630"]
    assert s2[0].crs == "EPSG:32603" and ls[0].crs == "EPSG:32604"
    assert (s2[0].width, ls[0].width) == (439, 280)
    assert src.search(aoi, date(2023, 10, 10), date(2023, 10, 31), "sentinel2") == []
    assert src.search(shapely.box(10, 10, 11, 11), date(2023, 1, 1), date(2024, 1, 1), "landsat") == []
    # a native window, partly outside the file: the file's values, nodata outside
    win = s2[0].grid.window(-2, 430, 5, 12)
    raw = src.read(s2[0], ["B4", "B8"], win)
    assert raw.shape == (2, 5, 12) and raw.dtype == np.uint16
    import rasterio
    with rasterio.open(l8s2_dir / S2_FILE) as ds:
        ref = ds.read([3, 4])
    np.testing.assert_array_equal(raw[:, 2:, :9], ref[:, :3, 430:439])
    assert (raw[:, :2] == 0).all() and (raw[:, :, 9:] == 0).all()


def test_bad_manifests(tmp_path: Path, l8s2_dir: Path) -> None:
    with pytest.raises(ConfigError, match="--local-dir"):
        LocalSource(None)
    with pytest.raises(DatasetNotFoundError, match="manifest"):
        LocalSource(tmp_path).items()
    (tmp_path / "manifest.json").write_text('{"items": [{"file": "x.tif"}]}')
    with pytest.raises(ConfigError, match="lacks 'collection'"):
        LocalSource(tmp_path).items()
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.csv").write_text(
        "file,collection,sensor,datetime,bands,kind\n"
        f"{l8s2_dir / L9_FILE},landsat,landsat9,2023-06-30T22:01:55,SR_B2 SR_B3 SR_B4 SR_B5 SR_B6,reflectance\n")
    items = LocalSource(tmp_path).items()
    assert items[0].properties["bands"][0] == "SR_B2"
    assert items[0].time.tzinfo is not None
